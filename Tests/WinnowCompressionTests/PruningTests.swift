import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

private func lenet(seed: UInt64 = 0) -> Layer {
  ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: seed)
}

private func countZeros(_ t: Tensor) -> Int { t.scalars.filter { $0 == 0 }.count }

@Suite struct PruningTests {
  @Test(arguments: [0.5, 0.8, 0.9, 0.95, 0.98])
  func layerwiseMagnitudeReachesExactSparsityInEveryLayer(sparsity: Double) throws {
    let model = lenet()
    let masks = try Pruning.magnitude(model, sparsity: sparsity, global: false)
    for (name, shape) in prunableParameters(of: model) {
      let count = shape.reduce(1, *)
      #expect(countZeros(masks[name]!) == pruneCount(sparsity: sparsity, count: count), "\(name)")
    }
    // The model computes with exactly those zeros, and the pruned weights are the smallest.
    let report = SparsityReport(model: model)
    for e in report.entries where e.masked {
      #expect(e.count - e.nonZero == pruneCount(sparsity: sparsity, count: e.count))
    }
  }

  @Test(arguments: [0.5, 0.9, 0.98])
  func globalMagnitudeReachesExactGlobalSparsity(sparsity: Double) throws {
    let model = lenet()
    let names = prunableParameters(of: model).map(\.name)
    let before = ImportanceScores.magnitude(of: model, names: names)
    let masks = try Pruning.magnitude(model, sparsity: sparsity, global: true)
    let total = names.reduce(0) { $0 + masks[$1]!.count }
    let zeros = names.reduce(0) { $0 + countZeros(masks[$1]!) }
    #expect(zeros == pruneCount(sparsity: sparsity, count: total))
    // Every kept weight is at least as large as every pruned one.
    var kept = Float.infinity, pruned: Float = 0
    for name in names {
      for (w, m) in zip(before[name]!.scalars, masks[name]!.scalars) {
        if m == 1 { kept = min(kept, w) } else { pruned = max(pruned, w) }
      }
    }
    #expect(pruned <= kept)
  }

  @Test(arguments: [(2, 4), (1, 4), (4, 8), (1, 2)])
  func nmPatternHoldsInEveryGroup(n: Int, m: Int) throws {
    var rng = RandomGenerator(seed: 1)
    let model = Sequential([Linear(16, 8, rng: &rng), Linear(8, 4, rng: &rng)])
    let names = prunableParameters(of: model).map(\.name)
    let masks = try Pruning.apply(.nm(n: n, m: m, names: names), to: model)
    for name in names {
      let values = masks[name]!.scalars
      for start in stride(from: 0, to: values.count, by: m) {
        #expect(values[start..<(start + m)].filter { $0 == 1 }.count == n, "\(name) group at \(start)")
      }
    }
  }

  @Test func nmKeepsTheLargestInEachGroup() throws {
    let model = Linear(weight: Tensor(shape: [1, 8], scalars: [0.1, -0.9, 0.5, 0.2, 3, -2, 0.01, 1]), bias: nil)
    let masks = try Pruning.apply(.nm(n: 2, m: 4, names: ["weight"]), to: model)
    #expect(masks["weight"]!.scalars == [0, 1, 1, 0, 1, 1, 0, 0])
  }

