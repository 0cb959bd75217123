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
  c.seed = 5
  return c
}

private let mlp = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)

/// Fails unless every group of `m` consecutive entries of `mask` holds exactly `n` ones and
/// `values` is exactly zero wherever `mask` is.
private func expectPattern(_ mask: Tensor, values: Tensor, n: Int, m: Int, _ what: String) {
  let (ms, vs) = (mask.scalars, values.scalars)
  for start in stride(from: 0, to: ms.count, by: m) {
    let group = ms[start..<(start + m)]
    if group.filter({ $0 == 1 }).count != n || group.contains(where: { $0 != 0 && $0 != 1 }) {
      Issue.record("\(what): group at \(start) is \(Array(group)), not \(n):\(m)")
      return
    }
    for j in start..<(start + m) where ms[j] == 0 && vs[j] != 0 {
      Issue.record("\(what): pruned entry \(j) computes with \(vs[j])")
      return
    }
  }
}

@Suite struct SRSTETests {
  /// ∂/∂W of L = Σ G ⊙ (x·(W ⊙ M)ᵀ) is Gᵀ·x, whatever M is; SR-STE adds λ·(1 − M) ⊙ W.
  @Test func straightThroughGradientIsUnmaskedGradientPlusSparseRefinedTerm() throws {
    let w = distinctValues([3, 8], seed: 1, spacing: 0.1)
    let model = Linear(weight: w, bias: nil)
    let x = randomTensor([5, 8], seed: 2), upstream = randomTensor([5, 3], seed: 3)
    let srste = try SRSTE(n: 2, m: 4, lambda: 0.5, names: ["weight"])
    try srste.prepare(model, step: 0)
    var (_, gradients) = valueWithGradients(of: model) { (model(x) * upstream).sum() }
    try srste.refine(&gradients, of: model, step: 0)

    let mask = try MaskSelection.nm(scores: ["weight": w.abs()], n: 2, m: 4)["weight"]!
    #expect(model.weight.mask == mask)
    let (ws, ms, xs, us) = (w.scalars, mask.scalars, x.scalars, upstream.scalars)
    var expected = [Float](repeating: 0, count: 24)
    var forward = [Float](repeating: 0, count: 15)
    for o in 0..<3 {
      for i in 0..<8 {
        let dense = (0..<5).reduce(0.0) { $0 + Double(us[$1 * 3 + o]) * Double(xs[$1 * 8 + i]) }
        expected[o * 8 + i] = Float(dense) + 0.5 * (1 - ms[o * 8 + i]) * ws[o * 8 + i]
      }
      for b in 0..<5 { forward[b * 3 + o] = Float((0..<8).reduce(0.0) { $0 + Double(xs[b * 8 + $1]) * Double(ws[o * 8 + $1] * ms[o * 8 + $1]) }) }
    }
    // Float32 sums of 5 (gradient) and 8 (forward) products of values below ~4: 1e-5 absolute.
    #expect(gradientMismatch(gradients["weight"]!, Tensor(shape: [3, 8], scalars: expected), atol: 1e-5, rtol: 1e-5) == nil)
    #expect(gradientMismatch(model(x), Tensor(shape: [5, 3], scalars: forward), atol: 1e-5, rtol: 1e-5) == nil)
    // The gradient reaches pruned weights: it is not the masked gradient.
    #expect(zip(gradients["weight"]!.scalars, ms).contains { $1 == 0 && $0 != 0 })
  }

