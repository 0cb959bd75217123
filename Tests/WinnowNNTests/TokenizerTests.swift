import Foundation
import Testing
import WinnowNN
import WinnowTestSupport

/// Reference token ids from Utilities/Reference/make_minilm_fixtures.py (Hugging Face
/// `tokenizers` 0.23.3 on all-MiniLM-L6-v2's tokenizer.json, which sentence-transformers runs).
struct TokenFixture: Decodable {
  let max_length: Int
  let vocabulary_size: Int
  let sentences: [String]
  let ids: [[Int]]
  let vocabulary_subset: [String: Int]

  static func load() throws -> TokenFixture {
    let url = try #require(Bundle.module.url(forResource: "minilm_tokens", withExtension: "json", subdirectory: "Fixtures"))
    return try JSONDecoder().decode(TokenFixture.self, from: Data(contentsOf: url))
  }

  /// The vocabulary with only the tokens the fixture uses at their real ids, other ids filled
  /// with tokens no word can match. Greedy longest match picks the same pieces from it as from
  /// the full vocabulary: every piece it picked there is here, and nothing longer is.
  func subsetVocabulary() throws -> WordPieceVocabulary {
    var tokens = (0..<vocabulary_size).map { "[filler\($0)]" }
    for (token, id) in vocabulary_subset { tokens[id] = token }
    return try WordPieceVocabulary(tokens: tokens, source: "minilm_tokens.json")
  }
}

@Suite struct TokenizerTests {
  @Test func matchesReferenceIDsWithFixtureVocabulary() throws {
    let fixture = try TokenFixture.load()
    let tokenizer = BERTTokenizer(vocabulary: try fixture.subsetVocabulary(), maximumLength: fixture.max_length)
    for (sentence, expected) in zip(fixture.sentences, fixture.ids) {
      #expect(tokenizer.encode(sentence) == expected, "\(sentence.prefix(60).debugDescription)")
    }
  }

  @Test func matchesReferenceIDsWithMiniLMVocabulary() throws {
    guard let directory = miniLMDirectory else { return }  // asset absent: nothing to compare
    let fixture = try TokenFixture.load()
    let vocabulary = try WordPieceVocabulary.read(path: directory + "/vocab.txt")
    #expect(vocabulary.count == fixture.vocabulary_size)
    let tokenizer = BERTTokenizer(vocabulary: vocabulary, maximumLength: fixture.max_length)
    for (sentence, expected) in zip(fixture.sentences, fixture.ids) {
      #expect(tokenizer.encode(sentence) == expected, "\(sentence.prefix(60).debugDescription)")
    }
  }

  @Test func wordPieceSplitsGreedilyAndFallsBackToUnknown() throws {
    let vocabulary = try WordPieceVocabulary(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "!"])
    let tokenizer = BERTTokenizer(vocabulary: vocabulary)
    #expect(tokenizer.encode("UnAffable!") == [2, 4, 5, 6, 8, 3])
    #expect(tokenizer.encode("unaffablex") == [2, 1, 3])  // "##x" missing: the whole word is [UNK]
    #expect(tokenizer.encode("") == [2, 3])
  }

  @Test func batchPadsTruncatesAndMasks() throws {
    let vocabulary = try WordPieceVocabulary(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b"])
    let tokenizer = BERTTokenizer(vocabulary: vocabulary, maximumLength: 4)
    let batch = tokenizer.encodeBatch(["a", "a b a b a", ""])
    #expect(batch.batchSize == 3 && batch.sequenceLength == 4)
    #expect(batch.ids == [2, 4, 3, 0, 2, 4, 5, 3, 2, 3, 0, 0])
    #expect(batch.mask == [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    #expect(batch.lengths == [3, 4, 2])
  }

  @Test func badVocabularyFilesNameFileAndLine() throws {
    func parse(_ text: [UInt8]) -> TokenizerError? {
      do { _ = try WordPieceVocabulary.parse(text, source: "v.txt"); return nil } catch { return error }
    }
    let good = Array("[PAD]\n[UNK]\n[CLS]\n[SEP]\n".utf8)
    #expect(parse(good) == nil)
    #expect(parse(Array("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]".utf8)) == nil)
    #expect(parse(good + [0xFF, 0xFE, 10]) == .badLine(file: "v.txt", line: 5, reason: "not valid UTF-8"))
    #expect(parse(good + Array("\nx\n".utf8)) == .badLine(file: "v.txt", line: 5, reason: "empty token"))
    #expect(parse(good + Array("a b\n".utf8)) == .badLine(file: "v.txt", line: 5, reason: "token 'a b' contains whitespace"))
    #expect(parse(good + Array("[UNK]\n".utf8)) == .duplicateToken(file: "v.txt", token: "[UNK]", firstLine: 2, line: 5))
    #expect(parse(Array("[PAD]\n[CLS]\n[SEP]\n".utf8)) == .missingSpecialToken(file: "v.txt", token: "[UNK]"))
    #expect(throws: TokenizerError.self) { try WordPieceVocabulary.read(path: "/nonexistent/vocab.txt") }
    let message = "\(TokenizerError.badLine(file: "v.txt", line: 5, reason: "not valid UTF-8"))"
    #expect(message == "v.txt:5: not valid UTF-8")
  }
}
