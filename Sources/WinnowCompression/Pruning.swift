import WinnowCore
import WinnowNN

/// One-shot pruning entry points: score, select, apply.
public enum Pruning {
  /// Prunes `sparsity` of the prunable weights by magnitude, either layer by layer (every
  /// layer the same sparsity) or globally (all layers ranked together).
  @discardableResult
  public static func magnitude(_ model: Layer, sparsity: Double, global: Bool, names: [String]? = nil) throws(PruningError) -> MaskSet {
    let names = names ?? prunableParameters(of: model).map(\.name)
    let scores = ImportanceScores.magnitude(of: model, names: names)
    let masks = global
      ? try MaskSelection.global(scores: scores, names: names, sparsity: sparsity)
      : try MaskSelection.layerwise(scores: scores, sparsity: Dictionary(uniqueKeysWithValues: names.map { ($0, sparsity) }))
    try masks.apply(to: model)
    return masks
  }

  /// Applies a plan with the given scores (magnitude when nil).
  @discardableResult
  public static func apply(_ plan: PruningPlan, to model: Layer, scores: [String: Tensor]? = nil) throws(PruningError) -> MaskSet {
    try plan.validate(against: model)
    let scores = scores ?? ImportanceScores.magnitude(of: model, names: Array(plan.layers.keys))
    let masks = try plan.masks(scores: scores)
    try masks.apply(to: model)
    return masks
  }

  /// Random pruning with per-layer sparsities from `allocation` (the baseline every method is
  /// compared with; Liu et al. 2022).
  @discardableResult
  public static func random(_ model: Layer, sparsity: Double, allocation: LayerAllocation, seed: UInt64) throws(PruningError) -> MaskSet {
    let shapes = prunableParameters(of: model)
    let plan = try PruningPlan.allocate(allocation, sparsity: sparsity, over: shapes)
    return try apply(plan, to: model, scores: ImportanceScores.random(of: model, names: shapes.map(\.name), seed: seed))
  }
}
