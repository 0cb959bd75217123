import CWinnowKernels

/// How an integer-weight format turns Float32 activations into integers inside `multiply`.
public enum ActivationQuantization: Sendable, Hashable {
  /// Each token (row of `X`) gets its own uint8 range `[min(0, min x), max(0, max x)]` in 255
  /// steps, computed at run time (no calibration, robust to outliers between tokens).
  case dynamicPerToken
  /// One calibrated scale and zero point for every token: `q = clamp(round(x / scale) + zeroPoint,
  /// 0, 255)`. Faster (no range pass) but clips values outside the calibrated range.
  case calibrated(scale: Float, zeroPoint: Int32)
}

/// Int8 weights with one symmetric Float scale per output channel, run as a uint8 × int8 GEMM
/// with int32 accumulation (AVX-512 VNNI `vpdpbusd` where the CPU has it).
///
///     W[n, k] ≈ scales[n] · codes[n, k]                        (codes in −128…127, N×K row-major)
///     x[m, k] ≈ s_x[m] · (q[m, k] − z[m])                      (q uint8, see ActivationQuantization)
///     Y[m, n] = act(s_x[m]·scales[n]·(Σ_k q[m, k]·codes[n, k] − z[m]·Σ_k codes[n, k]) + bias[n])
///
/// The zero-point correction uses the row sums `Σ_k codes[n, k]`, computed once at load.
/// Example, N = 2, K = 3: `codes = [10, −20, 127,  0, 5, −5]`, `scales = [0.01, 0.5]` stand for
/// `W = [[0.1, −0.2, 1.27], [0, 2.5, −2.5]]`; row sums `[117, 0]`.
///
/// The quantization scheme that produced the codes lives in WinnowCompression; this type only
/// stores and runs them (``quantizingPerChannel(_:outputFeatures:inputFeatures:activationQuantization:)``
/// is a round-to-nearest convenience for tests and benchmarks). At load the codes are also
/// repacked into the kernel's layout (panels of 32 outputs × 4 inputs, see `qs8_gemm.c`).
public struct Int8LinearWeights: PackedLinearWeights {
  public let outputFeatures: Int
  public let inputFeatures: Int
  /// `N×K` int8 codes, row-major (row `n` = output feature `n`).
  public let codes: [Int8]
  /// `N` per-output-channel scales (finite, ≥ 0).
  public let scales: [Float]
  public let activationQuantization: ActivationQuantization
  /// `Σ_k codes[n, k]` for the zero-point correction.
  let rowSums: [Int32]
  /// The VNNI layout of `codes` (empty when this CPU has neither VNNI nor NEON).
  let vnniPanels: [Int8]
  /// The AMX layout of `codes` (empty unless AMX-INT8 is usable here, ``usesAMX``).
  let amxPanels: [Int8]
  /// False keeps this layer on the VNNI kernel even where AMX is usable (benchmarks time both;
  /// ``KernelDispatch/allowsAMX`` turns AMX off for every layer).
  public var allowsAMX = true

