import CWinnowKernels

extension Int4LinearWeights {
  /// Fewer than 4 tokens: one GEMV per token on the 4-bit codes (AVX-512 or portable C).
  /// Otherwise panels of output rows are dequantized into a thread's Float buffer (≤ 1 MB)
  /// and multiplied with SGEMM; bias and activation follow on the panel. Both split output rows
  /// over threads.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k) = (outputFeatures, inputFeatures)
    guard m > 0, n > 0 else { return }
    if m < 4 {
      for token in 0..<m { gemv(x + token * k, bias: bias, activation: activation, into: y + token * n, path: path) }
    } else {
      panelGEMM(x, m: m, bias: bias, activation: activation, into: y)
    }
  }

  private func gemv(
    _ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    let (n, k, group) = (outputFeatures, inputFeatures, groupSize)
    let relu: Int32 = activation == .relu ? 1 : 0
    let grain = max(1, 65_536 / max(1, k))
    packedCodes.withUnsafeBufferPointer { codes in
      scales.withUnsafeBufferPointer { scales in
        withZeroPoints { zeros in
          guard usesNative(path) else {
            parallelFor(n, minimumPerChunk: grain) { rows in
              winnow_q4_gemv_portable(Int32(n), Int32(k), x, Int32(group), codes.baseAddress, scales.baseAddress, zeros,
                                      bias, relu, y, Int32(rows.lowerBound), Int32(rows.upperBound))
            }
            return
          }
          let half = groupsPerRow * group / 2
          withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, 2 * half)) { split in
            let even = split.baseAddress!, odd = even + half
            winnow_q4_split_token(x, Int32(k), Int32(half), even, odd)
            parallelFor(n, minimumPerChunk: grain) { rows in
              winnow_q4_gemv_avx512(Int32(n), Int32(k), even, odd, Int32(group), codes.baseAddress, scales.baseAddress,
                                    zeros, bias, relu, y, Int32(rows.lowerBound), Int32(rows.upperBound))
            }
          }
        }
      }
    }
  }

  private func panelGEMM(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    let (n, k) = (outputFeatures, inputFeatures)
    let panelRows = min(n, max(16, 262_144 / max(1, k)))
    let panels = (n + panelRows - 1) / panelRows
    parallelFor(panels, minimumPerChunk: max(1, (1 << 22) / max(1, m * k * panelRows))) { chunk in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, panelRows * k)) { buffer in
        for panel in chunk {
          let rows = panel * panelRows..<min(n, (panel + 1) * panelRows)
          dequantizeRows(rows, into: buffer.baseAddress!)
          let out = y + rows.lowerBound
          sgemmOnOneThread(transposeA: false, transposeB: true, m: m, n: rows.count, k: max(1, k), alpha: 1, a: x, lda: max(1, k),
                           b: buffer.baseAddress!, ldb: max(1, k), beta: 0, c: out, ldc: n)
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

  /// The reference twin: dequantized weights (as documented on the type) times `x` in Double.
  public func referenceMultiply(_ x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation) -> [Float] {
    let (n, k, groups) = (outputFeatures, inputFeatures, groupsPerRow)
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
