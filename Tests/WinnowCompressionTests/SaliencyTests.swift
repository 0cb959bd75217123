import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// 64 → 16 → 10 on the 8×8 digits, with a smooth activation so finite differences are clean.
private func tanhMLP(seed: UInt64) -> Sequential {
  var rng = RandomGenerator(seed: seed)
  return Sequential(named: [
    ("flatten", Flatten()), ("fc1", Linear(64, 16, rng: &rng)), ("act", Activation(.tanh)), ("fc2", Linear(16, 10, rng: &rng)),
  ])
}

private func digitsMLP(seed: UInt64 = 0) -> Layer { ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: seed) }

private func digitsBatch(_ range: Range<Int>) throws -> Batch {
  try Dataset.digits().subset(Array(range)).batches(size: range.count)[0]
}

private func names(_ model: Layer) -> [String] { prunableParameters(of: model).map(\.name) }

private func zeros(_ masks: MaskSet, _ names: [String]) -> Int {
  names.reduce(0) { $0 + masks[$1]!.scalars.filter { $0 == 0 }.count }
}

/// Pruning-at-initialisation scores (SNIP, GraSP, SynFlow) and LAMP.
@Suite struct SaliencyTests {
  @Suite struct SNIPTests {
    @Test func snipEqualsAbsoluteGradientTimesWeight() throws {
      let model = digitsMLP(seed: 1)
      let batch = try digitsBatch(0..<32)
      let scores = try SaliencyScores.snip(of: model, names: names(model), batches: [batch])
      let (_, g) = valueWithGradients(of: model) { crossEntropy(model(batch.images), labels: batch.labels) }
      model.visitParameters { name, p in
        guard let s = scores[name] else { return }
        // Same operations in the same order: equal to the last bit.
        #expect(s == (g[name]! * p.value).abs(), "\(name)")
      }
    }

    /// SNIP's |g ⊙ θ| is |∂L/∂c| for a gate c = 1 on each connection: check it against a
    /// central difference of the loss in θ (step 1e-2; tanh keeps the loss smooth, so the
    /// error is the O(h²) truncation plus Float32 loss round-off ~1e-7·|L|/h ≈ 2e-5).
    @Test func snipIsTheConnectionSensitivity() throws {
      let model = tanhMLP(seed: 2)
      let batch = try digitsBatch(0..<32)
      let scores = try SaliencyScores.snip(of: model, names: ["fc2.weight"], batches: [batch])
      let weight = (model.layers[3].layer as! Linear)
      let original = weight.weight.value
      let numeric = numericGradient(of: { w in
        weight.weight.value = w
        return crossEntropy(model(batch.images), labels: batch.labels).scalar
      }, at: original)
      weight.weight.value = original
      let expected = (numeric * original).abs()
      #expect(gradientMismatch(scores["fc2.weight"]!, expected, atol: 1e-4, rtol: 1e-2) == nil)
    }

    @Test func severalBatchesAverageTheGradients() throws {
      let model = digitsMLP(seed: 3)
      let (a, b) = (try digitsBatch(0..<16), try digitsBatch(16..<40))
      let scores = try SaliencyScores.snip(of: model, names: ["fc1.weight"], batches: [a, b])
      let (_, ga) = valueWithGradients(of: model) { crossEntropy(model(a.images), labels: a.labels) }
      let (_, gb) = valueWithGradients(of: model) { crossEntropy(model(b.images), labels: b.labels) }
      var weight = Tensor.zeros([1])
      model.visitParameters { name, p in if name == "fc1.weight" { weight = p.value } }
      let expected = ((ga["fc1.weight"]! + gb["fc1.weight"]!) * 0.5 * weight).abs()
      #expect(allClose(scores["fc1.weight"]!, expected, rtol: 1e-5, atol: 1e-9), "\(differenceReport(scores["fc1.weight"]!, expected))")
    }
  }

  @Suite struct GraSPTests {
    /// L(W) = ½·mean_n ‖W·xₙ‖² has gradient G = W·A and Hessian V ↦ V·A with A = XᵀX/N, so
    /// Hg = W·A·A exactly, and a central difference of the (linear) gradient is exact too: the
    /// only error is Float32 round-off in the gradients, ~1e-7·‖g‖/ε relative (tolerance 1e-3).
    @Test func hessianGradientProductIsExactOnAQuadratic() throws {
      var rng = RandomGenerator(seed: 2)
      let layer = Linear(5, 3, bias: false, rng: &rng)
      let x = randomTensor([8, 5], seed: 3)
      let context = ForwardContext(training: false)
      let (g, hg) = try SaliencyScores.hessianGradientProduct(of: layer, names: ["weight"]) {
        layer.forward(x, context).squared().sum() * (0.5 / 8)
      }
      let a = x.matmul(x, transposeA: true) * (1 / 8)
      let w = layer.weight.value
      let exactG = w.matmul(a), exactHg = w.matmul(a).matmul(a)
      #expect(allClose(g["weight"]!, exactG, rtol: 1e-5, atol: 1e-7))
      let scale = exactHg.scalars.map(abs).max()!
      #expect(allClose(hg["weight"]!, exactHg, rtol: 1e-3, atol: 1e-4 * scale), "\(differenceReport(hg["weight"]!, exactHg))")
      #expect(layer.weight.value == w, "parameters are restored bit-exactly")
    }

