import WinnowCore
import WinnowNN

/// Layer-adaptive magnitude-based pruning scores (Lee, Park, Mo, Ahn & Shin 2021,
/// "Layer-adaptive sparsity for the magnitude-based pruning").
///
/// Within each layer, index the surviving weights in ascending order of magnitude
/// (|w₁| ≤ |w₂| ≤ … ≤ |w_d|, ties by position); then
///
///     score(u) = w_u² / Σ_{v ≥ u} w_v²
///
/// the share of the layer's remaining squared norm that weight u carries once all smaller
/// weights are gone. Ranking all layers together by this score (global selection) gives
/// per-layer sparsities with no hyper-parameter; the paper shows it minimises an upper bound on
/// the model-level ℓ₂ output distortion. Within one layer the order equals magnitude order, so
/// LAMP only changes *how much* each layer is pruned.
///
/// Worked example, w = [0.1, −0.3, 0.2, 0.4]: sorted squares 0.01, 0.04, 0.09, 0.16 with
/// suffix sums 0.30, 0.29, 0.25, 0.16, so the scores are [0.01/0.30, 0.09/0.25, 0.04/0.29, 1].
///
/// The largest weight of every layer scores exactly 1, and every other weight scores at most
/// 1, so global LAMP pruning never empties a layer as long as it prunes at most (total − number
/// of layers) weights. Already-pruned weights (mask 0) score −∞. A layer whose surviving
/// weights are all zero scores 1 on its last one (by position) and 0 elsewhere.
public enum LAMP {
  /// LAMP scores of one weight tensor; `mask` marks the surviving weights (all when nil).
  public static func scores(of weight: Tensor, mask: Tensor? = nil) -> Tensor {
    let w = weight.scalars
    let live = mask.map { m in m.scalars.enumerated().filter { $0.element != 0 }.map(\.offset) } ?? Array(w.indices)
    let order = live.sorted { a, b in
      let (x, y) = (abs(w[a]), abs(w[b]))
      return x < y || (x == y && a < b)
    }
    var result = [Float](repeating: -.infinity, count: w.count)
    var suffix = 0.0
    for (rank, i) in order.enumerated().reversed() {
      let square = Double(w[i]) * Double(w[i])
      suffix += square
      if suffix > 0 {
        result[i] = Float(square / suffix)
      } else {
        result[i] = rank == order.count - 1 ? 1 : 0
      }
    }
    return Tensor(shape: weight.shape, scalars: result)
  }

  /// LAMP scores of the parameters `names` of `model`, from their effective (masked) values.
  public static func scores(of model: Layer, names: [String]) throws(PruningError) -> [String: Tensor] {
    try requireParameters(names, of: model)
    let wanted = Set(names)
    var result: [String: Tensor] = [:]
    model.visitParameters { name, p in
      if wanted.contains(name) { result[name] = scores(of: p.effective.detached, mask: p.mask) }
    }
    return result
  }
}

extension Pruning {
  /// Prunes `sparsity` of the weights `names` (default: all weights of rank ≥ 2) by global
  /// selection on ``LAMP`` scores, and applies the masks.
  ///
  /// - Throws: `.impossibleSparsity` unless 0 ≤ sparsity < 1; `.unknownLayer`.
  @discardableResult
  public static func lamp(_ model: Layer, sparsity: Double, names: [String]? = nil) throws(PruningError) -> MaskSet {
    let names = names ?? prunableParameters(of: model).map(\.name)
    try requireSparsity(sparsity)
    let masks = try MaskSelection.global(scores: try LAMP.scores(of: model, names: names), names: names, sparsity: sparsity)
    try masks.apply(to: model)
    return masks
  }
}
