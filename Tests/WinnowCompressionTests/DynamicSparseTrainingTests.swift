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
  c.seed = 11
  return c
}

private let mlp = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)

private func activeCounts(_ model: Layer) -> [String: Int] {
  MaskSet(of: model).masks.mapValues { $0.scalars.filter { $0 == 1 }.count }
}

private func method(_ growth: DynamicSparseTraining.Growth, seed: UInt64 = 1) throws -> DynamicSparseTraining {
  growth == .random
    ? try .set(dropFraction: 0.3, updateInterval: 3, endStep: 28, seed: seed)
    : try .rigL(dropFraction: 0.3, updateInterval: 3, endStep: 28, seed: seed)
}

@Suite struct DynamicSparseTrainingTests {
  /// Active: 0.5, −0.1, 0.8, 0.05 at 0, 1, 4, 5. Drop 2 (ζ = 0.5): 5 and 1. Candidates 1, 2,
  /// 3, 5, 6, 7 with |∂L/∂W| 0.2, 0.3, 2, 0.1, 3, 0.5: grow 6 and 3.
  @Test func rigLRegrowsAtTheLargestDenseGradients() throws {
    let model = Linear(weight: Tensor(shape: [1, 8], scalars: [0.5, -0.1, 0, 0, 0.8, 0.05, 0, 0]), bias: nil)
    model.weight.mask = Tensor(shape: [1, 8], scalars: [1, 1, 0, 0, 1, 1, 0, 0])
    let rigL = try DynamicSparseTraining(growth: .gradient, dropFraction: 0.5, dropSchedule: .constant, updateInterval: 1, endStep: 10, seed: 0)
    let gradient = Tensor(shape: [1, 8], scalars: [9, 0.2, 0.3, 2, -9, 0.1, -3, 0.5])
    let change = try rigL.update(model, step: 1, denseGradients: Gradients(["weight": gradient]))
    #expect(change["weight"] == .init(dropped: [1, 5], grown: [3, 6]))
    #expect(model.weight.mask!.scalars == [1, 0, 0, 1, 1, 0, 1, 0])
    #expect(model.weight.value.scalars == [0.5, 0, 0, 0, 0.8, 0, 0, 0])

    // A connection just dropped competes with the inactive ones and restarts from 0.
    let again = try rigL.update(model, step: 2, denseGradients: Gradients(["weight": Tensor(shape: [1, 8], scalars: [0, 0, 0, 1, 0, 0, 0, 0.4])]))
    #expect(again["weight"] == .init(dropped: [3, 6], grown: [3, 7]))
    #expect(model.weight.mask!.scalars == [1, 0, 0, 1, 1, 0, 0, 1])
    #expect(model.weight.value.scalars == [0.5, 0, 0, 0, 0.8, 0, 0, 0])
    #expect(throws: PruningError.self) { try rigL.update(model, step: 3) }
  }

  @Test func dropFractionIsCosineAnnealedForRigLAndConstantForSET() throws {
    let rigL = try DynamicSparseTraining.rigL(dropFraction: 0.4, updateInterval: 10, endStep: 100, seed: 0)
    #expect(rigL.dropFraction(at: 0) == 0.4 && abs(rigL.dropFraction(at: 50) - 0.2) < 1e-12 && abs(rigL.dropFraction(at: 100)) < 1e-12)
    #expect([0, 10, 20, 95, 100, 110].map(rigL.updates(at:)) == [false, true, true, false, false, false])
    let set = try DynamicSparseTraining.set(updateInterval: 10, endStep: 100, seed: 0)
    #expect(set.dropFraction(at: 70) == 0.3)
    #expect(throws: PruningError.self) { try DynamicSparseTraining.set(dropFraction: 1, updateInterval: 10, endStep: 100, seed: 0) }
    #expect(throws: PruningError.self) { try DynamicSparseTraining.rigL(updateInterval: 0, endStep: 100, seed: 0) }
  }

