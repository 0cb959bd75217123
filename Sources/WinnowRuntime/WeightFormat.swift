import WinnowCompression
import WinnowCore
import WinnowKernels

/// How one layer's weights are stored and multiplied in a compiled program.
public enum WeightFormat: Hashable, Sendable, CustomStringConvertible {
  /// Float32 on the platform BLAS.
  case dense
  /// Compressed sparse rows: one value and one column index per non-zero.
  case csr
  /// Block-sparse rows with `rows × columns` blocks (zero blocks are not stored).
  case bsr(rows: Int, columns: Int)
  /// Int8 weights with a symmetric scale per output channel; activations quantized per token
  /// at run time (uint8), products in int32 (VNNI where present).
  case int8
  /// CSR structure with int8 values and a scale per row (weight-only: activations stay Float32).
  case csrInt8
  /// N:M structured sparsity: `n` values and their in-group positions per group of `m` inputs.
  case nm(n: Int, m: Int)
  /// Int4 weight-only, symmetric, one scale per `groupSize` inputs of a row.
  case int4(groupSize: Int)
  /// Sign bits and a scale per output channel; activations binarised per token (XNOR-Net).
  case binary

  public var description: String {
    switch self {
    case .dense: "dense"
    case .csr: "csr"
    case .bsr(let r, let c): "bsr\(r)x\(c)"
    case .int8: "int8"
    case .csrInt8: "csr-int8"
    case .nm(let n, let m): "\(n):\(m)"
    case .int4(let g): "int4-g\(g)"
    case .binary: "binary"
    }
  }

  /// Whether the format skips zero weights.
  public var isSparse: Bool {
    switch self {
    case .csr, .bsr, .csrInt8, .nm: true
    case .dense, .int8, .int4, .binary: false
    }
  }

  /// Whether the format changes the numbers (quantizes) rather than only the storage.
  public var isQuantized: Bool {
    switch self {
    case .int8, .csrInt8, .int4, .binary: true
    case .dense, .csr, .bsr, .nm: false
    }
  }

  /// The format that executes a quantization scheme of WinnowCompression, or an error naming
  /// the layer when the runtime has no kernel for it.
  public init(scheme: QuantizationScheme, layer: String) throws {
    switch scheme {
    case .integer(bits: 8, symmetric: true, granularity: .perChannel), .integer(bits: 8, symmetric: true, granularity: .perTensor):
      self = .int8
    case .integer(bits: 4, symmetric: true, granularity: .group(let size)) where size >= 32 && size % 32 == 0:
      self = .int4(groupSize: size)
    case .binary:
      self = .binary
    default:
      throw RuntimeError.formatNotApplicable(
        layer: layer, format: scheme.description,
        reason: "the runtime executes int8 symmetric (int8-channel, int8-tensor), int4 symmetric in groups of a multiple of 32 (int4-g32/g64/g128) and binary weights")
    }
  }

  /// Parses `dense`, `csr`, `bsr4x1` (any `bsrRxC`).
  public init(parsing text: String) throws {
    switch text.lowercased() {
    case "dense": self = .dense
    case "csr": self = .csr
    case "int8": self = .int8
    case "csr-int8": self = .csrInt8
    case "binary": self = .binary
    case let s where s.hasPrefix("int4-g"):
      guard let g = Int(s.dropFirst(6)), g >= 32, g % 32 == 0, g <= 4096 else {
        throw RuntimeError.unsupportedOperation("int4 group size in '\(text)' must be a multiple of 32")
      }
      self = .int4(groupSize: g)
    case let s where s.contains(":"):
      let parts = s.split(separator: ":").compactMap { Int($0) }
      guard parts.count == 2, (1...16).contains(parts[1]), (1...parts[1]).contains(parts[0]) else {
        throw RuntimeError.unsupportedOperation("N:M format '\(text)' needs 1 ≤ n ≤ m ≤ 16")
      }
      self = .nm(n: parts[0], m: parts[1])
    case let s where s.hasPrefix("bsr"):
      let dims = s.dropFirst(3).split(separator: "x").compactMap { Int($0) }
      guard dims.count == 2, (1...64).contains(dims[0]), (1...64).contains(dims[1]) else {
        throw RuntimeError.unsupportedOperation("block format '\(text)' must be bsrRxC with 1 ≤ R, C ≤ 64")
      }
      self = .bsr(rows: dims[0], columns: dims[1])
    default:
      throw RuntimeError.unsupportedOperation("unknown weight format '\(text)' (dense, csr, bsrRxC, n:m, int8, csr-int8, int4-gG, binary)")
    }
  }

  /// The formats that execute `scheme` for a layer of `density` non-zeros: int8 weights run
  /// dense on the int8 GEMM or, when at least half the weights are zero, also as int8 CSR.
  static func candidates(for scheme: QuantizationScheme, layer: String, density: Double) throws -> [WeightFormat] {
    let format = try WeightFormat(scheme: scheme, layer: layer)
    return format == .int8 && density <= 0.5 ? [.int8, .csrInt8] : [format]
  }

  /// The float formats worth timing for `N×K` weights: dense, and the sparse ones when at
  /// most half the weights are non-zero (above that BLAS always wins), with N:M when every
  /// group already fits a 2:4, 1:4 or 4:8 pattern.
  static func candidates(weights: [Float], inputFeatures k: Int) -> [WeightFormat] {
    let density = Double(weights.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }) / Double(max(1, weights.count))
    guard density <= 0.5 else { return [.dense] }
    let pattern = [(1, 4), (2, 4), (4, 8)].first { fitsNM(weights, inputFeatures: k, n: $0.0, m: $0.1) }
    return [.dense, .csr, .bsr(rows: 4, columns: 1), .bsr(rows: 1, columns: 4), .bsr(rows: 8, columns: 1)]
      + (pattern.map { [.nm(n: $0.0, m: $0.1)] } ?? [])
  }
}

/// How the compiler picks a layer's format when the options do not name one.
public enum FormatChoice: Hashable, Sendable {
  /// Time every candidate format on the layer's real shape at `batch` and keep the fastest.
  case fastest(batch: Int)
  /// Use this format for every layer.
  case fixed(WeightFormat)
  /// Keep the candidate with the fewest packed bytes (the smallest file), without timing.
  case smallest
}

/// What the compiler is asked to do.
public struct CompileOptions: Sendable {
  /// Formats for named layers (`conv1`, `fc2`); others follow ``choice``.
  public var formats: [String: WeightFormat]
  public var choice: FormatChoice
  /// Quantization schemes by layer (a ``QuantizationPlan``'s layers); they override
  /// ``formats`` and ``choice`` for those layers.
  public var quantization: [String: QuantizationScheme]
  /// A scheme for every layer that neither the plan nor ``formats`` names.
  public var quantizeAll: QuantizationScheme?

  public init(
    formats: [String: WeightFormat] = [:], choice: FormatChoice = .fastest(batch: 1),
    quantization: [String: QuantizationScheme] = [:], quantizeAll: QuantizationScheme? = nil
  ) {
    self.formats = formats
    self.choice = choice
    self.quantization = quantization
    self.quantizeAll = quantizeAll
  }
}