  @Test func masksSurviveOptimizerStepsAndCheckpoints() throws {
    let model = lenet()
    let masks = try Pruning.magnitude(model, sparsity: 0.9, global: true)
    var optimizer = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3)
    var adam = Adam.adamW(learningRate: 0.01)
    let x = randomTensor([4, 1, 28, 28], seed: 3)
    for step in 0..<3 {
      let (_, grads) = valueWithGradients(of: model) { crossEntropy(model(x), labels: [1, 2, 3, 4]) }
      if step % 2 == 0 { optimizer.update(model, with: grads) } else { adam.update(model, with: grads) }
    }
    #expect(MaskSet(of: model) == masks)
    model.visitParameters { name, p in
      guard let m = masks[name] else { return }
      for (w, keep) in zip(p.value.scalars, m.scalars) where keep == 0 { #expect(w == 0, "\(name)") }
    }
    // Save and load through a checkpoint: the masks and the zeros come back.
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("masks-\(getpid()).ckpt").path
    try Checkpoint(spec: ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10), configuration: TrainingConfiguration(),
                   state: TrainingState(seed: 0), model: model, optimizer: optimizer).write(path: path)
    let loaded = lenet(seed: 5)
    try Checkpoint.read(path: path).restore(into: loaded, file: path)
    #expect(MaskSet(of: loaded) == masks)
    #expect(SparsityReport(model: loaded) == SparsityReport(model: model))
  }

  @Test func planRoundTripsThroughJSONAndAppliesToAnotherCopy() throws {
    let model = lenet()
    let masks = try Pruning.magnitude(model, sparsity: 0.8, global: true)
    let plan = PruningPlan(realizing: masks)
    let decoded = try JSONDecoder().decode(PruningPlan.self, from: plan.jsonData())
    #expect(decoded == plan)
    let copy = lenet()
    let again = try Pruning.apply(decoded, to: copy)
    #expect(again == masks)   // same weights, same per-layer sparsities ⇒ same masks
    #expect(plan.description.contains("fc1.weight"))
  }

  @Test func sameSeedSameRandomMasks() throws {
    let a = try Pruning.random(lenet(), sparsity: 0.9, allocation: .erdosRenyiKernel, seed: 4)
    let b = try Pruning.random(lenet(), sparsity: 0.9, allocation: .erdosRenyiKernel, seed: 4)
    let c = try Pruning.random(lenet(), sparsity: 0.9, allocation: .erdosRenyiKernel, seed: 5)
    #expect(a == b)
    #expect(a != c)
  }

  /// The sweep's "random, same layer sparsities" baseline: exact per-layer counts, including a
  /// layer that global pruning emptied (which a plan of sparsities cannot express).
  @Test func sameCountsReproducesEveryLayerIncludingAnEmptiedOne() throws {
    let model = lenet()
    var masks = try Pruning.magnitude(lenet(), sparsity: 0.9, global: true)
    masks.masks["conv1.weight"] = Tensor.zeros(like: masks.masks["conv1.weight"]!)
    let names = masks.masks.keys.sorted()
    let chosen = try MaskSelection.sameCounts(as: masks, scores: ImportanceScores.random(of: model, names: names, seed: 7))
    func zeros(_ t: Tensor) -> Int { t.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
    for name in names { #expect(zeros(chosen.masks[name]!) == zeros(masks.masks[name]!), "\(name)") }
    #expect(chosen.masks["fc1.weight"] != masks.masks["fc1.weight"], "random scores should choose other weights")
    try chosen.apply(to: model)
    var conv1: [Float] = []
    model.visitParameters { name, p in if name == "conv1.weight" { conv1 = p.effective.scalars } }
    #expect(!conv1.isEmpty && conv1.allSatisfy { $0 == 0 })
  }

  @Test func erdosRenyiKernelMeetsTheBudgetAndFavoursSmallLayers() throws {
    let shapes = prunableParameters(of: lenet())
    let sparsities = try LayerAllocation.erdosRenyiKernel.sparsities(for: shapes, globalSparsity: 0.9)
    let total = shapes.reduce(0.0) { $0 + Double($1.shape.reduce(1, *)) }
    let kept = shapes.reduce(0.0) { $0 + (1 - sparsities[$1.name]!) * Double($1.shape.reduce(1, *)) }
    #expect(abs(kept / total - 0.1) < 1e-9)
    #expect(sparsities["conv1.weight"]! < sparsities["fc1.weight"]!)
    #expect(sparsities.values.allSatisfy { $0 >= 0 && $0 < 1 })
  }

  @Test func cubicScheduleEqualsItsFormulaAtEveryStep() throws {
    let schedule = try GradualSchedule(initialSparsity: 0.1, finalSparsity: 0.9, startStep: 10, pruningSteps: 8, frequency: 5)
    for t in 0...80 {
      let expected: Double
      if t < 10 { expected = 0 } else {
        let p = min(Double(t - 10) / 40, 1)
        expected = 0.9 + (0.1 - 0.9) * pow(1 - p, 3)
      }
      #expect(abs(schedule.sparsity(at: t) - expected) < 1e-12, "step \(t)")
      #expect(schedule.prunes(at: t) == (t >= 10 && t <= 50 && (t - 10) % 5 == 0))
    }
    #expect(abs(schedule.sparsity(at: 10) - 0.1) < 1e-12)
    #expect(abs(schedule.sparsity(at: 50) - 0.9) < 1e-12)
  }
}

@Suite struct PruningErrorTests {
  @Test func unknownLayerIsNamed() {
    let plan = PruningPlan(layers: ["fc9.weight": .sparsity(0.5)])
    #expect(throws: PruningError.self) { try plan.validate(against: lenet()) }
    do { try plan.validate(against: lenet()) } catch { #expect("\(error)".contains("fc9.weight")) }
  }

  @Test(arguments: [-0.1, 1.0, 1.5, Double.nan])
  func impossibleSparsityIsRejected(s: Double) {
    #expect(throws: PruningError.self) { try PruningPlan(layers: ["fc1.weight": .sparsity(s)]).validate(against: lenet()) }
    #expect(throws: PruningError.self) { try Pruning.magnitude(lenet(), sparsity: s, global: true) }
  }

  @Test func patternThatDoesNotDivideNamesTheLayer() {
    // conv1 rows have 1·5·5 = 25 weights: not a multiple of 4.
    let plan = PruningPlan.nm(n: 2, m: 4, names: ["conv1.weight"])
    #expect(throws: PruningError.patternDoesNotDivide(layer: "conv1.weight", n: 2, m: 4, rowLength: 25)) {
      try plan.validate(against: lenet())
    }
    #expect(throws: PruningError.invalidPattern(n: 4, m: 4)) {
      try PruningPlan.nm(n: 4, m: 4, names: ["fc1.weight"]).validate(against: lenet())
    }
  }

  @Test func maskWithWrongShapeIsRejected() {
    let masks = MaskSet(["fc1.weight": Tensor.ones([120, 399])])
    #expect(throws: PruningError.maskShapeMismatch(layer: "fc1.weight", expected: [120, 400], actual: [120, 399])) {
      try masks.apply(to: lenet())
    }
    #expect(throws: PruningError.notAMask(layer: "fc3.weight")) {
      try MaskSet(["fc3.weight": Tensor(shape: [10, 84], repeating: 0.5)]).apply(to: lenet())
    }
  }
}

