import Testing
import WinnowKernels

/// XNOR-popcount kernels (native VPOPCNTDQ and portable) against the reference twin on
/// unpacked ±1 signs, over the 4-token × 16-row tile, 64-bit word and 16-input (binarisation
/// vector) edges.
@Suite struct BinaryLinearTests {
  @Test(arguments: [1, 3, 4, 5, 9], [(1, 1), (3, 17), (7, 63), (8, 64), (16, 65), (18, 48), (17, 128), (33, 200)])
  func kernelsMatchReferenceOnTileEdges(m: Int, shape: (Int, Int)) {
    let (n, k) = shape
    let dense = PackedLinearTests.values(n * k, seed: UInt64(n * 7 + k))
    let w = BinaryLinearWeights.binarizing(dense, outputFeatures: n, inputFeatures: k)
    // Exact zeros among the activations: they binarise to +1.
    let x = PackedLinearTests.values(m * k, seed: UInt64(m)).enumerated().map { $0.offset % 5 == 0 ? 0 : $0.element }
    let bias = PackedLinearTests.values(n, seed: 5)
    for (activation, b) in [(EpilogueActivation.none, bias), (.relu, nil)] {
      let expected = w.referenceMultiply(x, m: m, bias: b, activation: activation)
      for path in KernelPath.allCases {
        let got = Int8LinearTests.run(w, x: x, m: m, bias: b, activation: activation, path: path)
        // Integer dot products are exact; α·β·dot + bias in Float32 vs Double: a few roundings,
        // plus β summed in Float32 over K terms (relative K·u).
        for (i, (a, e)) in zip(got, expected).enumerated() {
          let tolerance = Float(k + 4) * Float.ulpOfOne * (abs(e) + 1)
          #expect(abs(a - e) <= tolerance, "\(w.kernelName(for: path)) M=\(m) N=\(n) K=\(k) y[\(i)] = \(a), reference \(e)")
          if !(abs(a - e) <= tolerance) { return }
        }
      }
    }
  }

  /// The worked example in the type's documentation.
  @Test func documentationExample() {
    let w = BinaryLinearWeights.binarizing([0.5, -0.2, 0.1], outputFeatures: 1, inputFeatures: 3)
    #expect(w.signs == [0b101])
    #expect(abs(w.scales[0] - 0.8 / 3) < 1e-6)
  }

  /// One layout in memory (8-row panels where VPOPCNTDQ runs, else the row-major words); the
  /// row-major `signs` and the dense twin are rebuilt exactly from it, odd row counts included.
  @Test func oneLayoutAndItsRoundTrip() throws {
    for (n, k) in [(17, 130), (8, 64), (1, 3)] {
      let dense = PackedLinearTests.values(n * k, seed: UInt64(n + k))
      let w = BinaryLinearWeights.binarizing(dense, outputFeatures: n, inputFeatures: k)
      let words = (k + 63) / 64
      var signs = [UInt64](repeating: 0, count: n * words)
      for i in 0..<(n * k) where dense[i] >= 0 { signs[i / k * words + i % k / 64] |= 1 << UInt64(i % k % 64) }
      #expect(w.signs == signs)
      #expect(w.dense() == (0..<(n * k)).map { dense[$0] >= 0 ? w.scales[$0 / k] : -w.scales[$0 / k] })
      let interleaved = w.kernelName(for: .native).hasSuffix("__avx512vpopcntdq")
      #expect(w.packedByteCount == (interleaved ? (n + 7) / 8 * 8 : n) * words * 8 + n * 4)
      let adopted = try BinaryLinearWeights(signs: w.signs, scales: w.scales, outputFeatures: n, inputFeatures: k)
      #expect(adopted.signs == signs && adopted.packedByteCount == w.packedByteCount)
    }
  }

  @Test func nativeKernelIsChosenWhenTheCPUHasVPOPCNTDQ() {
    let w = BinaryLinearWeights.binarizing([1, -1], outputFeatures: 1, inputFeatures: 2)
    let native = CPUFeatures.current.isSuperset(of: [.avx512f, .avx512vl, .avx512vpopcntdq])
    #expect(w.kernelName(for: .native).hasSuffix("__avx512vpopcntdq") == native)
  }

  @Test(arguments: [
    ([1], [1, 1], "signs has 1 words"),
    ([1, 1], [1], "scales has 1 entries"),
    ([1, 1], [1, .infinity], "scale 1 is inf"),
    ([1, 0b1000], [1, 1], "row 1 has sign bits set past K = 3"),
  ] as [([UInt64], [Float], String)])
  func invalidArraysAreRejected(signs: [UInt64], scales: [Float], message: String) {
    do {
      _ = try BinaryLinearWeights(signs: signs, scales: scales, outputFeatures: 2, inputFeatures: 3)
      Issue.record("accepted \(signs) \(scales)")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
    }
  }
}
