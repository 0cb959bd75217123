import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

@Suite struct StraightThroughTests {
  /// Forward = fq(x) exactly; gradient = upstream inside the clipping range [−1, 1] (ends
  /// included), exactly 0 outside. Integer, FP8 and asymmetric per-channel cases.
  @Test(arguments: [QuantizationScheme.int8(symmetric: true, perChannel: false), .fp8(.e4m3fn),
                    .integer(bits: 4, symmetric: false, granularity: .perChannel)])
  func gradientPassesExactlyInsideTheRange(_ scheme: QuantizationScheme) throws {
    let x = Tensor(shape: [2, 8], scalars: [-2, -1.5, -1, -0.5, 0, 0.3, 0.9, 1, 1.7, -0.25, 0.6, 3, -1.2, 0.1, 1, -0.9])
    let ranges: [ClosedRange<Float>] = scheme.granularity == .perChannel ? [-1...1, -1...1] : [-1...1]
    let upstream = randomTensor([2, 8], seed: 5)
    let (_, gradients) = valueWithGradient(at: [x]) { xs in
      ((try! FakeQuantization.straightThrough(xs[0], scheme: scheme, ranges: ranges)) * upstream).sum()
    }
    let quantized = try scheme.quantize(x, ranges: ranges)
    let low = quantized.dequantized().scalars.min()!, high = quantized.dequantized().scalars.max()!
    for (i, v) in x.scalars.enumerated() {
      let inside = v >= low - 1e-6 && v <= high + 1e-6
      #expect(gradients[0].scalars[i] == (inside ? upstream.scalars[i] : 0), "\(scheme) x = \(v)")
    }
    let forward = try FakeQuantization.straightThrough(x.tracked(key: 0), scheme: scheme, ranges: ranges)
    #expect(forward.scalars == quantized.dequantized().scalars)
  }
}

@Suite struct LearnedStepSizeTests {
  /// Inputs with some values beyond ±q_max·s (clipped) and none within 0.02·s of the
  /// clipping edges or of a rounding tie, so finite differences see no kink.
  static func inputs() -> (x: Tensor, step: Tensor) {
    let step: [Float] = [0.1, 0.05, 0.2]
    var rng = RandomGenerator(seed: 3)
    var values: [Float] = []
    for b in 0..<3 {
      while values.count < (b + 1) * 10 {
        let v = rng.nextFloat(in: -10...10)
        let edgeDistance = min(abs(abs(v) - 7), abs(v - v.rounded(.down) - 0.5))
        if edgeDistance > 0.05 { values.append(v * step[b]) }
      }
    }
    return (Tensor(shape: [3, 10], scalars: values), Tensor(step))
  }

