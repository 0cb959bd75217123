import CWinnowKernels

extension Int4LinearWeights {
  /// Fewer than 4 tokens: one GEMV per token on the 4-bit codes (AVX-512, NEON or portable C).
  /// Otherwise panels of output rows are dequantized into a thread's Float buffer (≤ 1 MB)
  /// and multiplied with SGEMM; bias and activation follow on the panel. Both split 16-row
  /// blocks over threads.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k) = (outputFeatures, inputFeatures)
    guard m > 0, n > 0 else { return }
    if m < 4 {
      for token in 0..<m { gemv(x + token * k, bias: bias, activation: activation, into: y + token * n, path: path) }
    } else {
      panelGEMM(x, m: m, bias: bias, activation: activation, into: y, path: path)
    }
  }

  /// One token: rows in blocks of 16 (the SIMD lanes of the native kernel), blocks split
  /// over threads. The token is copied zero padded to whole groups, with per-group sums when
  /// zero points need folding.
  private func gemv(
    _ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k, group, groups) = (outputFeatures, inputFeatures, groupSize, groupsPerRow)
    let relu: Int32 = activation == .relu ? 1 : 0
    let blocks = (n + 15) / 16, grain = max(1, 4096 / max(1, k))
    let native = usesNative(path)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, groups * group + groups)) { buffer in
      let padded = buffer.baseAddress!, sums = padded + groups * group
      winnow_q4_prepare_token(x, Int32(k), Int32(group), padded, blockedZeroShifts == nil ? nil : sums)
      let groupSums = blockedZeroShifts == nil ? nil : UnsafePointer(sums)
      blockedCodes.withUnsafeBufferPointer { codes in
        blockedScales.withUnsafeBufferPointer { scales in
          withOptionalPointer(blockedZeroShifts) { shifts in
            parallelFor(blocks, minimumPerChunk: grain) { chunk in
              let kernel = !native ? winnow_q4_gemv_portable
                : KernelDispatch.usesNEON ? winnow_q4_gemv_neon : winnow_q4_gemv_avx512
              kernel(Int32(n), Int32(k), Int32(group), codes.baseAddress, scales.baseAddress, shifts, padded, groupSums,
                     bias, relu, y, Int32(chunk.lowerBound), Int32(chunk.upperBound))
            }
          }
        }
      }
    }
  }

  /// Panels of up to 16 384 / K row blocks (≤ 1 MB of Floats) are dequantized transposed
  /// (K × 16·blocks, one 16-row vector per input) and multiplied with SGEMM.
  private func panelGEMM(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k, group) = (outputFeatures, inputFeatures, groupSize)
    let blocks = (n + 15) / 16, panelBlocks = min(blocks, max(1, 16_384 / max(1, k)))
    let panels = (blocks + panelBlocks - 1) / panelBlocks, width = 16 * panelBlocks
    let dequantize = !usesNative(path) ? winnow_q4_dequantize_blocks_portable
      : KernelDispatch.usesNEON ? winnow_q4_dequantize_blocks_neon : winnow_q4_dequantize_blocks_avx512
    parallelFor(panels, minimumPerChunk: max(1, (1 << 22) / max(1, m * k * width))) { chunk in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, width * k)) { buffer in
        for panel in chunk {
          let first = panel * panelBlocks, last = min(blocks, first + panelBlocks)
          let rows = 16 * first..<min(n, 16 * last)
          withOptionalPointer(blockedZeroShifts) { shifts in
            dequantize(blockedCodes, Int32(k), Int32(group), blockedScales, shifts, Int32(first), Int32(last), buffer.baseAddress)
          }
          let out = y + rows.lowerBound
          sgemmOnOneThread(transposeA: false, transposeB: false, m: m, n: rows.count, k: max(1, k), alpha: 1, a: x,
                           lda: max(1, k), b: buffer.baseAddress!, ldb: 16 * (last - first), beta: 0, c: out, ldc: n)
          if k == 0 { for i in 0..<m { (out + i * n).update(repeating: 0, count: rows.count) } }
          for i in 0..<m {
            let row = out + i * n
            if let bias { for j in 0..<rows.count { row[j] += bias[rows.lowerBound + j] } }
            activation.apply(row, count: rows.count)
          }
        }
      }
    }
  }

  /// The reference twin: dequantized weights (as documented on the type, from the row-major
  /// codes) times `x` in Double.
  public func referenceMultiply(_ x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation) -> [Float] {
    let (n, k, groups) = (outputFeatures, inputFeatures, groupsPerRow)
    let (packedCodes, scales, zeroPoints) = (packedCodes, scales, zeroPoints)
    var y = [Float](repeating: 0, count: m * n)
    for j in 0..<n {
      let weights = (0..<k).map { c -> Double in
        let byte = packedCodes[j * bytesPerRow + c / 2]
        let code = Int(c % 2 == 0 ? byte & 15 : byte >> 4)
        let zero = Int(zeroPoints?[j * groups + c / groupSize] ?? 8)
        return Double(scales[j * groups + c / groupSize]) * Double(code - zero)
      }
      for i in 0..<m {
        var v = Double(bias?[j] ?? 0)
        for c in 0..<k { v += weights[c] * Double(x[i * k + c]) }
        y[i * n + j] = activation == .relu && !(v > 0) ? 0 : Float(v)
      }
    }
    return y
  }
}

/// `body` with the array's base address, or nil.
private func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
  guard let array else { return body(nil) }
  return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
