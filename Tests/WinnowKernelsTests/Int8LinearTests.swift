import Testing
import WinnowKernels

/// Int8 weights × dynamically (or statically) quantized activations: native (VNNI) and
/// portable kernels against the Swift reference twin, over the 12-token × 32-output tile edges.
@Suite struct Int8LinearTests {
  static func weights(n: Int, k: Int, seed: UInt64) -> [Float] {
    PackedLinearTests.values(n * k, seed: seed).map { $0 * 0.7 }
  }

  /// Runs `w` on `path` into a NaN-filled output (so a missed element fails).
  static func run(
    _ w: any PackedLinearWeights, x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation,
    path: KernelPath
  ) -> [Float] {
    var y = [Float](repeating: .nan, count: m * w.outputFeatures)
    if let bias {
      w.multiply(x, m: m, bias: bias, activation: activation, into: &y, path: path)
    } else {
      w.multiply(x, m: m, bias: nil, activation: activation, into: &y, path: path)
    }
    return y
  }

  /// Kernel vs reference: the uint8 activations and int32 sums are identical, only the Float32
  /// epilogue (a conversion, two products, one sum: ≤ 4 roundings) differs from the Double one.
  static func expectClose(_ got: [Float], _ expected: [Float], _ context: String) {
    for (i, (a, b)) in zip(got, expected).enumerated() {
      let tolerance = 4 * Float.ulpOfOne * max(abs(b), 1e-3) + 1e-6
      if !(abs(a - b) <= tolerance) {
        Issue.record("\(context): y[\(i)] = \(a), reference \(b)")
        return
      }
    }
  }

  @Test(arguments: [1, 5, 11, 12, 13, 25], [(1, 1), (16, 3), (31, 4), (32, 5), (33, 17), (65, 67)])
  func kernelsMatchReferenceOnTileEdges(m: Int, shape: (Int, Int)) {
    let (n, k) = shape
    let dense = Self.weights(n: n, k: k, seed: UInt64(n * 100 + k))
    let x = PackedLinearTests.values(m * k, seed: UInt64(m)).map { $0 * 3 + 0.5 }
    let bias = PackedLinearTests.values(n, seed: 9)
    for mode in [ActivationQuantization.dynamicPerToken, .calibrated(scale: 0.02, zeroPoint: 100)] {
      let w = Int8LinearWeights.quantizingPerChannel(dense, outputFeatures: n, inputFeatures: k,
                                                     activationQuantization: mode)
      for (activation, b) in [(EpilogueActivation.none, bias), (.relu, nil)] {
        let expected = w.referenceMultiply(x, m: m, bias: b, activation: activation)
        for path in KernelPath.allCases {
          let got = Self.run(w, x: x, m: m, bias: b, activation: activation, path: path)
          Self.expectClose(got, expected, "\(w.kernelName(for: path)) \(mode) \(activation) M=\(m) N=\(n) K=\(k)")
        }
      }
    }
  }

  /// The VNNI kernel takes the panels of 32 outputs in groups of ~512 KB of weights (4 panels
  /// at K = 4096), each group against every 12-token tile: N = 200 is 7 panels in two groups
  /// (3 + 4) ending in a partial panel, and M = 61 ends in a partial tile.
  @Test func kernelsMatchReferenceAcrossPanelGroups() {
    let (m, n, k) = (61, 200, 4096)
    let w = Int8LinearWeights.quantizingPerChannel(Self.weights(n: n, k: k, seed: 77), outputFeatures: n, inputFeatures: k)
    let x = PackedLinearTests.values(m * k, seed: 78).map { $0 * 2 - 0.3 }
    let bias = PackedLinearTests.values(n, seed: 79)
    let expected = w.referenceMultiply(x, m: m, bias: bias, activation: .none)
    for path in KernelPath.allCases {
      Self.expectClose(Self.run(w, x: x, m: m, bias: bias, activation: .none, path: path), expected,
                       "\(w.kernelName(for: path)) M=\(m) N=\(n) K=\(k)")
    }
  }

  /// Against fp32: per output, |error| ≤ s_w/2·Σ|x| + s_x/2·Σ|Ŵ| (+ float slack), the bound of
  /// rounding both operands to the nearest step.
  @Test func staysWithinTheQuantizationBoundOfFloat32() {
    let (m, n, k) = (7, 40, 96)
    let dense = Self.weights(n: n, k: k, seed: 3)
    let x = PackedLinearTests.values(m * k, seed: 4)
    let w = Int8LinearWeights.quantizingPerChannel(dense, outputFeatures: n, inputFeatures: k)
    let exact = PackedLinearTests.reference(w: dense, n: n, k: k, x: x, m: m, bias: nil, activation: .none)
    let got = Self.run(w, x: x, m: m, bias: nil, activation: .none, path: .native)
    let wHat = w.dequantized()
    for i in 0..<m {
      let row = x[i * k..<(i + 1) * k]
      let xScale = (max(0, row.max()!) - min(0, row.min()!)) / 255
      for j in 0..<n {
        let sumX = row.reduce(0) { $0 + abs($1) }
        let sumW = wHat[j * k..<(j + 1) * k].reduce(0) { $0 + abs($1) }
        let bound = w.scales[j] / 2 * sumX + xScale / 2 * sumW + 1e-4
        #expect(abs(got[i * n + j] - exact[i * n + j]) <= bound, "y[\(i), \(j)]")
      }
    }
  }

  @Test func nativeKernelIsChosenWhenTheCPUHasVNNI() {
    let w = Int8LinearWeights.quantizingPerChannel([1, 2, 3, 4], outputFeatures: 2, inputFeatures: 2)
    let vnni = CPUFeatures.current.isSuperset(of: [.avx512f, .avx512bw, .avx512vl, .avx512vnni])
    let amx = CPUFeatures.current.contains(.amxInt8) && KernelDispatch.allowsAMX  // AMX takes over there
    #expect(w.kernelName(for: .native).hasSuffix("__avx512vnni") == (vnni && !amx))
    #expect(w.kernelName(for: .portable) == "qs8_gemm_1x1__scalar")
  }

  @Test(arguments: [
    ([1, 2, 3], [1, 1], ActivationQuantization.dynamicPerToken, "codes has 3 entries"),
    ([1, 2, 3, 4], [1], .dynamicPerToken, "scales has 1 entries"),
    ([1, 2, 3, 4], [1, -1], .dynamicPerToken, "scale 1 is -1.0"),
    ([1, 2, 3, 4], [1, .nan], .dynamicPerToken, "scale 1 is nan"),
    ([1, 2, 3, 4], [1, 1], .calibrated(scale: 0, zeroPoint: 0), "activation scale 0.0"),
    ([1, 2, 3, 4], [1, 1], .calibrated(scale: 1, zeroPoint: 256), "zero point 256"),
  ] as [([Int8], [Float], ActivationQuantization, String)])
  func invalidArraysAreRejected(codes: [Int8], scales: [Float], mode: ActivationQuantization, message: String) {
    do {
      _ = try Int8LinearWeights(codes: codes, scales: scales, outputFeatures: 2, inputFeatures: 2,
                                activationQuantization: mode)
      Issue.record("accepted \(codes) \(scales) \(mode)")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
    }
  }
}
