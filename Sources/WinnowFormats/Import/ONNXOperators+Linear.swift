import WinnowCore
import WinnowKernels

/// Matrix products, normalisation, softmax and reductions.
extension ONNXOperators {
  static let linear: [String: Kernel] = [
    "MatMul": { n throws(ONNXError) in [.float(try matmul(n.float(0), n.float(1), n))] },
    "Gemm": gemm,
    "Conv": convolution, "ConvTranspose": convolutionTranspose, "Resize": resize,
    "MaxPool": { n throws(ONNXError) in try pool(n, max: true) },
    "AveragePool": { n throws(ONNXError) in try pool(n, max: false) }, "LpPool": lpPool,
    "GlobalAveragePool": { n throws(ONNXError) in
      let x = try n.float(0)
      guard x.rank >= 3 else { throw n.fail("needs N×C×spatial input, got \(x.shape)") }
      return [.float(x.mean(axes: Array(2..<x.rank), keepDims: true))]
    },
    "GlobalMaxPool": { n throws(ONNXError) in
      let x = try n.float(0)
      guard x.rank >= 3 else { throw n.fail("needs N×C×spatial input, got \(x.shape)") }
      return [.float((2..<x.rank).reduce(x) { $0.max(axis: $1, keepDims: true) })]
    },
    "BatchNormalization": batchNormalization,
    "LayerNormalization": layerNormalization,
    "Softmax": { n throws(ONNXError) in try softmax(n, log: false) },
    "LogSoftmax": { n throws(ONNXError) in try softmax(n, log: true) },
    "ReduceMean": reduce(empty: .nan, axesInputFrom: 18) { x, axes in x.mean(axes: axes, keepDims: true) },
    "ReduceSum": reduce(empty: 0, axesInputFrom: 13) { x, axes in x.sum(axes: axes, keepDims: true) },
    "ReduceSumSquare": reduce(empty: 0, axesInputFrom: 18) { x, axes in x.squared().sum(axes: axes, keepDims: true) },
    "ReduceL2": reduce(empty: 0, axesInputFrom: 18) { x, axes in x.squared().sum(axes: axes, keepDims: true).sqrt() },
    "ReduceMax": reduce(empty: -.infinity, axesInputFrom: 18) { x, axes in axes.reduce(x) { $0.max(axis: $1, keepDims: true) } },
    "ReduceMin": reduce(empty: .infinity, axesInputFrom: 18) { x, axes in -axes.reduce(-x) { $0.max(axis: $1, keepDims: true) } },
  ]

  /// NumPy `matmul`: rank-1 operands gain and lose a unit axis; batch axes broadcast.
  static func matmul(_ a: Tensor, _ b: Tensor, _ n: ONNXNode) throws(ONNXError) -> Tensor {
    guard a.rank >= 1, b.rank >= 1 else { throw n.fail("needs operands of rank ≥ 1, got \(a.shape) and \(b.shape)") }
    let a2 = a.rank == 1 ? a.reshaped([1, a.shape[0]]) : a
    let b2 = b.rank == 1 ? b.reshaped([b.shape[0], 1]) : b
    let (m, k) = (a2.shape[a2.rank - 2], a2.shape[a2.rank - 1])
    let (kb, columns) = (b2.shape[b2.rank - 2], b2.shape[b2.rank - 1])
    guard k == kb else { throw n.fail("inner sizes differ: \(a.shape) · \(b.shape)") }
    let batch = try n.broadcast(Array(a2.shape.dropLast(2)), Array(b2.shape.dropLast(2)))
    var product: Tensor
    if b2.rank == 2 {
      product = a2.matmul(b2)
    } else {
      let count = batch.reduce(1, *)
      let left = a2.expanded(to: batch + [m, k]).reshaped([count, m, k])
      let right = b2.expanded(to: batch + [k, columns]).reshaped([count, k, columns])
      product = left.matmul(right).reshaped(batch + [m, columns])
    }
    var shape = product.shape
    if b.rank == 1 { shape.removeLast() }
    if a.rank == 1 { shape.remove(at: shape.count - (b.rank == 1 ? 1 : 2)) }
    return product.reshaped(shape)
  }

  /// `Y = alpha·op(A)·op(B) + beta·C`.
  static func gemm(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let a = try n.float(0), b = try n.float(1)
    guard a.rank == 2, b.rank == 2 else { throw n.fail("needs rank-2 A and B, got \(a.shape) and \(b.shape)") }
    let (tA, tB) = (n.int("transA", default: 0) != 0, n.int("transB", default: 0) != 0)
    guard a.shape[tA ? 0 : 1] == b.shape[tB ? 1 : 0] else { throw n.fail("inner sizes differ: \(a.shape) · \(b.shape)") }
    var y = a.matmul(b, transposeA: tA, transposeB: tB)
    let alpha = n.float("alpha", default: 1), beta = n.float("beta", default: 1)
    if alpha != 1 { y = y * alpha }
    if n.has(2) {
      let c = try n.float(2)
      guard broadcastShape(c.shape, y.shape) == y.shape else { throw n.fail("C of shape \(c.shape) does not broadcast to \(y.shape)") }
      y = y + (beta == 1 ? c : c * beta)
    }
    return [.float(y)]
  }