/// Masks equal PyTorch's `torch.nn.utils.prune` for the same weights.
///
/// Fixture: `Fixtures/pruning.safetensors`, written by `Utilities/Reference/make_pruning_fixtures.py`
/// (torch 2.15.0). Exact equality: both rank the same float32 magnitudes and the weights have no ties.
@Suite struct PyTorchPruningParityTests {
  static let layers = ["conv1.weight", "fc1.weight", "fc3.weight"]

  func fixture() throws -> SafetensorsFile {
    guard let url = Bundle.module.url(forResource: "pruning", withExtension: "safetensors", subdirectory: "Fixtures") else {
      Issue.record("missing fixture pruning.safetensors: run Utilities/Reference/make_pruning_fixtures.py")
      throw PruningError.malformedPlan(reason: "missing fixture")
    }
    let file = try SafetensorsFile.read(path: url.path)
    #expect(file.metadata["fixture_version"] == "1", "re-run Utilities/Reference/make_pruning_fixtures.py")
    return file
  }

  @Test(arguments: ["0.5", "0.9", "0.37"])
  func globalUnstructuredMatchesTorch(amount: String) throws {
    let file = try fixture()
    let scores = Dictionary(uniqueKeysWithValues: Self.layers.map { ($0, file.tensors["weight.\($0)"]!.abs()) })
    let masks = try MaskSelection.global(scores: scores, names: Self.layers, sparsity: Double(amount)!)
    for name in Self.layers { #expect(masks[name] == file.tensors["global.\(amount).\(name)"], "\(name) at \(amount)") }
  }

  @Test(arguments: ["0.5", "0.9", "0.37"])
  func l1UnstructuredMatchesTorch(amount: String) throws {
    let file = try fixture()
    let scores = Dictionary(uniqueKeysWithValues: Self.layers.map { ($0, file.tensors["weight.\($0)"]!.abs()) })
    let masks = try MaskSelection.layerwise(scores: scores, sparsity: Dictionary(uniqueKeysWithValues: Self.layers.map { ($0, Double(amount)!) }))
    for name in Self.layers { #expect(masks[name] == file.tensors["layer.\(amount).\(name)"], "\(name) at \(amount)") }
  }
}
