import WinnowCore

/// Instance, group and mean-variance normalization, written with recorded Winnow ops (so they
/// are differentiable):
///
///     y = scale · (x − E[x]) / √(Var[x] + ε) + bias
///
/// with the statistics over the spatial axes of each (image, channel) for InstanceNormalization,
/// over each group of `C / num_groups` channels and the spatial axes for GroupNormalization
/// (scale and bias per channel from opset 21, per group before), and over `axes` without
/// scale or bias for MeanVarianceNormalization. Variances are biased (divided by the count).
/// LRN normalizes across neighbouring channels.
extension ONNXOperators {
  static let normalization: [String: Kernel] = [
    "InstanceNormalization": instanceNormalization, "GroupNormalization": groupNormalization,
    "MeanVarianceNormalization": meanVarianceNormalization, "LRN": localResponseNormalization,
  ]

  /// `(x − mean) / √(var + ε)` over `axes`.
  static func standardized(_ x: Tensor, axes: [Int], epsilon: Float) -> Tensor {
    let centered = x - x.mean(axes: axes, keepDims: true)
    return centered * (centered.squared().mean(axes: axes, keepDims: true) + epsilon).pow(-0.5)
  }

  /// A per-channel vector (input `index`) shaped to broadcast over axis 1 of a rank-`rank` tensor.
  static func channelVector(_ n: ONNXNode, _ index: Int, channels: Int, rank: Int) throws(ONNXError) -> Tensor {
    let v = try n.float(index)
    guard v.count == channels else { throw n.fail("input \(index) has shape \(v.shape), expected [\(channels)]") }
    return v.reshaped([1, channels] + [Int](repeating: 1, count: rank - 2))
  }

  static func instanceNormalization(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    guard x.rank >= 3 else { throw n.fail("needs N×C×spatial input, got \(x.shape)") }
    let scale = try channelVector(n, 1, channels: x.shape[1], rank: x.rank)
    let bias = try channelVector(n, 2, channels: x.shape[1], rank: x.rank)
    let y = standardized(x, axes: Array(2..<x.rank), epsilon: n.float("epsilon", default: 1e-5))
    return [.float(y * scale + bias)]
  }

  static func groupNormalization(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let groups = n.int("num_groups", default: 0)
    guard x.rank >= 2, groups >= 1, x.shape[1] % groups == 0 else {
      throw n.fail("num_groups \(groups) does not divide the channels of \(x.shape)")
    }
    let (batch, channels) = (x.shape[0], x.shape[1])
    let grouped = x.reshaped([batch, groups, x.count / Swift.max(batch * groups, 1)])
    let y = standardized(grouped, axes: [2], epsilon: n.float("epsilon", default: 1e-5)).reshaped(x.shape)
    // Opset 18 gave scale and bias per group; opset 21 per channel.
    let perGroup = n.opset < 21
    let width = perGroup ? groups : channels
    let expand = { (v: Tensor) -> Tensor in
      perGroup ? v.reshaped([groups, 1]).expanded(to: [groups, channels / groups]).reshaped([channels]) : v
    }
    var parameters: [Tensor] = []
    for index in 1...2 {
      let v = try n.float(index)
      guard v.count == width else { throw n.fail("input \(index) has shape \(v.shape), expected [\(width)]") }
      parameters.append(expand(v).reshaped([1, channels] + [Int](repeating: 1, count: x.rank - 2)))
    }
    return [.float(y * parameters[0] + parameters[1])]
  }

  static func meanVarianceNormalization(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    var axes: [Int] = []
    for a in n.ints("axes") ?? [0, 2, 3] { axes.append(try n.axis(a, rank: x.rank)) }
    return [.float(standardized(x, axes: axes, epsilon: 1e-9))]
  }

  /// Local response normalization across channels (Krizhevsky et al. 2012):
  /// `y = x / (bias + α/size · Σ x²)^β`, the sum over the `size` channels around each one
  /// (`⌊(size−1)/2⌋` before, `⌈(size−1)/2⌉` after, clipped at the edges).
  static func localResponseNormalization(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let size = n.int("size", default: 0)
    guard x.rank >= 2, size >= 1 else { throw n.fail("needs N×C×… input and size ≥ 1, got \(x.shape) and size \(size)") }
    let channels = x.shape[1]
    let (before, after) = ((size - 1) / 2, size / 2)
    let squares = padded(x.squared(), begin: [before] + [Int](repeating: 0, count: x.rank - 2),
                         end: [after] + [Int](repeating: 0, count: x.rank - 2), value: 0)
    var sum = squares.slice(axis: 1, 0..<channels)
    for k in 1..<size { sum = sum + squares.slice(axis: 1, k..<(k + channels)) }
    let (alpha, beta, bias) = (n.float("alpha", default: 1e-4), n.float("beta", default: 0.75), n.float("bias", default: 1))
    return [.float(x * (sum * (alpha / Float(size)) + bias).pow(-beta))]
  }
}
