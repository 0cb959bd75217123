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
/// **Row blocks (in memory):** the codes are kept as ``blockedCodes``, 16 output rows per
/// block: word `(b·C + c)·16 + r` (`C = G·groupSize/8`) holds the 8 codes of row `16b + r` for
/// inputs `8c…8c+7`, input `8c + j` in bits `4j…4j+3` (rows past N and inputs past K are code
/// 0). These words are the row-major bytes above read 4 at a time (little-endian), transposed
/// so that one 64-byte vector holds 8 inputs of 16 rows. Same example: the row becomes the
/// word `0x0000_0F79` in lane 0 of block 0. ``packedCodes`` rebuilds the row-major bytes.
///
/// `M = 1` (decoding, GEMV) reads the 4-bit codes directly with the 16 rows as SIMD lanes
/// (AVX-512: a shift, a 16-entry table permute and an FMA per 16 weights, a quarter of fp32's
/// memory traffic). `M ≥ 4` dequantizes panels of output rows into a small Float buffer and
/// runs SGEMM on them (the codes stay compressed in memory).
public struct Int4LinearWeights: PackedLinearWeights {
  public let outputFeatures: Int
  public let inputFeatures: Int
  /// Inputs sharing one scale: 32, 64 or 128 (any positive multiple of 32).
  public let groupSize: Int
  /// The codes in the row-block layout (see the type's documentation),
  /// `⌈N/16⌉ · (G·groupSize/8) · 16` words.
  public let blockedCodes: [UInt32]
  /// `scales` in block order, `(b·G + g)·16 + r` (0 for rows past N): 16 rows' scales of one
  /// group are one vector.
  let blockedScales: [Float]
  /// `zero − 8` in block order, or nil for symmetric codes.
  let blockedZeroShifts: [Float]?
  /// `N · G` scales, row by row (finite), rebuilt from the block order.
  public var scales: [Float] { Self.rowOrder(blockedScales, rows: outputFeatures, groups: groupsPerRow) }
  /// `N · G` zero points in 0…15, or nil for the symmetric zero point 8 (rebuilt).
  public var zeroPoints: [UInt8]? {
    blockedZeroShifts.map { Self.rowOrder($0, rows: outputFeatures, groups: groupsPerRow).map { UInt8($0 + 8) } }
  }

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
    (self.groupSize, self.outputFeatures, self.inputFeatures) = (groupSize, n, k)
    let words = (n + 15) / 16 * groups * groupSize / 8 * 16
    blockedCodes = [UInt32](unsafeUninitializedCapacity: words) { buffer, count in
      winnow_q4_pack_blocks(packedCodes, Int32(n), Int32(k), Int32(groupSize), buffer.baseAddress)
      count = words
    }
    blockedScales = Self.blockOrder(scales, rows: n, groups: groups)
    blockedZeroShifts = zeroPoints.map { zeros in Self.blockOrder(zeros.map { Float($0) - 8 }, rows: n, groups: groups) }
  }

  /// Row-major `rows × groups` values to block order `(b·G + g)·16 + r`, zero padded.
  private static func blockOrder(_ values: [Float], rows: Int, groups: Int) -> [Float] {
    var blocked = [Float](repeating: 0, count: (rows + 15) / 16 * groups * 16)
    for row in 0..<rows {
      for g in 0..<groups { blocked[(row / 16 * groups + g) * 16 + row % 16] = values[row * groups + g] }
    }
    return blocked
  }

  private static func rowOrder(_ blocked: [Float], rows: Int, groups: Int) -> [Float] {
    (0..<rows * groups).map { i in blocked[(i / groups / 16 * groups + i % groups) * 16 + i / groups % 16] }
  }

  /// `N · ⌈K/2⌉` bytes, two codes each (low nibble first), rebuilt from ``blockedCodes``
  /// (the storage layout of packed model files).
  public var packedCodes: [UInt8] {
    let count = outputFeatures * bytesPerRow
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      winnow_q4_unpack_blocks(blockedCodes, Int32(outputFeatures), Int32(inputFeatures), Int32(groupSize),
                              buffer.baseAddress)
      initialized = count
    }
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
    winnow_q4_dequantize_rows(blockedCodes, Int32(inputFeatures), Int32(groupSize), blockedScales, blockedZeroShifts,
                              Int32(rows.lowerBound), Int32(rows.upperBound), out)
  }

  static let nativeFeatures: CPUFeatures = KernelDispatch.usesNEON ? .neon : .avx512f

  /// Codes, scales and zero-point shifts as stored in memory (padded to whole 16-row blocks
  /// and groups).
  public var packedByteCount: Int {
    blockedCodes.count * 4 + blockedScales.count * 4 + (blockedZeroShifts?.count ?? 0) * 4
  }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  /// Names the M = 1 kernel (M ≥ 4 adds SGEMM on dequantized panels).
  public func kernelName(for path: KernelPath) -> String {
    "q4w_gemv_g\(groupSize)_16x8__" + (usesNative(path) ? (KernelDispatch.usesNEON ? "neon" : "avx512") : "scalar")
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
