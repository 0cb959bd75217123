import CWinnowKernels

/// Binary weights with one Float scale per output channel, run XNOR-Net style on sign bits of
/// the activations (Rastegari et al., *XNOR-Net*, ECCV 2016):
///
///     W[n, k] ≈ α[n] · s_w[n, k],   s_w = +1 where the bit is set, −1 where it is clear
///     x[m, k] ≈ β[m] · s_x[m, k],   s_x = +1 where x ≥ 0 (zero counts as +1), β[m] = mean_k |x[m, k]|
///     Y[m, n] = act(α[n]·β[m]·(K − 2·popcount(w_bits[n] ⊕ x_bits[m])) + bias[n])
///
/// Layout: `signs` holds `⌈K/64⌉` UInt64 words per output row; bit `i` of word `j` of row `n` is
/// the sign of `W[n, 64j + i]`; bits at or past K must be 0. Example, K = 3, one row
/// `W = [0.5, −0.2, 0.1]`: `signs = [0b101]` (bits 0 and 2 set), `α = [0.2667]` (mean |w|).
/// Where the VPOPCNTDQ kernel runs, the rows are instead kept interleaved in panels of 8 (one
/// layout in memory, 1 bit per weight plus padding to 8 rows); `signs` is rebuilt on demand.
///
/// Unlike the other formats this one is not an exact encoding of some dense `W` times the exact
/// `X`: the activations are binarised too, so its tests compare with a Swift reference on the
/// unpacked ±1 signs (``referenceMultiply(_:m:bias:activation:)``), not with `X·Wᵀ`.
public struct BinaryLinearWeights: PackedLinearWeights {
  public let outputFeatures: Int
  public let inputFeatures: Int
  /// `N · ⌈K/64⌉` sign words, row by row (rebuilt from the panels when those are kept).
  public var signs: [UInt64] {
    guard interleaved else { return signWords }
    var signs = [UInt64](repeating: 0, count: outputFeatures * wordsPerRow)
    signWords.withUnsafeBufferPointer { winnow_xnor_unpack_panels($0.baseAddress, Int32(outputFeatures), Int32(wordsPerRow), &signs) }
    return signs
  }
  /// `N` per-output-channel scales α (finite).
  public let scales: [Float]
  /// The one layout kept: 8-row panels (`interleaved`, where this CPU has AVX-512 VPOPCNTDQ:
  /// `panel[(p·W + w)·8 + r]` = word w of row 8p + r, zero past N) or the row-major `signs`.
  let signWords: [UInt64]
  let interleaved: Bool

  public var wordsPerRow: Int { (inputFeatures + 63) / 64 }

  /// Adopts sign words and scales from an untrusted source, checking them first.
  ///
  /// - Throws: ``SparseFormatError`` (format "binary") naming the problem.
  public init(signs: [UInt64], scales: [Float], outputFeatures n: Int, inputFeatures k: Int) throws {
    func fail(_ problem: String) -> SparseFormatError { SparseFormatError(format: "binary", problem: problem) }
    if n < 0 || k < 0 { throw fail("negative shape \(n)×\(k)") }
    if k > 1 << 30 || n > 1 << 30 { throw fail("shape \(n)×\(k) too large") }
    let words = (k + 63) / 64
    if signs.count != n * words { throw fail("signs has \(signs.count) words, expected \(n) rows × \(words)") }
    if scales.count != n { throw fail("scales has \(scales.count) entries, expected \(n)") }
    if let bad = scales.firstIndex(where: { !$0.isFinite }) { throw fail("scale \(bad) is \(scales[bad])") }
    if k % 64 != 0 {
      let padding = ~UInt64(0) << UInt64(k % 64)
      if let row = (0..<n).first(where: { signs[$0 * words + words - 1] & padding != 0 }) {
        throw fail("row \(row) has sign bits set past K = \(k)")
      }
    }
    self.init(unchecked: signs, scales, n, k)
  }

  private init(unchecked signs: [UInt64], _ scales: [Float], _ n: Int, _ k: Int) {
    (self.scales, self.outputFeatures, self.inputFeatures) = (scales, n, k)
    if !KernelDispatch.usesNEON && CPUFeatures.current.isSuperset(of: Self.nativeFeatures) && n > 0 {
      let words = (k + 63) / 64
      var packed = [UInt64](repeating: 0, count: (n + 7) / 8 * 8 * words)
      signs.withUnsafeBufferPointer { s in
        packed.withUnsafeMutableBufferPointer { winnow_xnor_pack_panels(s.baseAddress, Int32(n), Int32(words), $0.baseAddress) }
      }
      (signWords, interleaved) = (packed, true)
    } else {
      (signWords, interleaved) = (signs, false)
    }
  }

