/// The cubic sparsity schedule of gradual magnitude pruning (Zhu & Gupta 2017, "To prune,
/// or not to prune"):
///
///     s_t = s_f + (s_i − s_f)·(1 − (t − t₀)/(n·Δt))³   for t₀ ≤ t ≤ t₀ + n·Δt
///
/// pruning every Δt steps from step t₀, n times; before t₀ nothing is pruned and after the
/// last step the sparsity stays at s_f.
public struct GradualSchedule: Sendable, Hashable, Codable {
  public var initialSparsity: Double
  public var finalSparsity: Double
  public var startStep: Int
  /// n: how many pruning events.
  public var pruningSteps: Int
  /// Δt: steps between pruning events.
  public var frequency: Int

  public init(initialSparsity: Double = 0, finalSparsity: Double, startStep: Int = 0, pruningSteps: Int, frequency: Int) throws(PruningError) {
    for s in [initialSparsity, finalSparsity] where !(s >= 0 && s < 1) {
      throw .impossibleSparsity(layer: "(schedule)", sparsity: s)
    }
    guard pruningSteps >= 1, frequency >= 1, startStep >= 0 else {
      throw .malformedPlan(reason: "gradual schedule needs pruning steps ≥ 1, frequency ≥ 1 and start ≥ 0")
    }
    self.initialSparsity = initialSparsity
    self.finalSparsity = finalSparsity
    self.startStep = startStep
    self.pruningSteps = pruningSteps
    self.frequency = frequency
  }

  public var endStep: Int { startStep + pruningSteps * frequency }

  /// Target sparsity at step `t`.
  public func sparsity(at t: Int) -> Double {
    if t < startStep { return 0 }
    let progress = min(Double(t - startStep) / Double(pruningSteps * frequency), 1)
    let remaining = 1 - progress
    return finalSparsity + (initialSparsity - finalSparsity) * remaining * remaining * remaining
  }

  /// Whether masks are recomputed at step `t`.
  public func prunes(at t: Int) -> Bool {
    t >= startStep && t <= endStep && (t - startStep) % frequency == 0
  }
}
