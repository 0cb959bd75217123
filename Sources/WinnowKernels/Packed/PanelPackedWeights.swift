import CWinnowKernels

/// Dense Float32 weights packed once into panels of 32 output features for Winnow's own
/// AVX-512 GEMM (`f32_gemm_12x32__avx512`, `Sources/CWinnowKernels/packed_gemm.c`).
///
///     W (N×K, row-major)  →  panel p: K rows of 32 values W[32p + j][k], j = 0..<32 (0 past N)
///
///     N = 40, K = 3:  panel 0 = W[0..<32] column by column (3 × 32 values),
///                     panel 1 = W[32..<40] and 24 zeros per k (3 × 32 values)
///
/// A 12×32 tile of the output lives in 24 vector registers while K streams by, so there is
/// no per-call packing of the weights (the constant operand) at all. Only built where
/// ``isAvailable``; ``best(values:outputFeatures:inputFeatures:)`` falls back to BLAS.
public struct PanelPackedWeights: PackedLinearWeights {
  public let outputFeatures: Int
  public let inputFeatures: Int
  /// The packed panels, `ceil(N/32)·32·K` values.
  public let packed: [Float]

  /// Whether this CPU runs the kernel (AVX-512F).
  public static var isAvailable: Bool { winnow_packed_gemm_available() != 0 }

  public init(values: [Float], outputFeatures: Int, inputFeatures: Int) {
    precondition(values.count == outputFeatures * inputFeatures, "\(values.count) values for \(outputFeatures)×\(inputFeatures) weights")
    precondition(Self.isAvailable, "PanelPackedWeights needs AVX-512F; use best(values:…) for a fallback")
    self.outputFeatures = outputFeatures
    self.inputFeatures = inputFeatures
    var packed = [Float](repeating: 0, count: winnow_packed_weights_count(outputFeatures, inputFeatures))
    values.withUnsafeBufferPointer { w in
      packed.withUnsafeMutableBufferPointer {
        winnow_pack_weights_f32(w.baseAddress, outputFeatures, inputFeatures, inputFeatures, $0.baseAddress)
      }
    }
    self.packed = packed
  }

  /// Panel-packed weights where the CPU runs them, else dense BLAS weights.
  public static func best(values: [Float], outputFeatures: Int, inputFeatures: Int) -> any PackedLinearWeights {
    isAvailable
      ? PanelPackedWeights(values: values, outputFeatures: outputFeatures, inputFeatures: inputFeatures)
      : DenseLinearWeights(values: values, outputFeatures: outputFeatures, inputFeatures: inputFeatures)
  }

  public var kernelName: String { "f32_gemm_12x32__avx512" }
  public var packedByteCount: Int { packed.count * MemoryLayout<Float>.size }

  /// Splits the panels over `Parallelism.threads` when the product is large enough.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    let (n, k) = (outputFeatures, inputFeatures)
    guard m > 0, n > 0 else { return }
    let panels = (n + 31) / 32
    // About 1 M multiply–adds per chunk: below that a worker's wake-up costs more than it saves.
    let panelsPerChunk = max(1, (1 << 20) / max(1, m * k * 32))
    packed.withUnsafeBufferPointer { p in
      parallelFor(panels, minimumPerChunk: panelsPerChunk) { range in
        winnow_packed_gemm_f32(x, m, k, k, p.baseAddress, n, bias, y, n, range.lowerBound, range.upperBound)
      }
    }
    activation.apply(y, count: m * n)
  }
}

/// The panel-packed GEMM on strided operands, for products whose right operand changes every
/// call (attention: `Q·Kᵀ` and `P·V` per sequence and head), so packing it is part of the call.
///
///     y[m×n] (row stride ldy) = x[m×k] (row stride lda) · Wᵀ,   W packed by ``pack`` or ``packTransposed``
///
/// Single-threaded; only where ``PanelPackedWeights/isAvailable``.
public enum PanelGEMM {
  /// Floats a packed `n×k` operand takes.
  public static func packedCount(n: Int, k: Int) -> Int { winnow_packed_weights_count(n, k) }

  /// Packs `W` (`n×k`, row `r` at `w + r·ldw`).
  public static func pack(_ w: UnsafePointer<Float>, n: Int, k: Int, ldw: Int, into packed: UnsafeMutablePointer<Float>) {
    winnow_pack_weights_f32(w, n, k, ldw, packed)
  }

  /// Packs `W = Vᵀ` for `V` (`k×n`, row `r` at `v + r·ldv`): the right operand of `x·V`.
  public static func packTransposed(_ v: UnsafePointer<Float>, k: Int, n: Int, ldv: Int, into packed: UnsafeMutablePointer<Float>) {
    winnow_pack_transposed_f32(v, k, n, ldv, packed)
  }

  /// `y = x·Wᵀ` over every output panel, on the calling thread.
  public static func multiply(
    _ x: UnsafePointer<Float>, m: Int, k: Int, lda: Int, packed: UnsafePointer<Float>, n: Int,
    into y: UnsafeMutablePointer<Float>, ldy: Int
  ) {
    precondition(PanelPackedWeights.isAvailable, "PanelGEMM needs AVX-512F")
    winnow_packed_gemm_f32(x, m, k, lda, packed, n, nil, y, ldy, 0, (n + 31) / 32)
  }
}
