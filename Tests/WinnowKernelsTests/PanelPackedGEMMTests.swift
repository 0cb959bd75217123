import Testing
import WinnowKernels
import WinnowTestSupport

/// Winnow's AVX-512 GEMM on panel-packed weights against the Double reference, over the edges
/// of its 12×32 register tile and of its row blocks; skipped on CPUs without AVX-512.
@Suite struct PanelPackedGEMMTests {
  @Test(arguments: tileEdges(12)) func matchesReferenceOverTileEdges(m: Int) {
    guard PanelPackedWeights.isAvailable else { return }
    for n in tileEdges(32) {
      for k in [1, 5, 64] { check(m: m, n: n, k: k) }
    }
  }

  /// Several row blocks (a block is ~256 KB of x: 1020 rows at K = 64) split over threads.
  @Test func matchesReferenceAcrossRowBlocks() {
    guard PanelPackedWeights.isAvailable else { return }
    check(m: 1100, n: 70, k: 64)
    check(m: 30, n: 33, k: 700)
  }

  func check(m: Int, n: Int, k: Int) {
    let w = PackedLinearTests.values(n * k, seed: UInt64(n * 31 + k)).map { $0 / 2 }
    let x = PackedLinearTests.values(m * k, seed: UInt64(m + 7)).map { $0 / 2 }
    let bias = PackedLinearTests.values(n, seed: 5)
    let packed = PanelPackedWeights(values: w, outputFeatures: n, inputFeatures: k)
    for b in [nil, bias] {
      let expected = PackedLinearTests.reference(w: w, n: n, k: k, x: x, m: m, bias: b, activation: .none)
      var y = [Float](repeating: .nan, count: m * n)
      y.withUnsafeMutableBufferPointer { yp in
        if let b {
          b.withUnsafeBufferPointer { packed.multiply(x, m: m, bias: $0.baseAddress, activation: .none, into: yp.baseAddress!) }
        } else {
          packed.multiply(x, m: m, bias: nil, activation: .none, into: yp.baseAddress!)
        }
      }
      // Float32 sums of k terms of size ≤ 0.25: |error| ≤ k·2⁻²⁴·(k·0.25) + bias rounding.
      let tolerance = Float(k) * Float(k) * 0.25 * 1.2e-7 + 1e-6
      let worst = zip(y, expected).map { abs($0 - $1) }.max() ?? 0
      #expect(worst <= tolerance, "\(m)×\(n)×\(k) bias=\(b != nil): \(worst)")
    }
  }
}