  /// ∂L/∂s matches Esser et al.'s eq. 3, g·Σ cᵢ·(round(xᵢ/s) − xᵢ/s) inside and g·Σ cᵢ·(±q_max)
  /// outside, and finite differences (Double, h = 1e-4·s) of the surrogate LSQ differentiates:
  /// `s·(clamp(x/s) + r)` with the rounding offsets `r` frozen at the current step.
  /// Tolerance 1e-4 relative: Float32 forward values against a Double derivative.
  @Test func stepGradientMatchesFormulaAndFiniteDifferences() {
    let (x, step) = Self.inputs()
    let c = randomTensor([3, 10], seed: 4)
    let bits = 4, qMax: Float = 7, g = 1 / (10 * qMax).squareRoot()
    let (_, gradients) = valueWithGradient(at: [x, step]) { inputs in
      (FakeQuantization.learnedStepSize(inputs[0], step: inputs[1], bits: bits) * c).sum()
    }
    let xs = x.scalars, cs = c.scalars
    for b in 0..<3 {
      let s = step.scalars[b]
      var formula: Double = 0
      var offsets: [Double] = []
      for i in b * 10..<(b + 1) * 10 {
        let v = Double(xs[i] / s)
        let clamped = min(max(v, -7), 7)
        offsets.append(clamped.rounded(.toNearestOrEven) - clamped)
        formula += Double(cs[i]) * (abs(v) <= 7 ? clamped.rounded(.toNearestOrEven) - v : clamped)
      }
      formula *= Double(g)
      func surrogate(_ step: Double) -> Double {
        (0..<10).reduce(0) { sum, k in
          let i = b * 10 + k
          return sum + Double(cs[i]) * step * (min(max(Double(xs[i]) / step, -7), 7) + offsets[k])
        }
      }
      let h = 1e-4 * Double(s)
      let numeric = (surrogate(Double(s) + h) - surrogate(Double(s) - h)) / (2 * h) * Double(g)
      let analytic = Double(gradients[1].scalars[b])
      #expect(abs(analytic - formula) <= 1e-4 * abs(formula) + 1e-6, "block \(b): \(analytic) vs formula \(formula)")
      #expect(abs(analytic - numeric) <= 1e-4 * abs(numeric) + 1e-6, "block \(b): \(analytic) vs finite differences \(numeric)")
      #expect(abs(formula) > 1e-3)
    }
    // ∂/∂x: the upstream value inside the range, 0 outside; forward = s·round(clamp(x/s)).
    let forward = FakeQuantization.learnedStepSize(x, step: step, bits: bits).scalars
    for i in xs.indices {
      let s = step.scalars[i / 10], v = xs[i] / s
      // Inside: ŝ·(1/ŝ)·c, within an ulp or two of c; outside exactly 0.
      #expect(abs(gradients[0].scalars[i] - (abs(v) <= 7 ? cs[i] : 0)) <= 2 * cs[i].magnitude.ulp, "element \(i)")
      if abs(v) > 7 { #expect(gradients[0].scalars[i] == 0) }
      #expect(forward[i] == s * min(max(v, -7), 7).rounded(.toNearestOrEven), "element \(i)")
    }
  }
}

@Suite struct PostTrainingQuantizationTests {
  static func fixture() throws -> SafetensorsFile { try FP8Tests.fixture() }

  /// PTQ of a Linear layer = PyTorch's observers + fake_quantize_per_channel_affine (weights,
  /// int8 symmetric, −127…127) and fake_quantize_per_tensor_affine (input, int8 affine from
  /// min–max over 3 batches). Scales agree to 1 ulp; outputs to 1e-5 (summation order).
  @Test func linearLayerMatchesPyTorchFakeQuantization() throws {
    let t = try Self.fixture().tensors
    let linear = Linear(weight: t["layer.weight"]!, bias: t["layer.bias"]!)
    let model = Sequential(named: [("fc", linear)])
    let plan = QuantizationPlan(layers: ["fc": .int8()], activations: .int8(symmetric: false, perChannel: false))
    let layers = try PostTrainingQuantizer(plan: plan).apply(to: model, calibration: [t["layer.x0"]!, t["layer.x1"]!, t["layer.x2"]!])
    let codes = try layers[0].quantizedWeightCodes()
    for (ours, theirs) in zip(codes.scales, t["ptq.weight_scale"]!.scalars) { #expect(abs(ours - theirs) <= theirs.ulp, "\(ours) vs \(theirs)") }
    #expect(maxAbsDifference(layers[0].quantizedWeight(), t["ptq.weight_fq"]!) <= 1e-7)
    guard case .fixed(let scheme, let range) = layers[0].activation else { Issue.record("not calibrated"); return }
    let (scale, zeroPoint) = scheme.parameters(for: range)
    #expect(abs(scale - t["ptq.act_scale"]!.scalars[0]) <= scale.ulp && Float(zeroPoint) == t["ptq.act_zero_point"]!.scalars[0])
    let output = model(t["layer.x0"]!)
    #expect(maxAbsDifference(output, t["ptq.output"]!) <= 1e-5, "\(differenceReport(output, t["ptq.output"]!))")
  }

  /// Group-wise int4 (groups of 8 along the input axis) = fake_quantize_per_channel_affine on the [48, 8] view.
  @Test func groupWiseInt4MatchesPyTorch() throws {
    let t = try Self.fixture().tensors
    let q = try QuantizationScheme.grouped(bits: 4, groupSize: 8).quantize(t["layer.weight"]!)
    for (ours, theirs) in zip(q.scales, t["group.scale"]!.scalars) { #expect(abs(ours - theirs) <= theirs.ulp) }
    #expect(maxAbsDifference(q.dequantized(), t["group.weight_fq"]!) <= 1e-7)
  }

  @Test func staticActivationsNeedCalibrationData() throws {
    let model = quantizationTestLeNet()
    let plan = QuantizationPlan.uniform(.int8(), activations: .int8(symmetric: false, perChannel: false), model: model)
    #expect(throws: QuantizationError.noCalibrationData(layer: "conv1")) {
      try PostTrainingQuantizer(plan: plan).apply(to: model, calibration: [])
    }
    // Dynamic activation ranges need none, and the whole LeNet still computes.
    let layers = try PostTrainingQuantizer(plan: plan, dynamicActivations: true).apply(to: model, calibration: [])
    #expect(layers.count == 5 && model(randomTensor([2, 1, 28, 28], seed: 1)).shape == [2, 10])
  }

  /// Percentile ranges clip outliers that min–max keeps; MSE never has more squared error than min–max.
  @Test func rangeEstimators() {
    var values = randomTensor([4000], seed: 9).scalars
    values[17] = 4
    let scheme = QuantizationScheme.int8(symmetric: true, perChannel: false)
    #expect(RangeEstimator.minMax.range(of: values[...], scheme: scheme).upperBound == 4)
    #expect(RangeEstimator.percentile(99.9).range(of: values[...], scheme: scheme).upperBound < 1.01)
    let mse = RangeEstimator.mse.range(of: values[...], scheme: .integer(bits: 4, symmetric: true, granularity: .perTensor))
    let int4 = QuantizationScheme.integer(bits: 4, symmetric: true, granularity: .perTensor)
    #expect(mse.upperBound < 4)
    let full = RangeEstimator.minMax.range(of: values[...], scheme: int4)
    #expect(RangeEstimator.squaredError(values[...], scheme: int4, range: mse)
            < RangeEstimator.squaredError(values[...], scheme: int4, range: full))
    #expect(RangeEstimator(parsing: "percentile:99.99") == .percentile(99.99) && RangeEstimator(parsing: "bogus") == nil)
  }

