import Testing
import WinnowKernels

/// Int4 group-wise weights: the M = 1 GEMV (native, portable) and the dequantize + SGEMM panels
/// against the reference twin, over the 16-row block, 8-input word, group, odd-K and panel edges.
@Suite struct Int4LinearTests {
  @Test(arguments: [32, 64, 128], [(1, 1), (3, 31), (17, 32), (5, 33), (16, 95), (15, 64), (32, 129), (40, 257)])
  func kernelsMatchReferenceOnEdges(groupSize: Int, shape: (Int, Int)) {
    let (n, k) = shape
    let dense = PackedLinearTests.values(n * k, seed: UInt64(n + k))
    let bias = PackedLinearTests.values(n, seed: 2)
    for symmetric in [true, false] {
      let w = Int4LinearWeights.quantizingGroupwise(dense, outputFeatures: n, inputFeatures: k, groupSize: groupSize,
                                                    symmetric: symmetric)
      for m in [1, 2, 3, 4, 13] {
        let x = PackedLinearTests.values(m * k, seed: UInt64(m))
        for (activation, b) in [(EpilogueActivation.none, bias), (.relu, nil)] {
          let expected = w.referenceMultiply(x, m: m, bias: b, activation: activation)
          for path in KernelPath.allCases {
            let got = Int8LinearTests.run(w, x: x, m: m, bias: b, activation: activation, path: path)
            // Float32 sums of K products of size ≤ ~1 (weights ≤ 1, |x| < 1): 2·K·u·(Σ|w·x| ≤ K).
            let tolerance = 2 * Float(k + 2) * Float.ulpOfOne * Float(k + 1)
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= tolerance, "\(w.kernelName(for: path)) sym=\(symmetric) M=\(m) N=\(n) K=\(k): \(worst)")
          }
        }
      }
    }
  }

  /// The block layout round-trips to the row-major bytes (odd K, rows past a block), and codes
  /// at both ends of the range (0 and 15, all weights ±) or all zero weights give exact results.
  @Test func blockLayoutRoundTripsAndExtremeCodes() throws {
    let (n, k) = (19, 71)
    var bytes = (0..<n * 36).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    for row in 0..<n { bytes[row * 36 + 35] &= 15 }
    let scales = (0..<n * 3).map { Float($0 % 5 + 1) / 8 }
    let w = try Int4LinearWeights(packedCodes: bytes, scales: scales, groupSize: 32, outputFeatures: n, inputFeatures: k)
    #expect(w.packedCodes == bytes)
    #expect(w.scales == scales)
    for code in [UInt8(0x00), 0xFF, 0x88] {
      var extreme = [UInt8](repeating: code, count: n * 36)
      for row in 0..<n { extreme[row * 36 + 35] &= 15 }
      let v = try Int4LinearWeights(packedCodes: extreme, scales: Array(scales.prefix(n * 2)), groupSize: 64,
                                    outputFeatures: n, inputFeatures: k)
      let x = PackedLinearTests.values(k, seed: 9), bias = PackedLinearTests.values(n, seed: 10)
      let expected = v.referenceMultiply(x, m: 1, bias: bias, activation: .none)
      for path in KernelPath.allCases {
        let got = Int8LinearTests.run(v, x: x, m: 1, bias: bias, activation: .none, path: path)
        // Codes −8 or 7 times scales ≤ 5/8: sums of 71 terms ≤ 5 in Float32 (≤ 71·5·2⁻²³ relative).
        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-3, "\(v.kernelName(for: path)) code \(code): \(worst)")
        if code == 0x88 { #expect(got == bias, "all-zero weights give the bias") }
      }
    }
  }

  /// The worked example of the block layout: codes [9, 7, 15] are the word 0x0F79 in lane 0.
  @Test func blockLayoutExample() throws {
    let w = try Int4LinearWeights(packedCodes: [0x79, 0x0F], scales: [0.1], groupSize: 32, outputFeatures: 1, inputFeatures: 3)
    #expect(w.blockedCodes.count == 4 * 16)
    #expect(w.blockedCodes[0] == 0x0F79 && w.blockedCodes.dropFirst().allSatisfy { $0 == 0 })
  }

  /// Dequantization error is at most half a step per weight.
  @Test func roundTripWithinHalfAStep() {
    let (n, k) = (6, 100)
    let dense = PackedLinearTests.values(n * k, seed: 8)
    for symmetric in [true, false] {
      let w = Int4LinearWeights.quantizingGroupwise(dense, outputFeatures: n, inputFeatures: k, groupSize: 32, symmetric: symmetric)
      let back = w.dequantized()
      for i in 0..<n * k {
        let scale = w.scales[(i / k) * w.groupsPerRow + (i % k) / 32]
        #expect(abs(back[i] - dense[i]) <= scale / 2 * 1.0001, "w[\(i)]")
      }
    }
  }

  /// The worked example (nibble order) in the type's documentation.
  @Test func documentationExample() throws {
    let w = try Int4LinearWeights(packedCodes: [0x79, 0x0F], scales: [0.1], groupSize: 32, outputFeatures: 1, inputFeatures: 3)
    let expected: [Float] = [0.1, -0.1, 0.7]
    #expect(zip(w.dequantized(), expected).allSatisfy { abs($0 - $1) < 1e-6 })
  }

  @Test(arguments: [
    ([0x11, 0x01, 0x11, 0x01], [1], nil, 32, "scales has 1 entries"),
    ([0x11], [1, 1], nil, 32, "packedCodes has 1 bytes"),
    ([0x11, 0x01, 0x11, 0x01], [1, 1], nil, 48, "group size 48"),
    ([0x11, 0x01, 0x11, 0x11], [1, 1], nil, 32, "row 1: the high nibble past K = 3"),
    ([0x11, 0x01, 0x11, 0x01], [1, 1], [3, 16], 32, "zero point 1 is 16"),
    ([0x11, 0x01, 0x11, 0x01], [1, .nan], nil, 32, "scale 1 is nan"),
  ] as [([UInt8], [Float], [UInt8]?, Int, String)])
  func invalidArraysAreRejected(codes: [UInt8], scales: [Float], zeros: [UInt8]?, group: Int, message: String) {
    do {
      _ = try Int4LinearWeights(packedCodes: codes, scales: scales, zeroPoints: zeros, groupSize: group,
                                outputFeatures: 2, inputFeatures: 3)
      Issue.record("accepted \(codes) \(scales)")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
    }
  }
}
