import WinnowCore

/// BERT's tokenizer: ``BasicTokenizer`` words split into WordPiece pieces, wrapped in
/// `[CLS] … [SEP]`, truncated and padded into batches.
///
/// WordPiece (Wu et al. 2016; Devlin et al. 2019) splits each word greedily, longest match
/// first: the longest prefix in the vocabulary, then the longest continuation `##…` of the
/// rest, and so on. A word with any piece not in the vocabulary, or longer than
/// `maximumWordLength` characters, becomes the single token `[UNK]`.
///
///     "unaffable" → un ##aff ##able      "Hello, world!" → [CLS] hello , world ! [SEP]
///
/// Special token strings in the raw text (`[MASK]`, `[SEP]`, …) are matched before any
/// normalisation and kept as those tokens, as the reference tokenizer does.
public struct BERTTokenizer: Sendable {
  public let vocabulary: WordPieceVocabulary
  public var basic: BasicTokenizer
  /// Longest sequence ``encode(_:)`` returns, `[CLS]` and `[SEP]` included.
  public var maximumLength: Int
  /// Longer words become `[UNK]` without trying to split them.
  public var maximumWordLength = 100
  /// Special tokens recognised in raw text, longest first.
  let specialTokens: [String]

  public init(vocabulary: WordPieceVocabulary, lowercase: Bool = true, maximumLength: Int = 512) {
    precondition(maximumLength >= 2, "a sequence needs room for [CLS] and [SEP]")
    self.vocabulary = vocabulary
    self.basic = BasicTokenizer(lowercase: lowercase)
    self.maximumLength = maximumLength
    let candidates = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"].filter { vocabulary.ids[$0] != nil }
    specialTokens = candidates.sorted { $0.count > $1.count }
  }

  /// Token ids of `text` without `[CLS]`/`[SEP]` and without truncation.
  public func pieceIDs(_ text: String) -> [Int] {
    var ids: [Int] = []
    for (segment, isSpecial) in splitOnSpecialTokens(text) {
      if isSpecial {
        ids.append(vocabulary.ids[segment]!)
        continue
      }
      for word in basic.words(segment) { appendWordPieces(of: word, to: &ids) }
    }
    return ids
  }

  /// `[CLS] pieces [SEP]`, the pieces cut to `maximumLength − 2`.
  public func encode(_ text: String) -> [Int] {
    let pieces = pieceIDs(text).prefix(maximumLength - 2)
    return [vocabulary.classifierID] + pieces + [vocabulary.separatorID]
  }

  /// Encodes `texts` and pads them with `[PAD]` to the longest (at most `maximumLength`).
  public func encodeBatch(_ texts: [String]) -> TokenBatch {
    TokenBatch(sequences: texts.map(encode), paddingID: vocabulary.paddingID)
  }

  /// The pieces of one normalised word, appended to `ids`.
  func appendWordPieces(of word: String, to ids: inout [Int]) {
    let scalars = Array(word.unicodeScalars)
    if scalars.count > maximumWordLength {
      ids.append(vocabulary.unknownID)
      return
    }
    var pieces: [Int] = []
    var start = 0
    while start < scalars.count {
      var end = scalars.count
      var match: Int?
      while end > start {
        var candidate = String(String.UnicodeScalarView(scalars[start..<end]))
        if start > 0 { candidate = "##" + candidate }
        if let id = vocabulary.ids[candidate] {
          match = id
          break
        }
        end -= 1
      }
      guard let match else {
        ids.append(vocabulary.unknownID)
        return
      }
      pieces.append(match)
      start = end
    }
    ids += pieces
  }

  /// `text` cut around exact occurrences of the special tokens: (segment, is it one).
  func splitOnSpecialTokens(_ text: String) -> [(String, Bool)] {
    guard text.contains("[") else { return [(text, false)] }
    var result: [(String, Bool)] = []
    var rest = Substring(text)
    var plain = ""
    while !rest.isEmpty {
      if rest.first == "[", let token = specialTokens.first(where: { rest.hasPrefix($0) }) {
        if !plain.isEmpty { result.append((plain, false)) }
        plain = ""
        result.append((token, true))
        rest = rest.dropFirst(token.count)
      } else {
        plain.append(rest.removeFirst())
      }
    }
    if !plain.isEmpty { result.append((plain, false)) }
    return result
  }
}

/// Token sequences padded to one length, with the attention mask that marks real tokens.
///
///     ids   [[101, 7592, 102,   0],     mask [[1, 1, 1, 0],
///            [101, 2088, 999, 102]]           [1, 1, 1, 1]]      (B = 2, T = 4)
public struct TokenBatch: Sendable, Equatable {
  /// `B×T` token ids, row-major; padded positions hold the padding id.
  public let ids: [Int]
  /// `B×T`: 1 for a real token, 0 for padding.
  public let mask: [Int]
  /// Real tokens per sequence.
  public let lengths: [Int]
  public let batchSize: Int, sequenceLength: Int

  public init(sequences: [[Int]], paddingID: Int) {
    batchSize = sequences.count
    sequenceLength = sequences.map(\.count).max() ?? 0
    lengths = sequences.map(\.count)
    var ids: [Int] = [], mask: [Int] = []
    ids.reserveCapacity(batchSize * sequenceLength)
    mask.reserveCapacity(batchSize * sequenceLength)
    for sequence in sequences {
      let padding = sequenceLength - sequence.count
      ids += sequence
      ids += repeatElement(paddingID, count: padding)
      mask += repeatElement(1, count: sequence.count)
      mask += repeatElement(0, count: padding)
    }
    self.ids = ids
    self.mask = mask
  }
}
