import Testing
import WinnowKernels
import WinnowTestSupport

/// The vectorised transformer row kernels against their Double reference twins, over the
/// 16-lane edges of their partial sums (sizes below, at, above and multiples of 16).
@Suite struct RowKernelsTests {
  static let sizes = [0] + tileEdges(16) + [100, 384]

  /// Uniform values in `range` plus the extremes that exercise clamping and sign handling.
  func values(_ count: Int, seed: UInt64, in range: ClosedRange<Float>) -> [Float] {
    var v = randomTensor([count], seed: seed, in: range).scalars
    let extremes: [Float] = [0, -0.0, 1e-8, -1e-8, 12, -12, 100, -100]
    for (i, e) in extremes.enumerated() where i < count && count > 8 { v[i * count / extremes.count] = e }
    return v
  }

  @Test(arguments: sizes) func geluMatchesReference(count: Int) {
    let x = values(count, seed: UInt64(count), in: -6...6)
    var fast = [Float](repeating: .nan, count: count), slow = fast
    RowKernels.gelu(x, &fast, count: count)
    RowKernels.geluReference(x, &slow, count: count)
    for i in 0..<count {
      // A&S 7.1.26 erf is within 1.5e-7 absolute; GELU scales it by |x|/2, plus float rounding.
      #expect(abs(fast[i] - slow[i]) <= 2e-7 * max(1, abs(x[i])) + 2e-7 * abs(slow[i]), "x = \(x[i])")
    }
  }

  /// In place (x == y, as the FFN calls it): the vectorised loop, which once fell back to
  /// scalar code for overlapping pointers, must give exactly the out-of-place values.
  @Test(arguments: sizes) func geluInPlaceEqualsOutOfPlace(count: Int) {
    let x = values(count, seed: 100 + UInt64(count), in: -8...8)
    var outOfPlace = [Float](repeating: .nan, count: count), inPlace = x
    RowKernels.gelu(x, &outOfPlace, count: count)
    inPlace.withUnsafeMutableBufferPointer { p in
      if let base = p.baseAddress { RowKernels.gelu(base, base, count: count) }
    }
    #expect(inPlace == outOfPlace)
  }

  @Test(arguments: sizes.filter { $0 > 0 }) func softmaxMatchesReference(length: Int) {
    let rows = 3, stride = length + 5
    var fast = values(rows * stride, seed: 7 + UInt64(length), in: -30...30)
    var slow = fast
    RowKernels.softmax(&fast, rows: rows, length: length, stride: stride, scale: 0.35)
    RowKernels.softmaxReference(&slow, rows: rows, length: length, stride: stride, scale: 0.35)
    for r in 0..<rows {
      for i in 0..<length {
        let k = r * stride + i
        // Polynomial exp is within ~2 ulp; the float sum adds ~length·ulp relative error.
        #expect(abs(fast[k] - slow[k]) <= 1e-6 * slow[k] + 1e-7, "row \(r) position \(i)")
      }
      for i in length..<stride { #expect(fast[r * stride + i] == slow[r * stride + i], "padding changed") }
    }
  }

  @Test(arguments: sizes.filter { $0 > 0 }) func addLayerNormMatchesReference(width: Int) {
    let rows = 4
    let gamma = randomTensor([width], seed: 1, in: 0.5...1.5).scalars, beta = randomTensor([width], seed: 2).scalars
    let residual = values(rows * width, seed: 3, in: -4...4)
    for useResidual in [false, true] {
      var fast = values(rows * width, seed: 4, in: -4...4).map { $0 + 10 }  // offset: mean matters
      var slow = fast
      residual.withUnsafeBufferPointer { r in
        let res = useResidual ? r.baseAddress : nil
        RowKernels.addLayerNorm(&fast, residual: res, gamma: gamma, beta: beta, rows: rows, width: width, epsilon: 1e-12)
        RowKernels.addLayerNormReference(&slow, residual: res, gamma: gamma, beta: beta, rows: rows, width: width, epsilon: 1e-12)
      }
      // Float sums of `width` terms: a few ulp of the normalised value (|value| ≲ 10 here).
      for i in 0..<rows * width { #expect(abs(fast[i] - slow[i]) <= 1e-5, "width \(width) index \(i)") }
    }
  }
}