  /// Pruned weights are exactly 0, so the straight-through forward is the dense forward and
  /// its gradient is the dense gradient, bit for bit.
  @Test func straightThroughGivesTheDenseGradient() throws {
    let model = mlp.build(seed: 2)
    try Pruning.random(model, sparsity: 0.8, allocation: .erdosRenyiKernel, seed: 3)
    let dense = mlp.build(seed: 0)
    try loadStateDictionary(parameterValues(of: model), into: dense, file: "test")
    let x = randomTensor([4, 1, 8, 8], seed: 4)
    model.visitParameters { _, p in p.straightThrough = p.mask != nil }
    let (_, g) = valueWithGradients(of: model) { crossEntropy(model(x), labels: [1, 2, 3, 4]) }
    let (_, reference) = valueWithGradients(of: dense) { crossEntropy(dense(x), labels: [1, 2, 3, 4]) }
    #expect(g.byName == reference.byName)
  }

  @Test(arguments: [DynamicSparseTraining.Growth.random, .gradient], [LayerAllocation.uniform, .erdosRenyiKernel])
  func perLayerCountsStayExactlyConstant(growth: DynamicSparseTraining.Growth, allocation: LayerAllocation) throws {
    let (train, _) = try smallDigits()
    let trainer = Trainer(spec: mlp, configuration: configuration(epochs: 2))
    let dst = try method(growth)
    try dst.initialize(trainer.model, sparsity: 0.9, allocation: allocation)
    let counts = activeCounts(trainer.model)
    #expect(counts.count == 3)
    dst.install(on: trainer)
    var changed = 0
    var previous = MaskSet(of: trainer.model)
    trainer.afterStep = { state in
      #expect(activeCounts(trainer.model) == counts, "step \(state.globalStep)")
      trainer.model.visitParameters { name, p in
        guard let mask = p.mask else { return }
        #expect(!p.straightThrough)
        #expect(zip(mask.scalars, p.value.scalars).allSatisfy { $0 == 1 || $1 == 0 }, "\(name): inactive weights are 0")
      }
      let masks = MaskSet(of: trainer.model)
      if masks != previous { changed += 1 }
      #expect((masks != previous) == dst.updates(at: state.globalStep - 1), "step \(state.globalStep)")
      previous = masks
      return true
    }
    try trainer.run(train: train, test: nil)
    #expect(changed == 5, "updates at steps 3, 6, 9, 12 and 15 of 16")
  }

  @Test(arguments: [DynamicSparseTraining.Growth.random, .gradient])
  func sameSeedSameMasksAndResumeRepeatsTheRun(growth: DynamicSparseTraining.Growth) throws {
    let (train, test) = try smallDigits()
    func run(seed: UInt64) throws -> Trainer {
      let trainer = Trainer(spec: mlp, configuration: configuration(epochs: 2))
      let dst = try method(growth, seed: seed)
      try dst.initialize(trainer.model, sparsity: 0.8, allocation: .erdosRenyiKernel)
      dst.install(on: trainer)
      try trainer.run(train: train, test: test)
      return trainer
    }
    let full = try run(seed: 1)
    #expect(MaskSet(of: full.model) == MaskSet(of: try run(seed: 1).model))
    if growth == .random { #expect(MaskSet(of: full.model) != MaskSet(of: try run(seed: 2).model)) }

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("dst-\(growth)-\(getpid()).ckpt").path
    let first = Trainer(spec: mlp, configuration: configuration(epochs: 2))
    let dst = try method(growth)
    try dst.initialize(first.model, sparsity: 0.8, allocation: .erdosRenyiKernel)
    dst.install(on: first)
    first.checkpointPath = path
    first.checkpointEvery = 3
    first.afterStep = { $0.globalStep < 7 }
    try first.run(train: train, test: test)
    let resumed = try Trainer(resuming: try Checkpoint.read(path: path), file: path)
    // Stopped after step 7; the checkpoint of step 6 resumes before the update at step 6.
    #expect(resumed.state.globalStep == 6)
    dst.install(on: resumed)
    try resumed.run(train: train, test: test)
    #expect(parameterValues(of: resumed.model) == parameterValues(of: full.model))
    #expect(MaskSet(of: resumed.model) == MaskSet(of: full.model))
  }
}