  static func batchNormalization(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    guard x.rank >= 2 else { throw n.fail("needs N×C×… input, got \(x.shape)") }
    let channels = x.shape[1]
    var shape = [Int](repeating: 1, count: x.rank)
    shape[1] = channels
    var parameters: [Tensor] = []
    for i in 1...4 {
      let p = try n.float(i)
      guard p.count == channels else { throw n.fail("input \(i) has shape \(p.shape), expected [\(channels)]") }
      parameters.append(p.reshaped(shape))
    }
    let epsilon = n.float("epsilon", default: 1e-5)
    if n.int("training_mode", default: 0) != 0 { return batchStatistics(x, parameters, epsilon: epsilon, n) }
    let scale = parameters[0] * (parameters[3] + epsilon).pow(-0.5)
    return [.float(x * scale + (parameters[1] - parameters[2] * scale))]
  }

  /// Training mode: normalise with the batch's mean and (biased) variance over every axis but
  /// the channels, and return the running statistics moved toward them,
  /// `running ← momentum·running + (1 − momentum)·batch`. `parameters` are scale, bias,
  /// running mean and running variance shaped to broadcast over `x`.
  static func batchStatistics(_ x: Tensor, _ parameters: [Tensor], epsilon: Float, _ n: ONNXNode) -> [ONNXValue] {
    let axes = [0] + Array(2..<x.rank)
    let mean = x.mean(axes: axes, keepDims: true)
    let centered = x - mean
    let variance = centered.squared().mean(axes: axes, keepDims: true)
    let y = centered * (variance + epsilon).pow(-0.5) * parameters[0] + parameters[1]
    let momentum = n.float("momentum", default: 0.9)
    let channels = [x.shape[1]]
    let runningMean = parameters[2] * momentum + mean * (1 - momentum)
    let runningVariance = parameters[3] * momentum + variance * (1 - momentum)
    return [.float(y), .float(runningMean.reshaped(channels)), .float(runningVariance.reshaped(channels))]
  }

  /// Normalises over axes `axis..<rank`; outputs Y and, when asked, the mean and 1/σ.
  static func layerNormalization(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let axis = try n.axis(n.int("axis", default: -1), rank: x.rank)
    let axes = Array(axis..<x.rank)
    let mean = x.mean(axes: axes, keepDims: true)
    let centered = x - mean
    let inverseDeviation = (centered.squared().mean(axes: axes, keepDims: true) + n.float("epsilon", default: 1e-5)).pow(-0.5)
    let scale = try n.float(1)
    _ = try n.broadcast(x.shape, scale.shape)
    var y = centered * inverseDeviation * scale
    if n.has(2) {
      let bias = try n.float(2)
      _ = try n.broadcast(x.shape, bias.shape)
      y = y + bias
    }
    return [.float(y), .float(mean), .float(inverseDeviation)]
  }

  /// Opset 13+: along `axis` (default −1). Before: over the flattened axes from `axis` (default 1).
  static func softmax(_ n: ONNXNode, log: Bool) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    guard x.rank >= 1 else { throw n.fail("needs a tensor of rank ≥ 1") }
    if n.opset >= 13 {
      let axis = try n.axis(n.int("axis", default: -1), rank: x.rank)
      return [.float(log ? x.logSoftmax(axis: axis) : x.softmax(axis: axis))]
    }
    let axis = try n.axis(n.int("axis", default: 1), rank: x.rank)
    let flat = x.reshaped([x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])
    return [.float((log ? flat.logSoftmax(axis: 1) : flat.softmax(axis: 1)).reshaped(x.shape))]
  }

  /// Reductions: axes from the input from opset `axesInputFrom` on, else the attribute;
  /// no axes reduce all unless `noop_with_empty_axes`.
  /// `empty` is the result over an empty set (the identity of the reduction).
  static func reduce(empty: Float, axesInputFrom version: Int64, _ f: @escaping @Sendable (Tensor, [Int]) -> Tensor) -> Kernel {
    { n throws(ONNXError) in
      let x = try n.float(0)
      let given = n.opset >= version ? try n.axes(inputIndex: 1, rank: x.rank) : try n.axes(inputIndex: 99, rank: x.rank)
      if (given ?? []).isEmpty && n.int("noop_with_empty_axes", default: 0) != 0 { return [.float(x)] }
      let axes = (given ?? []).isEmpty ? Array(0..<x.rank) : given!
      var keptShape = x.shape
      for axis in axes { keptShape[axis] = 1 }
      let kept = axes.contains(where: { x.shape[$0] == 0 }) ? Tensor(shape: keptShape, repeating: empty) : f(x, axes)
      if n.int("keepdims", default: 1) != 0 { return [.float(kept)] }
      return [.float(kept.reshaped(x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }))]
    }
  }
}