  /// conv → batch norm (running statistics, affine) folds into one convolution with the same
  /// inference outputs (1e-5: a reassociated product per element).
  @Test func batchNormFoldsIntoTheConvolution() {
    var rng = RandomGenerator(seed: 2)
    let conv = Conv2d(3, 4, kernel: 3, padding: 1, bias: false, rng: &rng)
    let norm = BatchNorm2d(4)
    norm.runningMean = randomTensor([4], seed: 3)
    norm.runningVar = randomTensor([4], seed: 4, in: 0.2...2)
    norm.weight.value = randomTensor([4], seed: 5, in: 0.5...1.5)
    norm.bias.value = randomTensor([4], seed: 6)
    let model = Sequential(named: [("conv", conv), ("bn", norm), ("relu", Activation(.relu))])
    let x = randomTensor([2, 3, 6, 5], seed: 7)
    let before = model(x)
    #expect(BatchNormFolding.fold(model) == ["conv"])
    #expect(model.layers[1].layer is Identity)
    #expect(allClose(model(x), before, rtol: 1e-5, atol: 1e-5), "\(differenceReport(model(x), before))")
  }
}

@Suite struct QuantizationAwareTrainingTests {
  /// A 50%-pruned LeNet trained for 3 SGD steps with int4 weights under LSQ and under STE:
  /// every pruned weight is still exactly zero, in the latent weights and in the weights
  /// the layers compute with, and the mask itself is unchanged.
  @Test(arguments: QuantizationAwareTraining.Estimator.allCases)
  func maskedZerosSurviveQAT(_ estimator: QuantizationAwareTraining.Estimator) throws {
    let model = quantizationTestLeNet()
    let masks = try Pruning.magnitude(model, sparsity: 0.5, global: false, names: ["conv2.weight", "fc1.weight", "fc2.weight"])
    let plan = QuantizationPlan.uniform(.integer(bits: 4, symmetric: true, granularity: .perChannel),
                                        activations: .int8(symmetric: false, perChannel: false), model: model)
    let x = randomTensor([8, 1, 28, 28], seed: 11), labels = (0..<8).map { $0 % 10 }
    let layers = try PostTrainingQuantizer(plan: plan).apply(to: model, calibration: [x])
    try QuantizationAwareTraining.prepare(layers, estimator: estimator)
    var optimizer = SGD(learningRate: 0.05, momentum: 0.9)
    let before = model.parameterShapes.count
    for _ in 0..<3 {
      let (_, gradients) = valueWithGradients(of: model) { crossEntropy(model.forward(x, ForwardContext(training: true)), labels: labels) }
      if estimator == .learnedStepSize { #expect(gradients["fc1.weight_step"] != nil) }
      optimizer.update(model, with: gradients)
    }
    #expect(model.parameterShapes.count == before)
    for layer in layers {
      let name = layer.name + ".weight"
      guard let mask = masks[name] else { continue }
      var latent: Parameter?
      model.visitParameters { n, p in if n == name { latent = p } }
      #expect(latent?.mask == mask, "\(name) mask changed")
      let computed = layer.quantizedWeight().scalars, stored = latent!.value.scalars
      for (i, m) in mask.scalars.enumerated() where m == 0 {
        #expect(computed[i] == 0 && stored[i] == 0, "\(name)[\(i)] is no longer zero")
      }
    }
  }

  @Test func lsqNeedsSymmetricIntegers() throws {
    let model = quantizationTestLeNet()
    let layers = try PostTrainingQuantizer(plan: .uniform(.fp8(.e4m3fn), model: model)).apply(to: model, calibration: [])
    #expect(throws: QuantizationError.self) { try QuantizationAwareTraining.prepare(layers, estimator: .learnedStepSize) }
  }
}

@Suite struct SensitivityTests {
  /// One entry per layer × compression, the model unchanged afterwards, the plots drawn, and
  /// a mixed-precision plan within budget (and an error when no plan fits).
  @Test func perLayerSensitivityAndMixedPrecision() throws {
    let (train, test) = try smallDigits(train: 64, test: 64)
    _ = train
    let model = ModelSpec(.smallcnn, inputShape: [1, 8, 8], classes: 10).build(seed: 1)
    let snapshot = model.parameterShapes.map(\.name)
    var weightsBefore: [Tensor] = []
    model.visitParameters { _, p in weightsBefore.append(p.value) }
    let schemes: [QuantizationScheme] = [8, 4, 2].map { .integer(bits: $0, symmetric: true, granularity: .perChannel) }
    let analysis = SensitivityAnalysis(compressions: schemes.map { .quantization($0) } + [.pruning(sparsity: 0.9)]
                                         + [.rank(fraction: 1), .rank(fraction: 0.25)])
    let report = try analysis.run(model: model, evaluate: { m in let r = evaluate(m, on: test); return (r.accuracy, r.loss) })
    #expect(report.entries.count == 4 * 6)
    // Full rank reconstructs the weights (up to rounding): the loss stays the baseline's.
    for e in report.entries where e.rankFraction == 1 { #expect(abs(e.loss - report.baselineLoss) < 1e-3, "\(e.layer)") }
    #expect(report.entries.contains { $0.rankFraction == 0.25 && $0.loss != report.baselineLoss })
    var weightsAfter: [Tensor] = []
    model.visitParameters { _, p in weightsAfter.append(p.value) }
    #expect(weightsAfter == weightsBefore && model.parameterShapes.map(\.name) == snapshot)
    #expect(report.markdown.contains("| conv1 |") && report.svg(.bits) != nil && report.svg(.sparsity) != nil
            && report.svg(.rank) != nil)
    let int8Bits = try quantizableLayers(of: model).reduce(0) {
      $0 + (try MixedPrecision.storageBits(schemes[0], shape: $1.weightShape, layer: $1.name))
    }
    let assignment = try MixedPrecision.assign(report: report, model: model, budgetBits: int8Bits * 6 / 10)
    #expect(assignment.bits <= int8Bits * 6 / 10 && assignment.plan.layers.count == 4)
    try assignment.plan.validate(against: model)
    #expect(throws: QuantizationError.self) { try MixedPrecision.assign(report: report, model: model, budgetBits: 100) }
  }
}
