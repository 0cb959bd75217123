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

  public var description: String {
    switch self {
    case .dense: "dense"
    case .csr: "csr"
    case .bsr(let r, let c): "bsr\(r)x\(c)"
    case .int8: "int8"
    case .csrInt8: "csr-int8"
    }
  }

  /// Whether the format skips zero weights.
  public var isSparse: Bool {
    switch self {
    case .csr, .bsr, .csrInt8: true
    case .dense, .int8: false
    }
  }

  /// Whether the format changes the numbers (quantizes) rather than only the storage.
  public var isQuantized: Bool {
    switch self {
    case .int8, .csrInt8: true
    case .dense, .csr, .bsr: false
    }
  }

  /// The format that executes a quantization scheme of WinnowCompression, or an error naming
  /// the layer when the runtime has no kernel for it.
  public init(scheme: QuantizationScheme, layer: String) throws {
    switch scheme {
    case .integer(bits: 8, symmetric: true, granularity: .perChannel), .integer(bits: 8, symmetric: true, granularity: .perTensor):
      self = .int8
    default:
      throw RuntimeError.formatNotApplicable(
        layer: layer, format: scheme.description,
        reason: "the runtime executes int8 symmetric (per channel or per tensor) weights; quantize to int8-channel")
    }
  }

  /// Parses `dense`, `csr`, `bsr4x1` (any `bsrRxC`).
  public init(parsing text: String) throws {
    switch text.lowercased() {
    case "dense": self = .dense
    case "csr": self = .csr
    case "int8": self = .int8
    case "csr-int8": self = .csrInt8
    case let s where s.hasPrefix("bsr"):
      let dims = s.dropFirst(3).split(separator: "x").compactMap { Int($0) }
      guard dims.count == 2, (1...64).contains(dims[0]), (1...64).contains(dims[1]) else {
        throw RuntimeError.unsupportedOperation("block format '\(text)' must be bsrRxC with 1 ≤ R, C ≤ 64")
      }
      self = .bsr(rows: dims[0], columns: dims[1])
    default:
      throw RuntimeError.unsupportedOperation("unknown weight format '\(text)' (dense, csr, bsrRxC, int8, csr-int8)")
    }
  }

  /// The formats that execute `scheme` for a layer of `density` non-zeros: int8 weights run
  /// dense on the int8 GEMM or, when at least half the weights are zero, also as int8 CSR.
  static func candidates(for scheme: QuantizationScheme, layer: String, density: Double) throws -> [WeightFormat] {
    let format = try WeightFormat(scheme: scheme, layer: layer)
    return format == .int8 && density <= 0.5 ? [.int8, .csrInt8] : [format]
  }

  /// The float formats worth timing for a weight matrix of `density` non-zeros.
  static func candidates(density: Double) -> [WeightFormat] {
    // Sparse kernels lose to BLAS well above 50% density: do not spend time measuring them.
    density > 0.5 ? [.dense] : [.dense, .csr, .bsr(rows: 4, columns: 1), .bsr(rows: 1, columns: 4), .bsr(rows: 8, columns: 1)]
  }

  /// Packs `N×K` row-major weights (`values`) in this format; quantized formats quantize
  /// here, after batch norm has been folded into the weights.
  func pack(_ values: [Float], outputFeatures n: Int, inputFeatures k: Int) throws -> any PackedLinearWeights {
    switch self {
    case .int8:
      let q = try QuantizationScheme.int8(symmetric: true, perChannel: true)
        .quantize(Tensor(shape: [n, k], scalars: values), layer: "weights")
      return try Int8LinearWeights(codes: q.codes.scalars, scales: q.scales, outputFeatures: n, inputFeatures: k)
    case .csrInt8: return CSRInt8Matrix(quantizing: values, rows: n, columns: k)
    case .dense: return DenseLinearWeights(values: values, outputFeatures: n, inputFeatures: k)
    case .csr: return CSRMatrix(dense: values, rows: n, columns: k)
    case .bsr(let r, let c): return BSRMatrix(dense: values, rows: n, columns: k, blockRows: r, blockColumns: c)
    }
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
  /// A scheme for every layer the plan does not name.
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
