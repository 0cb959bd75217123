import CWinnowKernels

extension Int8LinearWeights {
  /// Quantizes the activations (uint8, `K` padded to a multiple of 4 with the zero point), then
  /// the int8 GEMM with the fused dequantize + bias + activation epilogue. Native: AVX-512
  /// quantization and the VNNI kernel over panels of 32 outputs (arm64: NEON quantization and
  /// the NEON kernel on the same panels); portable: plain C. Both give
  /// the same uint8 activations and int32 sums; output features are split over threads.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k) = (outputFeatures, inputFeatures)
    guard m > 0, n > 0 else { return }
    // AMX reads activations in 64-byte tiles: rows padded to 64 (zero point meets zero weights).
    let stride = usesAMX(path) ? (k + 63) / 64 * 64 : (k + 3) / 4 * 4
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, m * stride)) { q in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: m) { xScales in
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: m) { xZeros in
          quantizeActivations(x, m: m, stride: stride, native: usesVNNI(path),
                              into: q.baseAddress!, scales: xScales.baseAddress!, zeros: xZeros.baseAddress!)
          gemm(m: m, q: q.baseAddress!, stride: stride, xScales: xScales.baseAddress!, xZeros: xZeros.baseAddress!,
               bias: bias, relu: activation == .relu ? 1 : 0, y: y, native: usesVNNI(path), amx: usesAMX(path))
        }
      }
    }
  }

  private func quantizeActivations(
    _ x: UnsafePointer<Float>, m: Int, stride: Int, native: Bool, into q: UnsafeMutablePointer<UInt8>,
    scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>
  ) {
    let k = inputFeatures
    var (dynamic, scale, zero): (Int32, Float, Int32) = (1, 1, 0)
    if case .calibrated(let s, let z) = activationQuantization { (dynamic, scale, zero) = (0, s, z) }
    let quantize = !native ? winnow_qu8_quantize_rows
      : KernelDispatch.usesNEON ? winnow_qu8_quantize_rows_neon : winnow_qu8_quantize_rows_avx512
    parallelFor(m, minimumPerChunk: max(1, Parallelism.elementwiseGrain / max(1, k))) { tokens in
      let (i, count) = (tokens.lowerBound, Int32(tokens.count))
      quantize(x + i * k, count, Int32(k), Int32(stride), dynamic, scale, zero, q + i * stride, scales + i, zeros + i)
    }
  }

  private func gemm(
    m: Int, q: UnsafePointer<UInt8>, stride: Int, xScales: UnsafePointer<Float>, xZeros: UnsafePointer<Int32>,
    bias: UnsafePointer<Float>?, relu: Int32, y: UnsafeMutablePointer<Float>, native: Bool, amx: Bool
  ) {
    let (n, k) = (outputFeatures, inputFeatures)
    rowSums.withUnsafeBufferPointer { sums in
      scales.withUnsafeBufferPointer { wScales in
        if native {
          let kernel = amx ? winnow_qs8_gemm_amx : KernelDispatch.usesNEON ? winnow_qs8_gemm_neon : winnow_qs8_gemm_vnni
          (amx ? amxPanels : vnniPanels).withUnsafeBufferPointer { panels in
            let count = (n + 31) / 32
            // About 2 M multiply–adds per chunk before a second thread is worth waking.
            parallelFor(count, minimumPerChunk: max(1, (1 << 21) / max(1, m * k * 32))) { chunk in
              kernel(Int32(m), Int32(n), Int32(k), q, Int32(stride), xScales, xZeros, panels.baseAddress,
                     sums.baseAddress, wScales.baseAddress, bias, relu, y, Int32(chunk.lowerBound),
                     Int32(chunk.upperBound))
            }
          }
        } else {
          codes.withUnsafeBufferPointer { codes in
            parallelFor(n, minimumPerChunk: max(1, (1 << 20) / max(1, m * k))) { chunk in
              winnow_qs8_gemm_portable(Int32(m), Int32(n), Int32(k), q, Int32(stride), xScales, xZeros,
                                       codes.baseAddress, sums.baseAddress, wScales.baseAddress, bias, relu, y,
                                       Int32(chunk.lowerBound), Int32(chunk.upperBound))
            }
          }
        }
      }
    }
  }

  /// The AMX kernel's code on the software tile model (`winnow_qs8_gemm_amx_model`), one
  /// thread, on any CPU: how tests check the AMX path on machines without AMX. Activations
  /// are quantized as on every path (rows padded to 64 bytes); the AMX layout is packed here.
  public func multiplyOnAMXTileModel(
    _ x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation
  ) -> [Float] {
    let (n, k) = (outputFeatures, inputFeatures)
    let stride = max(64, (k + 63) / 64 * 64)
    var q = [UInt8](repeating: 0, count: max(1, m * stride))
    var (xScales, xZeros) = ([Float](repeating: 1, count: max(1, m)), [Int32](repeating: 0, count: max(1, m)))
    var y = [Float](repeating: 0, count: m * n)
    guard m > 0, n > 0 else { return y }
    var (dynamic, scale, zero): (Int32, Float, Int32) = (1, 1, 0)
    if case .calibrated(let s, let z) = activationQuantization { (dynamic, scale, zero) = (0, s, z) }
    winnow_qu8_quantize_rows(x, Int32(m), Int32(k), Int32(stride), dynamic, scale, zero, &q, &xScales, &xZeros)
    let panels = Self.packAMX(codes, n, k)
    let relu: Int32 = activation == .relu ? 1 : 0
    winnow_qs8_gemm_amx_model(
      Int32(m), Int32(n), Int32(k), q, Int32(stride), xScales, xZeros, panels, rowSums, scales, bias, relu, &y, 0,
      Int32((n + 31) / 32))
    return y
  }

  /// The slow reference twin: the same activation quantization written in Swift (same Float
  /// operations, so the same uint8 values), exact integer sums, and the epilogue in Double.
  public func referenceMultiply(
    _ x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation
  ) -> [Float] {
    let (n, k) = (outputFeatures, inputFeatures)
    var y = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
      let row = Array(x[i * k..<(i + 1) * k])
      let (scale, zero) = Self.referenceParameters(row, activationQuantization)
      let inverse = 1 / scale
      let q = row.map { value -> Int in
        let t = (value * inverse).clamped(to: Float(-zero)...Float(255 - zero))
        return Int(t.rounded(.toNearestOrEven)) + Int(zero)
      }
      for j in 0..<n {
        var acc = 0
        for p in 0..<k { acc += q[p] * Int(codes[j * k + p]) }
        let centred = acc - Int(zero) * Int(rowSums[j])
        var v = Double(scale) * Double(scales[j]) * Double(centred) + Double(bias?[j] ?? 0)
        if activation == .relu && !(v > 0) { v = 0 }
        y[i * n + j] = Float(v)
      }
    }
    return y
  }

  /// Scale and zero point of one token, as `winnow_qu8_row_parameters` computes them.
  static func referenceParameters(_ row: [Float], _ mode: ActivationQuantization) -> (Float, Int32) {
    if case .calibrated(let scale, let zero) = mode { return (scale, zero) }
    var lo: Float = 0, hi: Float = 0
    for v in row { lo = v < lo ? v : lo; hi = v > hi ? v : hi }
    let range = hi - lo
    guard range > 0 else { return (1, 0) }
    let scale = range / 255
    return (scale, Int32((-lo / scale).rounded(.toNearestOrEven).clamped(to: 0...255)))
  }
}
