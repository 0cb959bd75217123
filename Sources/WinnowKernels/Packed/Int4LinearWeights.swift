import CWinnowKernels

/// Int4 weight-only linear layer with group-wise scales (and optional zero points) along K.
///
///     W[n, k] = scales[n·G + g] · (code[n, k] − zero[n·G + g]),   g = k / groupSize, G = ⌈K / groupSize⌉
///
/// `zero` is `zeroPoints[n·G + g]` (0…15) when present, else 8 (symmetric codes −8…7 + 8).
/// **Nibble order:** row `n` holds `⌈K/2⌉` bytes starting at `packedCodes[n·⌈K/2⌉]`; byte `j`
/// packs `k = 2j` in its low nibble and `k = 2j + 1` in its high nibble; with K odd the last
/// high nibble is 0. Example, K = 3, group 32, one row with codes `[9, 7, 15]`, scale 0.1, no
/// zero points: `packedCodes = [0x79, 0x0F]`, `W = [0.1, −0.1, 0.7]`.
///
/// `M = 1` (decoding, GEMV) reads the 4-bit codes directly (AVX-512: 32 weights per 16-byte
/// load, a quarter of fp32's memory traffic). `M ≥ 4` dequantizes panels of output rows into a
/// small Float buffer and runs SGEMM on them (the codes stay compressed in memory).
public struct Int4LinearWeights: PackedLinearWeights {
  public let outputFeatures: Int
  public let inputFeatures: Int
  /// Inputs sharing one scale: 32, 64 or 128 (any positive multiple of 32).
  public let groupSize: Int
  /// `N · ⌈K/2⌉` bytes, two codes each (low nibble first).
  public let packedCodes: [UInt8]
  /// `N · G` scales, row by row (finite).
  public let scales: [Float]
  /// `N · G` zero points in 0…15, or nil for the symmetric zero point 8.
  public let zeroPoints: [UInt8]?

  public var groupsPerRow: Int { (inputFeatures + groupSize - 1) / max(1, groupSize) }
  public var bytesPerRow: Int { (inputFeatures + 1) / 2 }

  /// Adopts codes, scales and zero points from an untrusted source, checking them first.
  ///
  /// - Throws: ``SparseFormatError`` (format "int4") naming the problem.
  public init(
    packedCodes: [UInt8], scales: [Float], zeroPoints: [UInt8]? = nil, groupSize: Int,
    outputFeatures n: Int, inputFeatures k: Int
  ) throws {
    func fail(_ problem: String) -> SparseFormatError { SparseFormatError(format: "int4", problem: problem) }
    if n < 0 || k < 0 { throw fail("negative shape \(n)×\(k)") }
    if n > 1 << 30 || k > 1 << 30 { throw fail("shape \(n)×\(k) too large") }
    if groupSize < 32 || groupSize % 32 != 0 { throw fail("group size \(groupSize) is not a positive multiple of 32") }
    let bytes = (k + 1) / 2, groups = (k + groupSize - 1) / groupSize
    if packedCodes.count != n * bytes { throw fail("packedCodes has \(packedCodes.count) bytes, expected \(n) × \(bytes)") }
    if scales.count != n * groups { throw fail("scales has \(scales.count) entries, expected \(n) × \(groups) groups") }
    if let bad = scales.firstIndex(where: { !$0.isFinite }) { throw fail("scale \(bad) is \(scales[bad])") }
    if let zeroPoints {
      if zeroPoints.count != n * groups { throw fail("zeroPoints has \(zeroPoints.count) entries, expected \(n * groups)") }
      if let bad = zeroPoints.firstIndex(where: { $0 > 15 }) { throw fail("zero point \(bad) is \(zeroPoints[bad]), above 15") }
    }
    if k % 2 == 1, let row = (0..<n).first(where: { packedCodes[$0 * bytes + bytes - 1] >> 4 != 0 }) {
      throw fail("row \(row): the high nibble past K = \(k) is not 0")
    }
    (self.packedCodes, self.scales, self.zeroPoints) = (packedCodes, scales, zeroPoints)
    (self.groupSize, self.outputFeatures, self.inputFeatures) = (groupSize, n, k)
  }