  /// XNOR-Net binarisation of dense `N×K` weights: signs of `W`, `α[n] = mean_k |W[n, k]|`.
  public static func binarizing(_ dense: [Float], outputFeatures n: Int, inputFeatures k: Int) -> BinaryLinearWeights {
    precondition(dense.count == n * k && dense.allSatisfy(\.isFinite), "dense weights: \(dense.count) finite values for \(n)×\(k)")
    let words = (k + 63) / 64
    var signs = [UInt64](repeating: 0, count: n * words), scales = [Float](repeating: 0, count: n)
    for row in 0..<n {
      var sum: Float = 0
      for c in 0..<k {
        if dense[row * k + c] >= 0 { signs[row * words + c / 64] |= 1 << UInt64(c % 64) }
        sum += abs(dense[row * k + c])
      }
      scales[row] = k > 0 ? sum / Float(k) : 0
    }
    return BinaryLinearWeights(unchecked: signs, scales, n, k)
  }

  /// AVX-512 VPOPCNTDQ on 8-row panels (x86); on arm64 NEON CNT on the row-major signs.
  static let nativeFeatures: CPUFeatures = [.avx512f, .avx512vl, .avx512vpopcntdq]

  /// Bytes kept in memory: the sign words (padded to 8 rows when interleaved) and the scales.
  public var packedByteCount: Int { signWords.count * 8 + scales.count * 4 }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  public func kernelName(for path: KernelPath) -> String {
    guard usesNative(path) else { return "xnor_gemm_1x1__scalar" }
    return KernelDispatch.usesNEON ? "xnor_gemm_1x1__neon" : "xnor_gemm_4x16__avx512vpopcntdq"
  }
  func usesNative(_ path: KernelPath) -> Bool { path == .native && (KernelDispatch.usesNEON || interleaved) }

  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    multiply(x, m: m, bias: bias, activation: activation, into: y, path: KernelDispatch.defaultPath)
  }

  /// Binarises the tokens (`O(M·K)`; AVX-512 or NEON compares on the native path), then the XNOR-popcount GEMM with the epilogue
  /// fused; output rows split over threads.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k, words) = (outputFeatures, inputFeatures, wordsPerRow)
    guard m > 0, n > 0 else { return }
    let relu: Int32 = activation == .relu ? 1 : 0
    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(1, m * words)) { bits in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: m) { betas in
        let binarize = !usesNative(path) ? winnow_binarize_rows
          : KernelDispatch.usesNEON ? winnow_binarize_rows_neon : winnow_binarize_rows_avx512
        binarize(x, Int32(m), Int32(k), bits.baseAddress, betas.baseAddress)
        let (bits, betas) = (UnsafePointer(bits.baseAddress!), UnsafePointer(betas.baseAddress!))
        scales.withUnsafeBufferPointer { alphas in
          if usesNative(path) && !KernelDispatch.usesNEON {
            signWords.withUnsafeBufferPointer { panels in
              let pairs = (n + 15) / 16
              parallelFor(pairs, minimumPerChunk: max(1, (1 << 16) / max(1, m * words * 16))) { chunk in
                winnow_xnor_gemm_avx512(Int32(m), Int32(n), Int32(k), bits, betas, panels.baseAddress, alphas.baseAddress,
                                        bias, relu, y, Int32(chunk.lowerBound), Int32(chunk.upperBound))
              }
            }
          } else {
            let kernel = usesNative(path) ? winnow_xnor_gemm_neon
              : interleaved ? winnow_xnor_gemm_portable_panels : winnow_xnor_gemm_portable
            signWords.withUnsafeBufferPointer { signs in
              parallelFor(n, minimumPerChunk: max(1, (1 << 14) / max(1, m * words))) { chunk in
                kernel(Int32(m), Int32(n), Int32(k), bits, betas, signs.baseAddress, alphas.baseAddress,
                       bias, relu, y, Int32(chunk.lowerBound), Int32(chunk.upperBound))
              }
            }
          }
        }
      }
    }
  }

  /// The dense twin of the weights, `W[n, k] = α[n]·s_w[n, k]` (row-major `N×K`).
  public func dense() -> [Float] {
    let (n, k, words, signs) = (outputFeatures, inputFeatures, wordsPerRow, signs)
    return (0..<(n * k)).map { i in
      let (r, c) = (i / max(1, k), i % max(1, k))
      return (signs[r * words + c / 64] >> UInt64(c % 64)) & 1 == 1 ? scales[r] : -scales[r]
    }
  }

  /// The reference twin on unpacked ±1 signs, in Double: `α·β·Σ_k s_w·s_x + bias`.
  public func referenceMultiply(_ x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation) -> [Float] {
    let (n, k, words, signs) = (outputFeatures, inputFeatures, wordsPerRow, signs)
    var y = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
      let row = x[i * k..<(i + 1) * k]
      let beta = k > 0 ? row.reduce(0.0) { $0 + Double(abs($1)) } / Double(k) : 0
      for j in 0..<n {
        var dot = 0
        for (c, value) in row.enumerated() {
          let weightSign = signs[j * words + c / 64] >> UInt64(c % 64) & 1 == 1 ? 1 : -1
          dot += weightSign * (value >= 0 ? 1 : -1)
        }
        var v = Double(scales[j]) * beta * Double(dot) + Double(bias?[j] ?? 0)
        if activation == .relu && !(v > 0) { v = 0 }
        y[i * n + j] = Float(v)
      }
    }
    return y
  }
}
