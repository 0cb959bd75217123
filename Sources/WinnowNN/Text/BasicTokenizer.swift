import Foundation

/// BERT's text normalisation and pre-tokenisation: text in, words and punctuation out.
///
/// The steps of Devlin et al. (2019, `BasicTokenizer`), in the order of the Hugging Face
/// `tokenizers` `BertNormalizer` + `BertPreTokenizer` that sentence-transformers runs:
///
/// 1. clean: drop NUL, U+FFFD and control characters (category C*, except tab, newline and
///    carriage return); turn those three and space separators (Zs) into spaces;
/// 2. put spaces around CJK ideographs, so each becomes a word of its own;
/// 3. with `lowercase`: strip accents (canonical decomposition NFD, then drop nonspacing
///    marks, category Mn), then lower-case each character (no context rules such as the
///    Greek final sigma, as in the reference);
/// 4. split on whitespace, and make every punctuation character (ASCII symbols and
///    category P*) a word of its own.
///
///     "Héllo, 世界!"  →  ["hello", ",", "世", "界", "!"]
public struct BasicTokenizer: Sendable {
  public var lowercase: Bool

  public init(lowercase: Bool = true) { self.lowercase = lowercase }

  /// The words of `text` after normalisation.
  public func words(_ text: String) -> [String] {
    var words: [String] = []
    var current = String.UnicodeScalarView()
    func finishWord() {
      if !current.isEmpty { words.append(String(current)) }
      current = String.UnicodeScalarView()
    }
    for scalar in normalized(text).unicodeScalars {
      if scalar.properties.isWhitespace {
        finishWord()
      } else if Self.isPunctuation(scalar) {
        finishWord()
        words.append(String(scalar))
      } else {
        current.append(scalar)
      }
    }
    finishWord()
    return words
  }

  /// Steps 1–3: the text the word splitting sees.
  public func normalized(_ text: String) -> String {
    var cleaned = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      if Self.isBERTWhitespace(scalar) {
        cleaned.append(" ")
      } else if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) {
        continue
      } else if Self.isCJKIdeograph(scalar) {
        cleaned.append(" ")
        cleaned.append(scalar)
        cleaned.append(" ")
      } else {
        cleaned.append(scalar)
      }
    }
    guard lowercase else { return String(cleaned) }
    var result = String(cleaned)
    if result.unicodeScalars.contains(where: { !$0.isASCII }) {
      // NFD only where needed: it is the slow step, and ASCII text is already decomposed.
      let decomposed = result.decomposedStringWithCanonicalMapping.unicodeScalars
      result = String(String.UnicodeScalarView(decomposed.filter { $0.properties.generalCategory != .nonspacingMark }))
    }
    var lowered = String.UnicodeScalarView()
    for scalar in result.unicodeScalars {
      if scalar.isASCII {
        let v = scalar.value
        lowered.append((65...90).contains(v) ? Unicode.Scalar(v + 32)! : scalar)
      } else {
        lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
      }
    }
    return String(lowered)
  }

  /// Tab, newline, carriage return, space, and space separators (Zs).
  static func isBERTWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case " ", "\t", "\n", "\r": true
    default: scalar.properties.generalCategory == .spaceSeparator
    }
  }

  /// Categories Cc, Cf, Cs, Co, Cn (tab, newline and carriage return are whitespace instead).
  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned: true
    default: false
    }
  }

  /// ASCII punctuation and symbols (`!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` and the backquote),
  /// and every Unicode punctuation category (P*).
  static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
    let v = scalar.value
    if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
      return true
    }
    switch scalar.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
      .initialPunctuation, .finalPunctuation, .otherPunctuation:
      return true
    default: return false
    }
  }

  /// The CJK Unified Ideographs blocks and their extensions and compatibility blocks (the
  /// ranges BERT uses; Hangul, Hiragana and Katakana are not among them).
  static func isCJKIdeograph(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
      0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
      true
    default: false
    }
  }
}
