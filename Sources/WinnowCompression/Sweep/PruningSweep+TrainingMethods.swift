import Foundation
import WinnowCore
import WinnowNN

// Sweep rows whose sparse network is trained rather than only fine-tuned: structured and
// lottery baselines, SR-STE, dynamic sparse training, and sparse model soups. Budgets follow
// the sweep's rule: what starts from a fresh network trains for `dense.epochs + finetuneEpochs`;
// what starts from the trained dense network fine-tunes for `finetuneEpochs`.
extension PruningSweep {
  func runTrainingMethod(
    _ method: SweepMethod, sparsity s: Double, base: Layer, names: [String], train: Dataset, test: Dataset, since t0: Date
  ) throws -> Result? {
    switch method {
    case .channelsScratch:
      let pruned = try clone(base)
      let (_, removed) = try channelRemoval(pruned, sparsity: s, names: names)
      let fresh = spec.build(seed: dense.seed &+ 505)
      // The same architecture traces to the same groups, so the trained network's choice of
      // channels applies to the fresh one.
      StructuredPruning.apply(DependencyGraph(tracing: fresh, inputShape: spec.inputShape), removing: removed, to: fresh)
      let epochs = try trainFromScratch(fresh, train)
      return record(method.rawValue, s, fresh, test, before: nil, since: t0,
                    note: "channel pruning's architecture, re-initialised and trained from scratch for \(epochs) epochs")
    case .srste:
      guard let (n, m) = SweepMethod.pattern(for: s) else { return nil }
      let fresh = spec.build(seed: dense.seed)
      let eligible = Set(SRSTE.eligibleParameters(of: fresh, m: m))
      let chosen = names.filter(eligible.contains)
      let srste = try SRSTE(n: n, m: m, names: chosen)
      let trainer = scratchTrainer(fresh)
      try srste.install(on: trainer)
      try trainer.run(train: train, test: nil)
      _ = try srste.finalize(fresh)
      let skipped = names.count - chosen.count
      return record("srste \(n):\(m)", s, fresh, test, before: nil, since: t0,
                    note: "from scratch for \(trainer.configuration.epochs) epochs"
                      + (skipped > 0 ? "; \(skipped) layer(s) whose rows are not a multiple of \(m) left dense" : ""))
    case .set, .rigl:
      let fresh = spec.build(seed: dense.seed)
      let trainer = scratchTrainer(fresh)
      let stepsPerEpoch = stepsPerEpoch(train), total = stepsPerEpoch * trainer.configuration.epochs
      let (end, interval) = (max(1, total * 3 / 4), max(1, stepsPerEpoch / 4))
      let dynamic = method == .rigl
        ? try DynamicSparseTraining.rigL(updateInterval: interval, endStep: end, seed: dense.seed &+ 606)
        : try DynamicSparseTraining.set(updateInterval: interval, endStep: end, seed: dense.seed &+ 606)
      _ = try dynamic.initialize(fresh, sparsity: s, allocation: .erdosRenyiKernel)
      dynamic.install(on: trainer)
      try trainer.run(train: train, test: nil)
      return record(method.rawValue, s, fresh, test, before: nil, since: t0,
                    note: "ERK, from scratch for \(trainer.configuration.epochs) epochs, connectivity updated every \(interval) steps until step \(end)")
    case .lottery, .lotteryReinit:
      let trained = try clone(base)
      let ticket = try Pruning.magnitude(trained, sparsity: s, global: true, names: names)
      // The dense run started from `spec.build(seed: dense.seed)` (Trainer's initialisation).
      let reinitialised = method == .lotteryReinit
      let fresh = spec.build(seed: reinitialised ? dense.seed &+ 1000 : dense.seed)
      try ticket.apply(to: fresh)
      let epochs = try trainFromScratch(fresh, train)
      return record(method.rawValue, s, fresh, test, before: nil, since: t0,
                    note: (reinitialised ? "the ticket's mask on a fresh initialisation" : "trained network's global magnitude mask on its initial weights")
                      + ", trained for \(epochs) epochs")
    case .soup:
      let model = try clone(base)
      try Pruning.magnitude(model, sparsity: s, global: true, names: names)
      let ingredients = (1...2).map { i -> TrainingConfiguration in
        var c = finetuner(model).configuration
        c.seed = dense.seed &+ UInt64(i)
        return c
      }
      let soup = try SparseModelSoup.run(base: .init(spec: spec, model: model), ingredients: ingredients, train: train, test: test)
      let accuracies = soup.ingredientAccuracies.map { String(format: "%.2f%%", $0 * 100) }.joined(separator: ", ")
      return record(method.rawValue, s, soup.model, test, before: nil, since: t0,
                    note: "global magnitude, 2 ingredients of \(finetuneEpochs) fine-tuning epoch(s) each (\(accuracies)), averaged")
    default:
      preconditionFailure("\(method.rawValue) is not a training method of the sweep")
    }
  }

  /// A trainer for a fresh network with the whole budget (`dense.epochs + finetuneEpochs`).
  func scratchTrainer(_ model: Layer) -> Trainer {
    var configuration = dense
    configuration.epochs = dense.epochs + finetuneEpochs
    let trainer = Trainer(spec: spec, configuration: configuration, model: model)
    trainer.progress = trainingProgress
    return trainer
  }
}