    /// For L = ¼Σθ⁴ (g = θ³, Hg = 3θ⁵) the documented truncation error is exact:
    /// the estimate is Hg + ε²·g³/‖g‖². With ε = 0.3 that term is far above round-off.
    @Test func finiteDifferenceErrorIsTheDocumentedSecondOrderTerm() throws {
      let layer = Linear(weight: Tensor(shape: [2, 3], scalars: [0.9, -0.7, 0.5, 1.1, -1.2, 0.8]), bias: nil)
      let epsilon: Float = 0.3
      let (_, hg) = try SaliencyScores.hessianGradientProduct(of: layer, names: ["weight"], epsilon: epsilon) {
        let w = layer.weight.effective
        return (w * w * w * w).sum() * 0.25
      }
      let w = layer.weight.value.scalars.map(Double.init)
      let g = w.map { $0 * $0 * $0 }
      let norm2 = g.reduce(0) { $0 + $1 * $1 }
      let exact = w.map { 3 * pow($0, 5) }
      let predicted = zip(exact, g).map { $0 + Double(epsilon * epsilon) * pow($1, 3) / norm2 }
      for i in w.indices {
        #expect(abs(Double(hg["weight"]!.scalars[i]) - predicted[i]) <= 1e-4 * abs(predicted[i]), "element \(i)")
      }
      let largestTerm = w.indices.map { abs(predicted[$0] - exact[$0]) / abs(exact[$0]) }.max()!
      #expect(largestTerm > 5e-3, "the ε² term is 50× the tolerance somewhere")
    }

    /// The sign: on the quadratic, zeroing weight i changes ‖g‖² by exactly
    /// −2·θᵢ(Hg)ᵢ + θᵢ²·(A²)ⱼⱼ, so the lowest score θ ⊙ Hg marks the removal that raises the
    /// gradient norm most (to first order) — the weight GraSP removes first.
    @Test func scoreIsMinusHalfTheFirstOrderChangeOfGradientNorm() throws {
      var rng = RandomGenerator(seed: 5)
      let layer = Linear(4, 2, bias: false, rng: &rng)
      let x = randomTensor([6, 4], seed: 6)
      let context = ForwardContext(training: false)
      let loss = { layer.forward(x, context).squared().sum() * (0.5 / 6) }
      let (g, hg) = try SaliencyScores.hessianGradientProduct(of: layer, names: ["weight"], loss: loss)
      let score = (layer.weight.value * hg["weight"]!).scalars
      let a2 = x.matmul(x, transposeA: true).matmul(x.matmul(x, transposeA: true)) * (1.0 / 36)
      func squaredNorm(_ t: Tensor) -> Double { t.scalars.reduce(0) { $0 + Double($1) * Double($1) } }
      let before = squaredNorm(g["weight"]!)
      let original = layer.weight.value
      for i in 0..<original.count {
        var removed = original
        removed.withUnsafeMutableBufferPointer { $0[i] = 0 }
        layer.weight.value = removed
        let after = squaredNorm(valueWithGradients(of: layer, loss).gradients["weight"]!)
        let column = i % 4
        let predicted = -2 * Double(score[i]) + Double(original.scalars[i] * original.scalars[i] * a2[column, column])
        #expect(abs((after - before) - predicted) <= 1e-3 * max(abs(predicted), before), "weight \(i)")
      }
      layer.weight.value = original
    }
  }

