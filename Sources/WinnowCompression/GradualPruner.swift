import WinnowCore
import WinnowNN

/// Gradual magnitude pruning during training (Zhu & Gupta 2017): at each pruning step of the
/// cubic ``GradualSchedule`` the smallest-magnitude weights are masked until the scheduled
/// sparsity is reached. Already-pruned weights have zero magnitude, so masks only grow.
///
/// Use ``install(on:)`` to run it inside a ``Trainer``; it depends only on the model and the
/// step, so a resumed run prunes exactly as an uninterrupted one.
public struct GradualPruner: Sendable {
  public var schedule: GradualSchedule
  public var names: [String]
  /// Rank all layers together (true) or prune each layer to the scheduled sparsity.
  public var global: Bool

  public init(schedule: GradualSchedule, names: [String], global: Bool) {
    self.schedule = schedule
    self.names = names
    self.global = global
  }

  /// Updates the masks when `step` is a pruning step; returns the sparsity applied, if any.
  @discardableResult
  public func update(_ model: Layer, step: Int) throws(PruningError) -> Double? {
    guard schedule.prunes(at: step) else { return nil }
    let s = schedule.sparsity(at: step)
    try Pruning.magnitude(model, sparsity: s, global: global, names: names)
    return s
  }

  /// Runs ``update(_:step:)`` before every training step of `trainer`.
  public func install(on trainer: Trainer) {
    let pruner = self
    trainer.beforeStep = { model, state in
      // The schedule and names were validated at construction; an error here is a bug.
      do { try pruner.update(model, step: state.globalStep) } catch { preconditionFailure("gradual pruning: \(error)") }
    }
  }
}
