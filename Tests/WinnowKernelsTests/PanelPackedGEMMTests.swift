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

  /// Strided operands (attention's Q·Kᵀ and P·V inside a wider QKV matrix): W packed from rows
  /// of stride ldw, or as Vᵀ from a k×n matrix, x and y with row strides above k and n.
  @Test(arguments: [(1, 1, 1), (13, 33, 32), (128, 128, 32), (25, 32, 70)])
  func stridedAndTransposedPacking(shape: (Int, Int, Int)) {
    guard PanelPackedWeights.isAvailable else { return }
    let (m, n, k) = shape
    let (lda, ldw, ldy) = (k + 3, k + 5, n + 2)
    let x = PackedLinearTests.values(m * lda, seed: 11), wStrided = PackedLinearTests.values(n * ldw, seed: 12)
    let w = (0..<n).flatMap { r in wStrided[(r * ldw)..<(r * ldw + k)] }  // the n×k matrix ldw describes
    let xDense = (0..<m).flatMap { r in x[(r * lda)..<(r * lda + k)] }
    let expected = PackedLinearTests.reference(w: w, n: n, k: k, x: xDense, m: m, bias: nil, activation: .none)
    // V = Wᵀ stored k×n with row stride ldv: packTransposed must give the same packing.
    let ldv = n + 4
    var v = [Float](repeating: .nan, count: k * ldv)
    for r in 0..<n { for c in 0..<k { v[c * ldv + r] = w[r * k + c] } }
    for transposed in [false, true] {
      var packed = [Float](repeating: .nan, count: PanelGEMM.packedCount(n: n, k: k))
      var y = [Float](repeating: -7, count: m * ldy)
      packed.withUnsafeMutableBufferPointer { p in
        if transposed {
          PanelGEMM.packTransposed(v, k: k, n: n, ldv: ldv, into: p.baseAddress!)
        } else {
          PanelGEMM.pack(wStrided, n: n, k: k, ldw: ldw, into: p.baseAddress!)
        }
        PanelGEMM.multiply(x, m: m, k: k, lda: lda, packed: p.baseAddress!, n: n, into: &y, ldy: ldy)
      }
      for i in 0..<m {
        for j in 0..<ldy {
          // Outside the n columns the row stride's gap must be untouched.
          let want = j < n ? expected[i * n + j] : -7
          #expect(abs(y[i * ldy + j] - want) <= Float(k) * 2.4e-7 + 1e-6, "transposed \(transposed) [\(i), \(j)]")
        }
      }
    }
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
