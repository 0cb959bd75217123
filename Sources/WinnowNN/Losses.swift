import WinnowCore

/// Mean cross-entropy between `logits` (`N×K`) and integer class `labels`.
///
/// With label smoothing ε the target is `(1−ε)·onehot + ε/K` (PyTorch's `label_smoothing`).
public func crossEntropy(_ logits: Tensor, labels: [Int], labelSmoothing: Float = 0) -> Tensor {
  precondition(logits.rank == 2 && logits.shape[0] == labels.count,
               "crossEntropy needs N×K logits for \(labels.count) labels, got \(logits.shape)")
  let (n, k) = (logits.shape[0], logits.shape[1])
  let on = 1 - labelSmoothing + labelSmoothing / Float(k), off = labelSmoothing / Float(k)
  let target = Tensor(shape: [n, k]) { t in
    t.update(repeating: off)
    for (i, label) in labels.enumerated() {
      precondition(label >= 0 && label < k, "label \(label) out of range 0..<\(k)")
      t[i * k + label] = on
    }
  }
  return -(logits.logSoftmax(axis: 1) * target).sum() * (1 / Float(n))
}

/// Mean squared error over all elements.
public func meanSquaredError(_ prediction: Tensor, _ target: Tensor) -> Tensor {
  (prediction - target).squared().mean()
}

/// KL divergence `KL(p‖q)` averaged over the batch (PyTorch's `kl_div(..., "batchmean")`),
/// from the student's log-probabilities `logQ` and the teacher's probabilities `p` (`N×K`).
public func klDivergence(logQ: Tensor, p: Tensor) -> Tensor {
  let logP = p.detached.maximum(Tensor(1e-30)).log()
  return (p * (logP - logQ)).sum() * (1 / Float(logQ.shape[0]))
}

/// Fraction of rows of `logits` whose largest entry is at the label.
public func accuracy(_ logits: Tensor, labels: [Int]) -> Float {
  let predicted = logits.argmax(axis: 1)
  let correct = zip(predicted, labels).filter { $0 == $1 }.count
  return labels.isEmpty ? 0 : Float(correct) / Float(labels.count)
}