  @Test func hardMasksFreezePrunedWeightsWhileSRSTEKeepsTheDenseWeightsLearning() throws {
    var rng = RandomGenerator(seed: 4)
    let hard = Linear(16, 4, rng: &rng)
    let dense = Linear(weight: hard.weight.value, bias: hard.bias!.value)
    let masks = try Pruning.apply(.nm(n: 1, m: 4, names: ["weight"]), to: hard)
    let srste = try SRSTE(n: 1, m: 4, names: ["weight"])
    let initial = dense.weight.value
    let x = randomTensor([6, 16], seed: 5)
    var (sgdHard, sgdDense) = (SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3), SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3))
    for step in 0..<3 {
      let (_, g) = valueWithGradients(of: hard) { crossEntropy(hard(x), labels: [0, 1, 2, 3, 0, 1]) }
      sgdHard.update(hard, with: g)
      try srste.prepare(dense, step: step)
      var (_, d) = valueWithGradients(of: dense) { crossEntropy(dense(x), labels: [0, 1, 2, 3, 0, 1]) }
      try srste.refine(&d, of: dense, step: step)
      sgdDense.update(dense, with: d)
    }
    let pruned = masks["weight"]!.scalars.indices.filter { masks["weight"]!.scalars[$0] == 0 }
    #expect(pruned.allSatisfy { hard.weight.value.scalars[$0] == 0 })
    #expect(pruned.allSatisfy { dense.weight.value.scalars[$0] != initial.scalars[$0] })
  }

  @Test func everyForwardAndTheFinalModelAreExactlyNM() throws {
    let (train, test) = try smallDigits(test: 128)
    let trainer = Trainer(spec: mlp, configuration: configuration(epochs: 2))
    let names = SRSTE.eligibleParameters(of: trainer.model, m: 4)
    #expect(names == ["fc1.weight", "fc2.weight", "fc3.weight"])
    let srste = try SRSTE(n: 2, m: 4, names: names)
    try srste.install(on: trainer)
    let refine = trainer.transformGradients!
    var steps = 0
    var flips = 0
    var previous = MaskSet()
    trainer.transformGradients = { model, gradients, state in
      // After the backward pass: the masks and values below are the ones the forward used.
      let dense = parameterValues(of: model)
      let recomputed = try! MaskSelection.nm(scores: Dictionary(uniqueKeysWithValues: names.map { ($0, dense[$0]!.abs()) }), n: 2, m: 4)
      model.visitParameters { name, p in
        guard names.contains(name) else { return }
        #expect(p.straightThrough && p.mask == recomputed[name], "\(name) step \(state.globalStep)")
        expectPattern(p.mask!, values: p.effective, n: 2, m: 4, "\(name) step \(state.globalStep)")
        if let old = previous[name] { flips += zip(old.scalars, p.mask!.scalars).filter { $0 != $1 }.count }
      }
      previous = MaskSet(of: model)
      steps += 1
      refine(model, &gradients, state)
    }
    try trainer.run(train: train, test: nil)
    #expect(steps == 16)
    #expect(flips > 0, "masks are recomputed from the learning dense weights")
    let final = try srste.finalize(trainer.model)
    trainer.model.visitParameters { name, p in
      guard let mask = final[name] else { return }
      #expect(!p.straightThrough)
      expectPattern(mask, values: p.value, n: 2, m: 4, "final \(name)")
    }
    // 2:4 everywhere: exactly half of each named weight is zero.
    for e in SparsityReport(model: trainer.model).entries where names.contains(e.name) { #expect(e.nonZero == e.count / 2) }
  }

  /// The paper's claim at small scale: 2:4 from scratch matches the dense model.
  @Test func twoFourMLPMatchesTheDenseMLPOnDigits() throws {
    let (all, allTest) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
    let stats = all.pixelStatistics
    let train = all.normalized(mean: stats.mean, standardDeviation: stats.standardDeviation)
    let test = allTest.normalized(mean: stats.mean, standardDeviation: stats.standardDeviation)
    let dense = Trainer(spec: mlp, configuration: configuration(epochs: 5))
    try dense.run(train: train, test: nil)
    let sparse = Trainer(spec: mlp, configuration: configuration(epochs: 5))
    let srste = try SRSTE(n: 2, m: 4, names: SRSTE.eligibleParameters(of: sparse.model, m: 4))
    try srste.install(on: sparse)
    try sparse.run(train: train, test: nil)
    try srste.finalize(sparse.model)
    let (d, s) = (evaluate(dense.model, on: test).accuracy, evaluate(sparse.model, on: test).accuracy)
    // 360 test digits: 2 points is 7 images.
    #expect(s >= d - 0.02, "2:4 SR-STE \(s) vs dense \(d)")
  }

  /// The mask SR-STE computes every step is the one ``MaskSelection/nm(scores:n:m:)`` picks,
  /// ties included (weights on a coarse grid of ±0, ±0.5, ±1).
  @Test(arguments: [(2, 4), (1, 4), (1, 8), (3, 8)])
  func stepMasksEqualMaskSelectionWithTies(n: Int, m: Int) throws {
    var rng = RandomGenerator(seed: UInt64(n * 10 + m))
    let w = Tensor(shape: [6, 16], scalars: (0..<96).map { _ in Float(Int(rng.next() % 5) - 2) / 2 })
    let model = Linear(weight: w, bias: nil)
    let masks = try SRSTE(n: n, m: m, names: ["weight"]).finalize(model)
    #expect(masks == (try MaskSelection.nm(scores: ["weight": w.abs()], n: n, m: m)))
  }

  @Test func resumedRunEqualsUninterrupted() throws {
    let (train, test) = try smallDigits(test: 128)
    let decay = try GradientFlowDecay(.maskExponential(rate: 0.2), denseSteps: 3, sparseStart: 20)
    func method(_ model: Layer) throws -> SRSTE {
      try SRSTE(n: 1, m: 4, decay: decay, names: SRSTE.eligibleParameters(of: model, m: 4))
    }
    let full = Trainer(spec: mlp, configuration: configuration(epochs: 2))
    try method(full.model).install(on: full)
    try full.run(train: train, test: test)

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("srste-\(getpid()).ckpt").path
    let first = Trainer(spec: mlp, configuration: configuration(epochs: 2))
    try method(first.model).install(on: first)
    first.checkpointPath = path
    first.checkpointEvery = 5
    first.afterStep = { $0.globalStep < 12 }
    try first.run(train: train, test: test)
    let resumed = try Trainer(resuming: try Checkpoint.read(path: path), file: path)
    #expect(resumed.state.globalStep == 10)
    try method(resumed.model).install(on: resumed)
    try resumed.run(train: train, test: test)
    #expect(parameterValues(of: resumed.model) == parameterValues(of: full.model))
    #expect(MaskSet(of: resumed.model) == MaskSet(of: full.model))
  }

  @Test func invalidRequestsAreRejected() throws {
    #expect(throws: PruningError.invalidPattern(n: 4, m: 4)) { try SRSTE(n: 4, m: 4, names: ["w"]) }
    #expect(throws: PruningError.self) { try SRSTE(lambda: -1, names: ["w"]) }
    #expect(throws: PruningError.self) {
      try SRSTE(n: 3, m: 8, decay: try GradientFlowDecay(.structureStepwise, sparseStart: 10), names: ["w"])
    }
    let trainer = Trainer(spec: ModelSpec(.smallcnn, inputShape: [1, 8, 8], classes: 10), configuration: configuration(epochs: 1))
    #expect(throws: PruningError.patternDoesNotDivide(layer: "conv1.weight", n: 2, m: 4, rowLength: 9)) {
      try SRSTE(names: ["conv1.weight"]).install(on: trainer)
    }
    #expect(throws: PruningError.self) { try SRSTE(names: ["nope"]).install(on: trainer) }
    #expect(SRSTE.eligibleParameters(of: trainer.model, m: 4) == ["conv2.weight", "fc1.weight", "fc2.weight"])
  }
}

