/// Why a file could not be read or written.
///
/// Every case names the file (the path, or the name given to an in-memory `decode`) so that
/// a message reaching the user says which of several files is bad. ``description`` is one
/// English sentence meant for that user:
///
///     model.safetensors: tensor 'fc1.weight' has byte range 0..<4096 past the end of the data (2048 bytes)
public enum FormatError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The operating system refused to open, read, write or rename the file.
  case io(file: String, reason: String)
  /// The file ends before the `expected` total byte count its own header promises.
  case truncated(file: String, expected: Int, actual: Int)
  /// The file goes on after the last byte its header accounts for.
  case trailingBytes(file: String, expected: Int, actual: Int)
  /// The file is damaged or is not in the format at all (bad magic, bad JSON, bad stream).
  case corrupt(file: String, reason: String)
  /// A size in the file exceeds a safety limit, so reading it could exhaust memory.
  case limitExceeded(file: String, what: String, size: Int, limit: Int)
  /// One tensor's header entry is malformed (missing key, wrong JSON type, negative extent).
  case invalidTensorEntry(file: String, tensor: String, reason: String)
  /// A tensor is stored in an element type this reader does not convert.
  case unsupportedDType(file: String, tensor: String, dtype: String)
  /// A tensor's byte range `begin..<end` reaches past the data section of `dataSize` bytes.
  case offsetsOutOfBounds(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
  /// A tensor's byte range is not the size its shape and element type need.
  case byteCountMismatch(file: String, tensor: String, expected: Int, actual: Int)
  /// Two tensors claim some of the same bytes.
  case overlappingTensors(file: String, first: String, second: String)
  /// A tensor has a different shape than the caller needs.
  case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
  /// The caller asked for a tensor the file does not contain.
  case missingTensor(file: String, tensor: String)

  /// The file or stream the error is about.
  public var file: String {
    switch self {
    case .io(let file, _), .truncated(let file, _, _), .trailingBytes(let file, _, _),
      .corrupt(let file, _), .limitExceeded(let file, _, _, _),
      .invalidTensorEntry(let file, _, _), .unsupportedDType(let file, _, _),
      .offsetsOutOfBounds(let file, _, _, _, _), .byteCountMismatch(let file, _, _, _),
      .overlappingTensors(let file, _, _), .shapeMismatch(let file, _, _, _),
      .missingTensor(let file, _):
      return file
    }
  }

  public var description: String { "\(file): \(problem)" }

  /// The message without the file name.
  private var problem: String {
    switch self {
    case .io(_, let reason):
      return reason
    case .truncated(_, let expected, let actual):
      return "file is truncated: expected \(expected) bytes but found only \(actual)"
    case .trailingBytes(_, let expected, let actual):
      let extra = actual - expected
      let noun = extra == 1 ? "byte" : "bytes"
      return "\(extra) unexpected \(noun) after the data (expected \(expected) bytes, found \(actual))"
    case .corrupt(_, let reason):
      return reason
    case .limitExceeded(_, let what, let size, let limit):
      return "\(what) of \(size) bytes exceeds the safety limit of \(limit) bytes"
    case .invalidTensorEntry(_, let tensor, let reason):
      return "tensor '\(tensor)': \(reason)"
    case .unsupportedDType(_, let tensor, let dtype):
      return "tensor '\(tensor)' has unsupported dtype '\(dtype)'"
    case .offsetsOutOfBounds(_, let tensor, let begin, let end, let dataSize):
      return "tensor '\(tensor)' has byte range \(begin)..<\(end) past the end of the data (\(dataSize) bytes)"
    case .byteCountMismatch(_, let tensor, let expected, let actual):
      return "tensor '\(tensor)' occupies \(actual) bytes but its shape and dtype need \(expected)"
    case .overlappingTensors(_, let first, let second):
      return "tensors '\(first)' and '\(second)' overlap in the data section"
    case .shapeMismatch(_, let tensor, let expected, let actual):
      return "tensor '\(tensor)' has shape \(actual) but \(expected) was expected"
    case .missingTensor(_, let tensor):
      return "no tensor named '\(tensor)'"
    }
  }
}
