import WinnowCore

/// Training losses: `NegativeLogLikelihoodLoss` and `SoftmaxCrossEntropyLoss`.
extension ONNXOperators {
  static let losses: [String: Kernel] = [
    "NegativeLogLikelihoodLoss": { n throws(ONNXError) in [try negativeLogLikelihood(n.float(0), n)] },
    "SoftmaxCrossEntropyLoss": { n throws(ONNXError) in
      let scores = try n.float(0)
      guard scores.rank >= 2 else { throw n.fail("scores must be N×C×…, got \(scores.shape)") }
      let logProbabilities = scores.logSoftmax(axis: 1)
      return [try negativeLogLikelihood(logProbabilities, n), .float(logProbabilities)]
    },
  ]

  /// `loss[n, d…] = −w[t]·input[n, t, d…]` with `t = target[n, d…]` (weight 0 where `t` is
  /// `ignore_index`), then `none`, `sum`, or `mean` = sum / Σ weights. The picked entries
  /// are a gather of the flattened input, so the loss is differentiable.
  static func negativeLogLikelihood(_ input: Tensor, _ n: ONNXNode) throws(ONNXError) -> ONNXValue {
    let target = try n.integers(1)
    guard input.rank >= 2 else { throw n.fail("input must be N×C×…, got \(input.shape)") }
    let classes = input.shape[1]
    guard target.shape == [input.shape[0]] + input.shape[2...] else {
      throw n.fail("target \(target.shape) does not fit input \(input.shape)")
    }
    let weights = n.has(2) ? try n.float(2).scalars : nil
    if let weights, weights.count != classes { throw n.fail("weight has \(weights.count) entries for \(classes) classes") }
    let ignored = n.attribute("ignore_index").map { $0.i }
    let inner = input.shape[2...].reduce(1, *)
    var flat: [Int] = [], scale: [Float] = []
    for (position, t) in target.values.enumerated() {
      let (sample, rest) = (position / Swift.max(inner, 1), position % Swift.max(inner, 1))
      if t == ignored {
        flat.append(0)
        scale.append(0)
        continue
      }
      guard t >= 0 && t < Int64(classes) else { throw n.fail("target \(t) is out of range for \(classes) classes") }
      flat.append((sample * classes + Int(t)) * inner + rest)
      scale.append(weights?[Int(t)] ?? 1)
    }
    let picked = input.reshaped([input.count, 1]).gather(rows: flat, indexShape: target.shape).reshaped(target.shape)
    let loss = -(picked * Tensor(shape: target.shape, scalars: scale))
    switch n.string("reduction", default: "mean") {
    case "none": return .float(loss)
    case "sum": return .float(loss.sum())
    case "mean": return .float(loss.sum() / scale.reduce(0, +))
    case let other: throw n.fail("unknown reduction '\(other)'")
    }
  }
}