  /// Round-to-nearest group-wise quantization of dense `N×K` weights (a convenience for tests
  /// and benchmarks): symmetric `scale = max|w|/7`, codes −7…7 stored + 8; or asymmetric
  /// `scale = (max − min)/15` with a zero point.
  public static func quantizingGroupwise(
    _ dense: [Float], outputFeatures n: Int, inputFeatures k: Int, groupSize: Int, symmetric: Bool = true
  ) -> Int4LinearWeights {
    precondition(dense.count == n * k && dense.allSatisfy(\.isFinite), "dense weights: \(dense.count) finite values for \(n)×\(k)")
    let bytes = (k + 1) / 2, groups = (k + groupSize - 1) / groupSize
    var packed = [UInt8](repeating: 0, count: n * bytes), scales = [Float](repeating: 1, count: n * groups)
    var zeros = [UInt8](repeating: 8, count: n * groups)
    for row in 0..<n {
      for g in 0..<groups {
        let slice = dense[row * k + g * groupSize..<row * k + min(k, (g + 1) * groupSize)]
        let (lo, hi) = (min(0, slice.min() ?? 0), max(0, slice.max() ?? 0))
        let scale = symmetric ? max(-lo, hi) / 7 : (hi - lo) / 15
        let zero = symmetric || scale == 0 ? 8 : Int((-lo / scale).rounded()).clamped(to: 0...15)
        scales[row * groups + g] = scale > 0 ? scale : 1
        zeros[row * groups + g] = UInt8(zero)
        for (offset, value) in slice.enumerated() {
          let c = g * groupSize + offset
          let code = scale > 0 ? (Int((value / scale).rounded()) + zero).clamped(to: 0...15) : zero
          packed[row * bytes + c / 2] |= UInt8(code) << (c % 2 == 0 ? 0 : 4)
        }
      }
    }
    // Sizes and ranges hold by construction.
    return try! Int4LinearWeights(packedCodes: packed, scales: scales, zeroPoints: symmetric ? nil : zeros,
                                  groupSize: groupSize, outputFeatures: n, inputFeatures: k)
  }

  /// The dequantized weights, `N×K` row-major.
  public func dequantized() -> [Float] {
    var w = [Float](repeating: 0, count: outputFeatures * inputFeatures)
    dequantizeRows(0..<outputFeatures, into: &w)
    return w
  }

  func dequantizeRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    packedCodes.withUnsafeBufferPointer { codes in
      scales.withUnsafeBufferPointer { scales in
        withZeroPoints { zeros in
          winnow_q4_dequantize_rows(codes.baseAddress, Int32(inputFeatures), Int32(groupSize), scales.baseAddress, zeros,
                                    Int32(rows.lowerBound), Int32(rows.upperBound), out)
        }
      }
    }
  }

  func withZeroPoints<R>(_ body: (UnsafePointer<UInt8>?) -> R) -> R {
    guard let zeroPoints else { return body(nil) }
    return zeroPoints.withUnsafeBufferPointer { body($0.baseAddress) }
  }

  static let nativeFeatures: CPUFeatures = [.avx512f, .avx512bw, .avx512vl]

  public var packedByteCount: Int { packedCodes.count + scales.count * 4 + (zeroPoints?.count ?? 0) }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  /// Names the M = 1 kernel (M ≥ 4 adds SGEMM on dequantized panels).
  public func kernelName(for path: KernelPath) -> String {
    "q4w_gemv_g\(groupSize)__" + (usesNative(path) ? "avx512" : "scalar")
  }
  func usesNative(_ path: KernelPath) -> Bool {
    KernelDispatch.usesNative(path, requires: Self.nativeFeatures)
  }

  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    multiply(x, m: m, bias: bias, activation: activation, into: y, path: KernelDispatch.defaultPath)
  }
}
