import WinnowCore
import WinnowNN

/// The parameters pruning acts on by default: weights of rank ≥ 2 (linear and convolution
/// kernels, embeddings). Biases and normalisation parameters stay dense, as in the papers.
public func prunableParameters(of model: Layer) -> [(name: String, shape: [Int])] {
  model.parameterShapes.filter { $0.shape.count >= 2 }
}

/// Scores that rank weights for pruning: lower scores are pruned first.
public enum ImportanceScores {
  /// `|w|` of each weight as the model computes with it (already-pruned weights score 0).
  public static func magnitude(of model: Layer, names: [String]) -> [String: Tensor] {
    let wanted = Set(names)
    var scores: [String: Tensor] = [:]
    model.visitParameters { name, p in
      if wanted.contains(name) { scores[name] = p.effective.detached.abs() }
    }
    return scores
  }

  /// Independent uniform scores from a seeded generator: random pruning. Already-pruned
  /// weights score −1, so they stay pruned.
  public static func random(of model: Layer, names: [String], seed: UInt64) -> [String: Tensor] {
    var rng = RandomGenerator(seed: seed)
    let wanted = Set(names)
    var scores: [String: Tensor] = [:]
    model.visitParameters { name, p in
      guard wanted.contains(name) else { return }
      let mask = p.mask
      scores[name] = Tensor(shape: p.shape) { s in
        for i in s.indices { s[i] = rng.nextUnitFloat() }
        if let mask { mask.withUnsafeBufferPointer { m in for i in s.indices where m[i] == 0 { s[i] = -1 } } }
      }
    }
    return scores
  }
}

/// Number of weights to prune for sparsity `s` of `count` weights: `round(s·count)` with ties
/// to even, exactly as PyTorch's `torch.nn.utils.prune` counts.
public func pruneCount(sparsity: Double, count: Int) -> Int {
  Int((sparsity * Double(count)).rounded(.toNearestOrEven))
}