  @Suite struct SynFlowTests {
    /// For a bias-free chain, R = 1ᵀ|W₃||W₂||W₁|1 is linear in each layer's weights, so each
    /// layer's scores θ·∂R/∂θ sum to R (Euler). Tolerance: Float32 sums of ~2k terms.
    @Test func scoresOfEveryLayerSumToTheSynapticFlow() throws {
      var rng = RandomGenerator(seed: 7)
      let model = Sequential(named: [
        ("flatten", Flatten()), ("fc1", Linear(64, 32, bias: false, rng: &rng)), ("relu1", Activation(.relu)),
        ("fc2", Linear(32, 16, bias: false, rng: &rng)), ("relu2", Activation(.relu)), ("fc3", Linear(16, 10, bias: false, rng: &rng)),
      ])
      let scores = try SaliencyScores.synflow(of: model, names: names(model), inputShape: [1, 8, 8])
      var flow = Tensor.ones([64, 1])
      for name in ["fc1", "fc2", "fc3"] {
        let w = (model.layers.first { $0.name == name }!.layer as! Linear).weight.value.abs()
        flow = w.matmul(flow)
      }
      let r = Double(flow.sum().scalar)
      for name in names(model) {
        let sum = scores[name]!.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - r) <= 1e-4 * r, "\(name): Σ scores \(sum) vs R \(r)")
      }
    }

    @Test func dataIndependentAndRestoresTheWeights() throws {
      let (a, b) = (digitsMLP(seed: 4), digitsMLP(seed: 4))
      let before = parameterValues(of: a)
      let noise = Dataset(name: "noise", images: randomTensor([3, 1, 8, 8], seed: 9), labels: [0, 1, 2], classes: 10).batches(size: 3)[0]
      let masksA = try Pruning.atInitialisation(a, method: .synflow, sparsity: 0.9, data: try digitsBatch(0..<8), synflowIterations: 20)
      let masksB = try Pruning.atInitialisation(b, method: .synflow, sparsity: 0.9, data: noise, synflowIterations: 20)
      #expect(masksA == masksB)
      a.visitParameters { name, p in
        let expected = masksA[name].map { before[name]! * $0 } ?? before[name]!
        #expect(p.value == expected, "\(name): original values, pruned entries zeroed")
      }
    }

    @Test func batchNormBuffersAndWeightsAreRestored() throws {
      let model = ModelSpec(.resnet8, inputShape: [1, 8, 8], classes: 10).build(seed: 1)
      _ = model.forward(randomTensor([4, 1, 8, 8], seed: 2), ForwardContext(training: true))  // non-trivial running stats
      var buffers: [String: Tensor] = [:]
      model.visitBuffers { name, t in buffers[name] = t }
      let values = parameterValues(of: model)
      _ = try SaliencyScores.synflow(of: model, names: names(model), inputShape: [1, 8, 8])
      #expect(parameterValues(of: model) == values)
      model.visitBuffers { name, t in #expect(t == buffers[name]!, "\(name)") }
      try Pruning.synflow(model, sparsity: 0.5, inputShape: [1, 8, 8], iterations: 3)
      model.visitBuffers { name, t in #expect(t == buffers[name]!, "\(name)") }
    }

    @Test func exponentialScheduleKeepsTheSameFractionEachRound() {
      let (s, n) = (0.95, 10)
      #expect(SaliencyScores.synflowSparsity(round: 0, of: n, final: s) == 0)
      #expect(abs(SaliencyScores.synflowSparsity(round: n, of: n, final: s) - s) < 1e-12)
      for k in 1...n {
        let kept = (1 - SaliencyScores.synflowSparsity(round: k, of: n, final: s)) / (1 - SaliencyScores.synflowSparsity(round: k - 1, of: n, final: s))
        #expect(abs(kept - pow(0.05, 0.1)) < 1e-12, "round \(k)")
      }
    }
  }

  @Suite struct PruningAtInitialisationTests {
    @Test(arguments: SaliencyMethod.allCases, [0.5, 0.9])
    func reachesExactGlobalSparsity(method: SaliencyMethod, sparsity: Double) throws {
      let model = digitsMLP()
      let names = names(model)
      let masks = try Pruning.atInitialisation(model, method: method, sparsity: sparsity, data: try digitsBatch(0..<64))
      let total = names.reduce(0) { $0 + masks[$1]!.count }
      #expect(zeros(masks, names) == pruneCount(sparsity: sparsity, count: total))
      #expect(MaskSet(of: model) == masks)
    }

    /// Already-pruned weights score −∞, so pruning further never revives them.
    @Test(arguments: SaliencyMethod.allCases)
    func masksOnlyGrow(method: SaliencyMethod) throws {
      let model = digitsMLP(seed: 2)
      let first = try Pruning.magnitude(model, sparsity: 0.5, global: true)
      let second = try Pruning.atInitialisation(model, method: method, sparsity: 0.8, data: try digitsBatch(0..<32),
                                                synflowIterations: 10)
      for (name, old) in first.masks {
        for (a, b) in zip(old.scalars, second[name]!.scalars) where a == 0 { #expect(b == 0, "\(name)") }
      }
    }

    @Test(arguments: SaliencyMethod.allCases)
    func sameSeedSameMasks(method: SaliencyMethod) throws {
      let batch = try digitsBatch(0..<32)
      let a = try Pruning.atInitialisation(digitsMLP(seed: 5), method: method, sparsity: 0.8, data: batch, synflowIterations: 10)
      let b = try Pruning.atInitialisation(digitsMLP(seed: 5), method: method, sparsity: 0.8, data: batch, synflowIterations: 10)
      let c = try Pruning.atInitialisation(digitsMLP(seed: 6), method: method, sparsity: 0.8, data: batch, synflowIterations: 10)
      #expect(a == b)
      #expect(a != c)
    }

    @Test func badRequestsAreRejected() throws {
      let batch = try digitsBatch(0..<8)
      for s in [-0.1, 1.0, 1.5] {
        #expect(throws: PruningError.impossibleSparsity(layer: "(global)", sparsity: s)) {
          try Pruning.atInitialisation(digitsMLP(), method: .snip, sparsity: s, data: batch)
        }
      }
      #expect(throws: PruningError.self) { try Pruning.atInitialisation(digitsMLP(), method: .grasp, sparsity: .nan, data: batch) }
      for method in SaliencyMethod.allCases {
        let error = #expect(throws: PruningError.self) {
          try Pruning.atInitialisation(digitsMLP(), method: method, sparsity: 0.5, data: batch, names: ["fc9.weight"])
        }
        #expect(error == .unknownLayer("fc9.weight", known: names(digitsMLP())), "\(method)")
        #expect(throws: PruningError.self) { try Pruning.atInitialisation(digitsMLP(), method: method, sparsity: 0.5, data: []) }
      }
      #expect(throws: PruningError.emptyCalibrationData(method: "SNIP")) {
        try SaliencyScores.snip(of: digitsMLP(), names: ["fc1.weight"], batches: [])
      }
      #expect(throws: PruningError.emptyCalibrationData(method: "GraSP")) {
        try SaliencyScores.grasp(of: digitsMLP(), names: ["fc1.weight"], batches: [])
      }
      #expect(throws: PruningError.self) { try Pruning.synflow(digitsMLP(), sparsity: 0.5, inputShape: [1, 8, 8], iterations: 0) }
      #expect(throws: PruningError.self) { try Pruning.synflow(digitsMLP(), sparsity: 0.5, inputShape: [1, 0, 8]) }
      #expect(throws: PruningError.self) { try SaliencyScores.grasp(of: digitsMLP(), names: ["fc1.weight"], batches: [batch], epsilon: 0) }
    }
  }

  @Suite struct LAMPTests {
    @Test func workedExample() {
      let scores = LAMP.scores(of: Tensor([0.1, -0.3, 0.2, 0.4]))
      let expected: [Double] = [0.01 / 0.30, 0.09 / 0.25, 0.04 / 0.29, 1]
      for (s, e) in zip(scores.scalars, expected) { #expect(abs(Double(s) - e) < 1e-6) }
    }

    @Test func largestWeightOfEveryLayerScoresOne() throws {
      let model = ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: 0)
      let scores = try LAMP.scores(of: model, names: names(model))
      for (name, s) in scores {
        #expect(s.scalars.max() == 1, "\(name)")
        #expect(s.scalars.allSatisfy { $0 > 0 && $0 <= 1 }, "\(name)")
      }
    }

    @Test(arguments: [0.5, 0.9, 0.99])
    func globalLAMPReachesExactSparsityAndNeverEmptiesALayer(sparsity: Double) throws {
      let model = ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: 1)
      let names = names(model)
      let masks = try Pruning.lamp(model, sparsity: sparsity)
      let total = names.reduce(0) { $0 + masks[$1]!.count }
      #expect(zeros(masks, names) == pruneCount(sparsity: sparsity, count: total))
      for e in SparsityReport(model: model).entries where e.masked { #expect(e.nonZero >= 1, "\(e.name) emptied") }
      // Within a layer LAMP keeps the largest weights: the order is magnitude order.
      let magnitudes = ImportanceScores.magnitude(of: ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: 1), names: names)
      for name in names {
        let kept = zip(magnitudes[name]!.scalars, masks[name]!.scalars).filter { $1 == 1 }.map(\.0).min() ?? .infinity
        let pruned = zip(magnitudes[name]!.scalars, masks[name]!.scalars).filter { $1 == 0 }.map(\.0).max() ?? 0
        #expect(pruned <= kept, "\(name)")
      }
    }

    @Test func prunedWeightsScoreMinusInfinityAndBadInputIsRejected() throws {
      let scores = LAMP.scores(of: Tensor([0.5, 0.2, 0.9]), mask: Tensor([1, 0, 1]))
      #expect(scores.scalars[1] == -.infinity)
      #expect(scores.scalars[2] == 1)
      #expect(abs(scores.scalars[0] - 0.25 / (0.25 + 0.81)) < 1e-6)
      #expect(throws: PruningError.impossibleSparsity(layer: "(global)", sparsity: 1)) { try Pruning.lamp(digitsMLP(), sparsity: 1) }
      #expect(throws: PruningError.self) { try Pruning.lamp(digitsMLP(), sparsity: 0.5, names: ["fc9.weight"]) }
    }
  }
}
