import Foundation
import WinnowCore

/// Why a tokenizer vocabulary could not be loaded; every case names the file.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file could not be opened or read.
  case unreadable(file: String, reason: String)
  /// Line `line` (1-based) is not a token: invalid UTF-8, empty, or containing whitespace.
  case badLine(file: String, line: Int, reason: String)
  /// The same token appears on two lines.
  case duplicateToken(file: String, token: String, firstLine: Int, line: Int)
  /// A token the tokenizer needs (`[UNK]`, `[CLS]`, `[SEP]`, `[PAD]`) is not in the file.
  case missingSpecialToken(file: String, token: String)

  public var description: String {
    switch self {
    case .unreadable(let file, let reason): "\(file): cannot read the vocabulary: \(reason)"
    case .badLine(let file, let line, let reason): "\(file):\(line): \(reason)"
    case .duplicateToken(let file, let token, let first, let line):
      "\(file):\(line): token '\(token)' already appears on line \(first)"
    case .missingSpecialToken(let file, let token): "\(file): the vocabulary has no '\(token)' token"
    }
  }
}

/// A WordPiece vocabulary: token strings and their ids, in the `vocab.txt` layout of BERT.
///
///     [PAD]        ← id 0 (line 1)
///     [unused0]    ← id 1
///     …
///     the          ← id 1996
///     ##s          ← id 2015: "##" marks a piece that continues a word
///
/// One token per line, id = line number − 1; a final newline is optional, `\r\n` endings
/// are accepted.
public struct WordPieceVocabulary: Sendable {
  /// Token strings by id.
  public let tokens: [String]
  /// Ids by token string.
  public let ids: [String: Int]
  /// Ids of the special tokens.
  public let unknownID: Int, classifierID: Int, separatorID: Int, paddingID: Int

  /// The tokens the tokenizer itself inserts; each must be in the vocabulary.
  public static let requiredSpecialTokens = ["[UNK]", "[CLS]", "[SEP]", "[PAD]"]

  /// Builds a vocabulary from tokens in id order; `source` names it in errors.
  public init(tokens: [String], source: String = "(in memory)") throws(TokenizerError) {
    var ids: [String: Int] = [:]
    ids.reserveCapacity(tokens.count)
    for (id, token) in tokens.enumerated() {
      if token.isEmpty { throw .badLine(file: source, line: id + 1, reason: "empty token") }
      if token.unicodeScalars.contains(where: \.properties.isWhitespace) {
        throw .badLine(file: source, line: id + 1, reason: "token '\(token)' contains whitespace")
      }
      if let first = ids[token] {
        throw .duplicateToken(file: source, token: token, firstLine: first + 1, line: id + 1)
      }
      ids[token] = id
    }
    func special(_ token: String) throws(TokenizerError) -> Int {
      guard let id = ids[token] else { throw .missingSpecialToken(file: source, token: token) }
      return id
    }
    unknownID = try special("[UNK]")
    classifierID = try special("[CLS]")
    separatorID = try special("[SEP]")
    paddingID = try special("[PAD]")
    self.tokens = tokens
    self.ids = ids
  }

  /// Reads `vocab.txt` at `path`.
  public static func read(path: String) throws(TokenizerError) -> WordPieceVocabulary {
    let bytes: [UInt8]
    do { bytes = try readFileBytes(path) } catch { throw .unreadable(file: path, reason: "\(error)") }
    return try parse(bytes, source: path)
  }

  /// Parses the bytes of a `vocab.txt`; `source` names them in errors.
  public static func parse(_ bytes: [UInt8], source: String) throws(TokenizerError) -> WordPieceVocabulary {
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends a line
    var tokens: [String] = []
    tokens.reserveCapacity(lines.count)
    for (index, var line) in lines.enumerated() {
      if line.last == UInt8(ascii: "\r") { line.removeLast() }
      guard let token = String(validating: line, as: UTF8.self) else {
        throw .badLine(file: source, line: index + 1, reason: "not valid UTF-8")
      }
      tokens.append(token)
    }
    return try WordPieceVocabulary(tokens: tokens, source: source)
  }

  public var count: Int { tokens.count }
}