@Suite struct GradientFlowDecayTests {
  @Test func maskDecaySchedulesGoFromOneToZeroAcrossThePhases() throws {
    let linear = try GradientFlowDecay(.maskLinear(rate: 0.1), denseSteps: 10, sparseStart: 30)
    let scales = [0, 9, 10, 15, 19, 20, 29, 30, 99].map(linear.prunedScale(at:))
    // β = max(0, 1 − 0.1·(t − 10)), evaluated in Double: within 1e-6 of the exact values.
    for (scale, exact) in zip(scales, [1, 1, 1, 0.5, 0.1, 0, 0, 0, 0] as [Float]) { #expect(abs(scale - exact) < 1e-6) }
    let exponential = try GradientFlowDecay(.maskExponential(rate: 0.5), denseSteps: 2, sparseStart: 8)
    #expect(exponential.prunedScale(at: 1) == 1 && exponential.prunedScale(at: 2) == 1)
    #expect(exponential.prunedScale(at: 6) == Float(exp(-2.0)))
    #expect(exponential.prunedScale(at: 7) > 0 && exponential.prunedScale(at: 8) == 0)
    #expect(!linear.prunes(at: 9) && linear.prunes(at: 10))
  }

  @Test func structureDecayTightensThePatternInEqualFrames() throws {
    let decay = try GradientFlowDecay(.structureStepwise, denseSteps: 6, sparseStart: 36)
    let patterns = [0, 5, 6, 15, 16, 25, 26, 35, 36, 100].map { decay.pattern(at: $0, n: 1, m: 8).n }
    // Dense phase: the target mask (unused, β = 1); then 7:8, 4:8, 2:8 in frames of 10 steps; 1:8.
    #expect(patterns == [1, 1, 7, 7, 4, 4, 2, 2, 1, 1])
    #expect(decay.prunedScale(at: 5) == 1 && decay.prunedScale(at: 6) == 0)
    let half = try GradientFlowDecay(.structureStepwise, sparseStart: 10)
    #expect(half.pattern(at: 3, n: 2, m: 4).n == 3 && half.pattern(at: 10, n: 2, m: 4).n == 2)
  }

  @Test func maskDecayFadesPrunedWeightsAndPassesTheGradientStraightThrough() throws {
    let w = distinctValues([2, 8], seed: 7, spacing: 0.1)
    let model = Linear(weight: w, bias: nil)
    let decay = try GradientFlowDecay(.maskLinear(rate: 0.25), denseSteps: 2, sparseStart: 10)
    let srste = try SRSTE(n: 1, m: 4, lambda: 0, decay: decay, names: ["weight"])
    let mask = try MaskSelection.nm(scores: ["weight": w.abs()], n: 1, m: 4)["weight"]!
    let x = randomTensor([3, 8], seed: 8), upstream = randomTensor([3, 2], seed: 9)
    for (step, beta) in [(0, Float(1)), (3, 0.75), (5, 0.25), (10, 0)] {
      try srste.prepare(model, step: step)
      let expected = zip(w.scalars, mask.scalars).map { $0 * ($1 + beta * (1 - $1)) }
      // value + (value·s − value) rounds once more than value·s: within 1 ulp of |w| ≤ 0.8.
      #expect(gradientMismatch(model.weight.effective, Tensor(shape: [2, 8], scalars: expected), atol: 1e-7, rtol: 0) == nil, "step \(step)")
      let (_, g) = valueWithGradients(of: model) { (model(x) * upstream).sum() }
      let plain = Linear(weight: model.weight.effective, bias: nil)
      let (_, reference) = valueWithGradients(of: plain) { (plain(x) * upstream).sum() }
      #expect(g["weight"] == reference["weight"], "step \(step): ∂L/∂W = ∂L/∂W̃")
    }
    expectPattern(model.weight.mask!, values: model.weight.effective, n: 1, m: 4, "sparse phase")
  }
}
