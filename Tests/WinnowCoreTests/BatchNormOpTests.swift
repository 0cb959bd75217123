import Testing
import WinnowCore
import WinnowTestSupport

/// The fused training-mode batch norm (`Op.batchNorm`, WinnowKernels `batchNormForward`) against
/// its reference twin: the same function composed of recorded primitives, as `BatchNorm2d`
/// computed it before the op existed.
@Suite struct BatchNormOpTests {
  /// `(x − μ)·(σ² + ε)^(−1/2)·γ + β` with μ, σ² over every axis but 1, from primitives.
  static func composed(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, epsilon: Float) -> (Tensor, Tensor, Tensor) {
    let axes = [0] + Array(2..<x.rank)
    let broadcast = [1, x.shape[1]] + Array(repeating: 1, count: x.rank - 2)
    let mean = x.mean(axes: axes, keepDims: true)
    let centered = x - mean
    let variance = centered.squared().mean(axes: axes, keepDims: true)
    let y = centered * (variance + epsilon).pow(-0.5) * gamma.reshaped(broadcast) + beta.reshaped(broadcast)
    return (y, mean.reshaped([x.shape[1]]), variance.reshaped([x.shape[1]]))
  }

  /// Planes below, at and above the 8-wide vector, with and without a remainder, and one
  /// channel of a constant (variance 0, so only ε keeps the scale finite). Values are within
  /// [−1, 1] with unit-order results: 1e-5 is ~100 ulp, room for the different summation orders.
  @Test(arguments: [[4, 3, 1, 1], [2, 2, 1, 7], [3, 2, 2, 4], [2, 3, 3, 3], [2, 2, 4, 4], [3, 2, 1, 17], [2, 4, 7, 7], [6, 5]])
  func fusedEqualsComposedPrimitives(_ shape: [Int]) {
    var x = randomTensor(shape, seed: 5)
    let plane = shape.dropFirst(2).reduce(1, *)
    x.withUnsafeMutableBufferPointer { p in  // channel 0 of every image: a constant
      for n in 0..<shape[0] { for i in 0..<plane { p[n * shape[1] * plane + i] = 0.25 } }
    }
    let gamma = randomTensor([shape[1]], seed: 6, in: 0.5...1.5), beta = randomTensor([shape[1]], seed: 7)
    let (fused, mean, variance) = x.batchNormalized(gamma: gamma, beta: beta, epsilon: 1e-5)
    let (reference, referenceMean, referenceVariance) = Self.composed(x, gamma, beta, epsilon: 1e-5)
    #expect(allClose(fused, reference, rtol: 1e-5, atol: 1e-5), "\(shape): \(differenceReport(fused, reference))")
    #expect(allClose(mean, referenceMean, rtol: 1e-6, atol: 1e-6), "\(shape) mean: \(differenceReport(mean, referenceMean))")
    #expect(allClose(variance, referenceVariance, rtol: 1e-5, atol: 1e-6), "\(shape) variance: \(differenceReport(variance, referenceVariance))")
  }

  /// The fused gradients equal the composed graph's for x, γ and β on a ResNet-like plane.
  @Test func gradientsEqualComposedPrimitives() {
    let x = randomTensor([3, 4, 5, 5], seed: 8), gamma = randomTensor([4], seed: 9, in: 0.5...1.5)
    let beta = randomTensor([4], seed: 10), w = randomTensor([3, 4, 5, 5], seed: 11)
    let (_, fused) = valueWithGradient(at: [x, gamma, beta]) { xs in
      (xs[0].batchNormalized(gamma: xs[1], beta: xs[2], epsilon: 1e-5).output * w).sum()
    }
    let (_, reference) = valueWithGradient(at: [x, gamma, beta]) { xs in
      (Self.composed(xs[0], xs[1], xs[2], epsilon: 1e-5).0 * w).sum()
    }
    for (i, name) in ["x", "γ", "β"].enumerated() {
      // Sums of 75 unit-order products per channel: 1e-5 absolute is ~100 ulp of those sums.
      #expect(allClose(fused[i], reference[i], rtol: 1e-4, atol: 1e-5), "d\(name): \(differenceReport(fused[i], reference[i]))")
    }
  }
}
