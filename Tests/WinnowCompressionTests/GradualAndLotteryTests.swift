import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

private func configuration(epochs: Int) -> TrainingConfiguration {
  var c = TrainingConfiguration()
  c.epochs = epochs
  c.batchSize = 32
  c.seed = 3
  return c
}

@Suite struct GradualPruningTests {
  @Test func reachesFinalSparsityWithGrowingMasks() throws {
    let (train, test) = try smallDigits()
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    let trainer = Trainer(spec: spec, configuration: configuration(epochs: 2))
    let names = prunableParameters(of: trainer.model).map(\.name)
    let pruner = GradualPruner(schedule: try GradualSchedule(finalSparsity: 0.9, startStep: 2, pruningSteps: 4, frequency: 3),
                               names: names, global: false)
    pruner.install(on: trainer)
    var previous = MaskSet()
    var sparsities: [Double] = []
    trainer.afterStep = { state in
      let masks = MaskSet(of: trainer.model)
      // A weight once pruned stays pruned.
      for (name, old) in previous.masks {
        for (a, b) in zip(old.scalars, masks[name]!.scalars) where a == 0 { #expect(b == 0) }
      }
      previous = masks
      if pruner.schedule.prunes(at: state.globalStep - 1) { sparsities.append(SparsityReport(model: trainer.model).maskedSparsity) }
      return true
    }
    try trainer.run(train: train, test: test)
    for e in SparsityReport(model: trainer.model).entries where e.masked {
      #expect(e.count - e.nonZero == pruneCount(sparsity: 0.9, count: e.count), "\(e.name)")
    }
    #expect(sparsities == sparsities.sorted())
    #expect(sparsities.count == 5)
  }

  @Test func resumedGradualRunEqualsUninterrupted() throws {
    let (train, test) = try smallDigits()
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    func pruner(_ model: Layer) throws -> GradualPruner {
      GradualPruner(schedule: try GradualSchedule(finalSparsity: 0.8, startStep: 0, pruningSteps: 5, frequency: 2),
                    names: prunableParameters(of: model).map(\.name), global: true)
    }
    let full = Trainer(spec: spec, configuration: configuration(epochs: 2))
    try pruner(full.model).install(on: full)
    try full.run(train: train, test: test)

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gradual-\(getpid()).ckpt").path
    let first = Trainer(spec: spec, configuration: configuration(epochs: 2))
    try pruner(first.model).install(on: first)
    first.checkpointPath = path
    first.checkpointEvery = 3
    first.afterStep = { $0.globalStep < 4 }
    try first.run(train: train, test: test)
    let resumed = try Trainer(resuming: try Checkpoint.read(path: path), file: path)
    try pruner(resumed.model).install(on: resumed)
    try resumed.run(train: train, test: test)
    #expect(stateDictionary(of: resumed.model) == stateDictionary(of: full.model))
    #expect(MaskSet(of: resumed.model) == MaskSet(of: full.model))
  }
}

@Suite struct LotteryTicketTests {
  @Test func rewindRestoresStoredWeightsBitExactly() throws {
    let model = ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: 1)
    let stored = parameterValues(of: model)
    var optimizer = SGD(learningRate: 0.5, momentum: 0.9)
    let x = randomTensor([2, 1, 28, 28], seed: 9)
    for _ in 0..<2 {
      let (_, g) = valueWithGradients(of: model) { crossEntropy(model(x), labels: [3, 7]) }
      optimizer.update(model, with: g)
    }
    #expect(parameterValues(of: model) != stored)
    let masks = try Pruning.magnitude(model, sparsity: 0.5, global: true)
    try rewindParameters(of: model, to: stored)
    model.visitParameters { name, p in
      let expected = masks[name].map { (stored[name]! * $0).detached } ?? stored[name]!
      #expect(p.value == expected, "\(name)")
    }
    #expect(MaskSet(of: model) == masks)
  }

  @Test func roundsReachTheCompoundedSparsity() throws {
    let (train, test) = try smallDigits()
    let search = try LotteryTicketSearch(spec: ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10),
                                         configuration: configuration(epochs: 1), rounds: 2, fractionPerRound: 0.5, rewindStep: 2)
    let result = try search.run(train: train, test: test)
    #expect(result.rounds.map(\.sparsity) == [0, 0.5, 0.75])
    let zeros = result.ticket.masks.values.reduce(0) { $0 + $1.scalars.filter { $0 == 0 }.count }
    let total = result.ticket.masks.values.reduce(0) { $0 + $1.count }
    #expect(zeros == pruneCount(sparsity: 0.75, count: total))
    #expect(result.rewindWeights.count == 6)
  }

  @Test func invalidSearchIsRejected() {
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    #expect(throws: PruningError.self) { try LotteryTicketSearch(spec: spec, configuration: configuration(epochs: 1), rounds: 0, fractionPerRound: 0.2) }
    #expect(throws: PruningError.self) { try LotteryTicketSearch(spec: spec, configuration: configuration(epochs: 1), rounds: 2, fractionPerRound: 1) }
  }
}
