/// How a tensor is mapped to a few bits, as data: recorded in plans, saved as JSON, printed.
///
/// Integer (uniform affine, the survey of Gholami et al. 2021, §III):
///
///     q = clamp(round(x / s) + z, q_min, q_max)        x̂ = s · (q − z)
///
/// symmetric: `z = 0`, `q ∈ [−(2^(b−1)−1), 2^(b−1)−1]` (the restricted range, so `−q` is
/// always representable), `s = max|x| / q_max`; asymmetric: `q ∈ [−2^(b−1), 2^(b−1)−1]`,
/// `s = (max − min) / (2^b − 1)` over a range widened to contain 0, `z = q_min − round(min/s)`
/// (PyTorch's observers), so 0 — and with it every pruned weight — is represented exactly.
/// Scales are per tensor, per output channel (axis 0), or per group of `g` consecutive weights
/// along each row (weight-only, "Pareto-Optimal Quantized ResNet Is Mostly 4-bit").
///
/// FP8 (Micikevicius et al. 2022; "FP8 versus INT8"): `x̂ = s · fp8(x / s)` with one scale per
/// tensor, `s = max|x| / max_fp8`. Binary (XNOR-Net, Rastegari et al. 2016): `x̂ = α_c · sign(x)`
/// with `α_c = mean|x|` over output channel `c`, the L2-optimal scale for sign codes.
///
/// Text form (plans, the CLI): `int8-sym-channel`, `int8-asym-tensor`, `int4-g64`,
/// `int3-asym-g32`, `fp8-e4m3`, `fp8-e5m2`, `binary`.
public enum QuantizationScheme: Hashable, Sendable, CustomStringConvertible, Codable {
  /// Which elements share one scale (and zero point).
  public enum Granularity: Hashable, Sendable {
    case perTensor
    /// One per slice of axis 0 (output channel of a weight).
    case perChannel
    /// `size` consecutive elements of each row (weight-only group quantization).
    case group(size: Int)
  }

  case integer(bits: Int, symmetric: Bool, granularity: Granularity)
  case fp8(FP8Format)
  case binary

  /// The common spellings.
  public static func int8(symmetric: Bool = true, perChannel: Bool = true) -> QuantizationScheme {
    .integer(bits: 8, symmetric: symmetric, granularity: perChannel ? .perChannel : .perTensor)
  }

  /// Group-wise weight-only integers, symmetric (the form the packed int4 kernels take).
  public static func grouped(bits: Int, groupSize: Int) -> QuantizationScheme {
    .integer(bits: bits, symmetric: true, granularity: .group(size: groupSize))
  }

  /// Bits stored per element (scales, zero points and sparsity indices not included).
  public var bitsPerElement: Int {
    switch self {
    case .integer(let bits, _, _): return bits
    case .fp8: return 8
    case .binary: return 1
    }
  }

  /// Integer code range `[q_min, q_max]` (FP8: the byte; binary: ±1).
  public var codeRange: ClosedRange<Int> {
    switch self {
    case .integer(let bits, let symmetric, _):
      let half = 1 << (bits - 1)
      return symmetric ? (1 - half)...(half - 1) : -half...(half - 1)
    case .fp8: return -128...127
    case .binary: return -1...1
    }
  }

  public var granularity: Granularity {
    switch self {
    case .integer(_, _, let g): return g
    case .fp8: return .perTensor
    case .binary: return .perChannel
    }
  }

  public var isSymmetric: Bool {
    if case .integer(_, let symmetric, _) = self { return symmetric }
    return true
  }

  /// Checks the scheme's own parameters (bit width, group size) for `layer`.
  public func validate(layer: String) throws(QuantizationError) {
    guard case .integer(let bits, _, let granularity) = self else { return }
    guard (2...8).contains(bits) else { throw .unsupportedBitWidth(layer: layer, bits: bits) }
    if case .group(let size) = granularity, size < 1 {
      throw .groupSizeDoesNotDivide(layer: layer, groupSize: size, rowLength: 0)
    }
  }

  /// Elements sharing one scale in a tensor of `shape`: blocks are contiguous in row-major order.
  public func blockSize(for shape: [Int], layer: String) throws(QuantizationError) -> Int {
    try validate(layer: layer)
    let count = shape.reduce(1, *)
    let rowLength = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : count
    switch granularity {
    case .perTensor: return Swift.max(count, 1)
    case .perChannel: return Swift.max(rowLength, 1)
    case .group(let size):
      guard rowLength % size == 0 else { throw .groupSizeDoesNotDivide(layer: layer, groupSize: size, rowLength: rowLength) }
      return size
    }
  }

  public var description: String {
    switch self {
    case .integer(let bits, let symmetric, let granularity):
      let kind: String
      switch granularity {
      case .perTensor: kind = "tensor"
      case .perChannel: kind = "channel"
      case .group(let size): kind = "g\(size)"
      }
      if case .group = granularity, symmetric { return "int\(bits)-\(kind)" }
      return "int\(bits)-\(symmetric ? "sym" : "asym")-\(kind)"
    case .fp8(let format): return "fp8-\(format.shortName)"
    case .binary: return "binary"
    }
  }

  /// Parses the text form (see the type's documentation).
  public init(parsing text: String) throws(QuantizationError) {
    let parts = text.lowercased().split(separator: "-").map(String.init)
    switch parts.first {
    case "binary" where parts.count == 1: self = .binary
    case "fp8" where parts.count == 2:
      guard let format = FP8Format.allCases.first(where: { $0.shortName == parts[1] }) else { throw .unknownScheme(text) }
      self = .fp8(format)
    case let head? where head.hasPrefix("int"):
      guard let bits = Int(head.dropFirst(3)), parts.count >= 2 else { throw .unknownScheme(text) }
      var symmetric = true, rest = parts.dropFirst()
      if rest.first == "sym" || rest.first == "asym" { symmetric = rest.removeFirst() == "sym" }
      guard rest.count == 1, let granularity = Self.granularity(rest.first!) else { throw .unknownScheme(text) }
      self = .integer(bits: bits, symmetric: symmetric, granularity: granularity)
    default: throw .unknownScheme(text)
    }
  }

  private static func granularity(_ text: String) -> Granularity? {
    switch text {
    case "tensor": return .perTensor
    case "channel": return .perChannel
    default:
      guard text.hasPrefix("g"), let size = Int(text.dropFirst()) else { return nil }
      return .group(size: size)
    }
  }

  public init(from decoder: Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    do { self = try QuantizationScheme(parsing: text) } catch {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
