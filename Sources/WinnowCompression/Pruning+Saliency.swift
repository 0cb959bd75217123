import WinnowCore
import WinnowNN

/// A pruning-at-initialisation criterion (see ``SaliencyScores``).
public enum SaliencyMethod: String, Sendable, Codable, CaseIterable {
  /// |g ⊙ θ| on the data (Lee et al. 2019).
  case snip
  /// θ ⊙ Hg on the data, lowest pruned first (Wang et al. 2020).
  case grasp
  /// Iterative synaptic flow, data-free (Tanaka et al. 2020).
  case synflow
}

extension Pruning {
  /// Prunes `sparsity` of the weights `names` (default: all weights of rank ≥ 2) at
  /// initialisation with one of SNIP, GraSP or SynFlow, ranking all layers together (global
  /// selection, as the three papers do), and applies the masks.
  ///
  /// SNIP and GraSP score once on `batches`; SynFlow reads only the input shape of the first
  /// batch and runs `synflowIterations` rounds (see ``synflow(_:sparsity:inputShape:iterations:names:)``).
  ///
  /// - Throws: `.impossibleSparsity` unless 0 ≤ sparsity < 1, `.unknownLayer`, and
  ///   `.emptyCalibrationData` when there is no example (or, for SynFlow, no batch at all).
  @discardableResult
  public static func atInitialisation(
    _ model: Layer, method: SaliencyMethod, sparsity: Double, data batches: [Batch], names: [String]? = nil,
    synflowIterations: Int = 100
  ) throws(PruningError) -> MaskSet {
    let names = names ?? prunableParameters(of: model).map(\.name)
    try requireSparsity(sparsity)
    try requireParameters(names, of: model)
    let scores: [String: Tensor]
    switch method {
    case .snip:
      scores = try SaliencyScores.snip(of: model, names: names, batches: batches)
    case .grasp:
      scores = try SaliencyScores.grasp(of: model, names: names, batches: batches)
    case .synflow:
      guard let first = batches.first else { throw .emptyCalibrationData(method: "SynFlow (which reads the input shape)") }
      return try synflow(model, sparsity: sparsity, inputShape: Array(first.images.shape.dropFirst()),
                         iterations: synflowIterations, names: names)
    }
    let masks = try MaskSelection.global(scores: scores, names: names, sparsity: sparsity)
    try masks.apply(to: model)
    return masks
  }

  /// ``atInitialisation(_:method:sparsity:data:names:synflowIterations:)`` on one batch.
  @discardableResult
  public static func atInitialisation(
    _ model: Layer, method: SaliencyMethod, sparsity: Double, data batch: Batch, names: [String]? = nil,
    synflowIterations: Int = 100
  ) throws(PruningError) -> MaskSet {
    try atInitialisation(model, method: method, sparsity: sparsity, data: [batch], names: names,
                         synflowIterations: synflowIterations)
  }

  /// Iterative SynFlow (Tanaka et al. 2020, Algorithm 1): with every parameter replaced by
  /// |θ|, `iterations` rounds k = 1…n each score the weights with the current masks
  /// (``SaliencyScores/synflow(of:names:inputShape:)``) and prune globally to
  ///
  ///     s_k = 1 − (1 − sparsity)^(k/n)
  ///
  /// so pruning is gradual and the flow through thin layers is re-measured before they are
  /// cut further. Afterwards the original parameter values and buffers are restored and the
  /// final masks applied. Masks only grow: weights pruned before the call stay pruned (a
  /// round never targets less than the sparsity the model already has).
  ///
  /// Cost: `iterations` forward and backward passes of one input; no data.
  @discardableResult
  public static func synflow(
    _ model: Layer, sparsity: Double, inputShape: [Int], iterations: Int = 100, names: [String]? = nil
  ) throws(PruningError) -> MaskSet {
    let names = names ?? prunableParameters(of: model).map(\.name)
    try requireSparsity(sparsity)
    try requireParameters(names, of: model)
    try requireInputShape(inputShape)
    guard iterations >= 1 else { throw .malformedPlan(reason: "SynFlow needs at least one iteration, got \(iterations)") }
    let already = prunedFraction(of: model, names: names)
    let saved = ModelState(of: model)
    SaliencyScores.linearize(model)
    var masks = MaskSet()
    for k in 1...iterations {
      let target = max(SaliencyScores.synflowSparsity(round: k, of: iterations, final: sparsity), already)
      let scores = SaliencyScores.synflowScores(of: model, names: names, inputShape: inputShape)
      do {
        masks = try MaskSelection.global(scores: scores, names: names, sparsity: min(target, sparsity))
      } catch {
        saved.restore(into: model)
        throw error
      }
      model.visitParameters { name, p in if let m = masks[name] { p.mask = m } }
    }
    saved.restore(into: model)
    try masks.apply(to: model)
    return masks
  }
}

/// Fraction of the weights `names` whose mask is 0.
func prunedFraction(of model: Layer, names: [String]) -> Double {
  let wanted = Set(names)
  var pruned = 0, total = 0
  model.visitParameters { name, p in
    guard wanted.contains(name) else { return }
    total += p.value.count
    if let m = p.mask { pruned += m.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
  }
  return total == 0 ? 0 : Double(pruned) / Double(total)
}