  /// Adopts codes and scales from an untrusted source, checking sizes and values first.
  ///
  /// - Throws: ``SparseFormatError`` (format "int8") naming the problem.
  public init(
    codes: [Int8], scales: [Float], outputFeatures: Int, inputFeatures: Int,
    activationQuantization: ActivationQuantization = .dynamicPerToken
  ) throws {
    func fail(_ problem: String) -> SparseFormatError { SparseFormatError(format: "int8", problem: problem) }
    let (n, k) = (outputFeatures, inputFeatures)
    if n < 0 || k < 0 { throw fail("negative shape \(n)×\(k)") }
    if n.multipliedReportingOverflow(by: k).partialValue > Int(Int32.max) || k > 1 << 24 {
      throw fail("shape \(n)×\(k) too large")
    }
    if codes.count != n * k { throw fail("codes has \(codes.count) entries, expected \(n)×\(k) = \(n * k)") }
    if scales.count != n { throw fail("scales has \(scales.count) entries, expected \(n)") }
    if let bad = scales.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
      throw fail("scale \(bad) is \(scales[bad]), expected finite and ≥ 0")
    }
    if case .calibrated(let scale, let zero) = activationQuantization {
      if !(scale.isFinite && scale > 0) { throw fail("activation scale \(scale) is not finite and positive") }
      if !(0...255).contains(zero) { throw fail("activation zero point \(zero) outside 0…255") }
    }
    self.init(unchecked: codes, scales, n, k, activationQuantization)
  }

  private init(
    unchecked codes: [Int8], _ scales: [Float], _ n: Int, _ k: Int, _ activationQuantization: ActivationQuantization
  ) {
    self.outputFeatures = n
    self.inputFeatures = k
    self.codes = codes
    self.scales = scales
    self.activationQuantization = activationQuantization
    self.rowSums = (0..<n).map { row in codes[row * k..<(row + 1) * k].reduce(Int32(0)) { $0 + Int32($1) } }
    if CPUFeatures.current.isSuperset(of: Self.nativeFeatures) {
      var packed = [Int8](repeating: 0, count: winnow_qs8_packed_bytes(Int32(n), Int32(k)))
      codes.withUnsafeBufferPointer { c in
        packed.withUnsafeMutableBufferPointer { winnow_qs8_pack_vnni(c.baseAddress, Int32(n), Int32(k), $0.baseAddress) }
      }
      self.vnniPanels = packed
    } else {
      self.vnniPanels = []
    }
    self.amxPanels = Self.amxAvailable && KernelDispatch.allowsAMX ? Self.packAMX(codes, n, k) : []
  }

  /// True when this CPU and operating system run AMX-INT8 tiles (`winnow_amx_usable`).
  public static let amxAvailable = winnow_amx_usable() != 0

  static func packAMX(_ codes: [Int8], _ n: Int, _ k: Int) -> [Int8] {
    var packed = [Int8](repeating: 0, count: winnow_qs8_amx_packed_bytes(Int32(n), Int32(k)))
    codes.withUnsafeBufferPointer { c in
      packed.withUnsafeMutableBufferPointer { winnow_qs8_pack_amx(c.baseAddress, Int32(n), Int32(k), $0.baseAddress) }
    }
    return packed
  }

  /// Round-to-nearest symmetric per-channel quantization of dense `N×K` weights:
  /// `scales[n] = max_k |W[n, k]| / 127`, `codes = round(W / scale)` (a convenience for tests
  /// and benchmarks; real schemes live in WinnowCompression).
  public static func quantizingPerChannel(
    _ dense: [Float], outputFeatures n: Int, inputFeatures k: Int,
    activationQuantization: ActivationQuantization = .dynamicPerToken
  ) -> Int8LinearWeights {
    precondition(dense.count == n * k, "dense weights: \(dense.count) values for \(n)×\(k)")
    precondition(dense.allSatisfy(\.isFinite), "dense weights must be finite")
    var codes = [Int8](repeating: 0, count: n * k), scales = [Float](repeating: 0, count: n)
    for row in 0..<n {
      let largest = dense[row * k..<(row + 1) * k].reduce(Float(0)) { max($0, abs($1)) }
      scales[row] = largest > 0 ? largest / 127 : 1
      for c in 0..<k {
        codes[row * k + c] = Int8((dense[row * k + c] / scales[row]).rounded().clamped(to: -127...127))
      }
    }
    return Int8LinearWeights(unchecked: codes, scales, n, k, activationQuantization)
  }

  /// AVX-512 VNNI on x86; on arm64 NEON (SDOT where present), which reads the same panels.
  static let nativeFeatures: CPUFeatures =
    KernelDispatch.usesNEON ? .neon : [.avx512f, .avx512bw, .avx512vl, .avx512vnni]

  /// The dequantized weights `scales[n]·codes[n, k]`, `N×K` row-major.
  public func dequantized() -> [Float] {
    (0..<codes.count).map { scales[$0 / max(1, inputFeatures)] * Float(codes[$0]) }
  }

  public var packedByteCount: Int { codes.count + 8 * outputFeatures }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  public func kernelName(for path: KernelPath) -> String {
    guard usesVNNI(path) else { return "qs8_gemm_1x1__scalar" }
    if usesAMX(path) { return "qs8_gemm_32x32__amx" }
    guard KernelDispatch.usesNEON else { return "qs8_gemm_12x32__avx512vnni" }
    return CPUFeatures.current.contains(.neonDotProduct) ? "qs8_gemm_4x16__neondot" : "qs8_gemm_4x16__neon"
  }
  func usesVNNI(_ path: KernelPath) -> Bool { path == .native && !vnniPanels.isEmpty }
  func usesAMX(_ path: KernelPath) -> Bool {
    path == .native && !amxPanels.isEmpty && allowsAMX && KernelDispatch.allowsAMX
  }

  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    multiply(x, m: m, bias: bias, activation: activation, into: y, path: KernelDispatch.defaultPath)
  }
}

extension Comparable {
  @inlinable
  func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
