import Foundation
import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport

// Winnow against PyTorch 2.15.0, from fixtures written by Utilities/Reference/make_fixtures.py
// (Fixtures/*.safetensors; the script's docstring describes every tensor in them).
//
// The golden values are computed in float64 from the exact float32 (or float16) inputs and
// rounded to float32, so each tolerance below bounds Winnow's own float32 error, not the sum of
// two float32 errors. The generator prints how far float32 PyTorch lands from every golden
// value; the numbers quoted next to the assertions come from there.

/// One fixture file, checked to be the layout these tests were written for.
struct GoldenFixture {
  static let generator = "Utilities/Reference/make_fixtures.py"
  static let version = "1"
  let file: SafetensorsFile

  init(_ name: String) throws {
    let regenerate = "re-run `.venv/bin/python \(Self.generator)` from the package root (see Utilities/Reference/README.md)"
    let url = try #require(
      Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"),
      "golden fixture Fixtures/\(name).safetensors is missing: \(regenerate)")
    file = try SafetensorsFile.read(path: url.path)
    let found = file.metadata["fixture_version"]
    try #require(
      found == Self.version,
      "Fixtures/\(name).safetensors has fixture_version \(found ?? "(none)"), these tests expect \(Self.version): \(regenerate)")
  }

  func callAsFunction(_ name: String) throws -> Tensor { try file.tensor(named: name) }

  /// Integer tensors (labels, indices), stored as I64/I32 and read as exact Floats.
  func integers(_ name: String) throws -> [Int] { try self(name).scalars.map { Int($0) } }
}

/// Expects `|actual − golden| ≤ atol + rtol·|golden|` everywhere (NumPy's `allclose`).
func expectClose(
  _ actual: Tensor, _ golden: Tensor, rtol: Float, atol: Float, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let close = allClose(actual, golden, rtol: rtol, atol: atol)  // a named Bool keeps tensors out of the failure
  #expect(close, "\(what) differs from PyTorch beyond rtol \(rtol), atol \(atol): \(differenceReport(actual, golden))",
          sourceLocation: sourceLocation)
}

// MARK: - Single ops

@Suite struct GoldenOpsTests {
  let golden: GoldenFixture
  init() throws { golden = try GoldenFixture("ops") }

  /// Checks `y = op(inputs)` and the input gradients of `sum(y·g)` (of `y` itself when scalar).
  ///
  /// Default tolerance: each output is a float32 sum of at most ~100 terms of size ≤ 10
  /// (the depthwise weight gradient: N·H·W = 112 terms), so its rounding error is at most a few
  /// 1e-6; float32 PyTorch lands within 2.1e-6 of the same golden values, Winnow within 1.4e-6.
  /// rtol 1e-5 with atol 1e-5 leaves ≥ 10× headroom and still fails any wrong term, which
  /// moves results by ≥ 1e-3.
  func check(_ name: String, _ inputs: [String], rtol: Float = 1e-5, atol: Float = 1e-5,
             sourceLocation: SourceLocation = #_sourceLocation, _ op: ([Tensor]) -> Tensor) throws {
    let values = try inputs.map { try golden("\(name).\($0)") }
    let y = try golden("\(name).y")
    let g = y.rank == 0 ? nil : try golden("\(name).g")
    var forward: Tensor?
    let (_, gradients) = valueWithGradient(at: values) { xs in
      let result = op(xs)
      forward = result.detached
      return g.map { (result * $0).sum() } ?? result
    }
    expectClose(try #require(forward), y, rtol: rtol, atol: atol, "\(name) forward", sourceLocation: sourceLocation)
    for (input, gradient) in zip(inputs, gradients) {
      expectClose(gradient, try golden("\(name).d\(input)"), rtol: rtol, atol: atol, "\(name) d\(input)",
                  sourceLocation: sourceLocation)
    }
  }

  @Test func groupedDilatedStridedConv2d() throws {
    try check("conv2d_grouped", ["x", "w"]) { xs in
      xs[0].conv2d(xs[1], stride: (2, 2), padding: (1, 1), dilation: (2, 2), groups: 2)
    }
  }

  @Test func depthwiseConv2d() throws {
    try check("conv2d_depthwise", ["x", "w"]) { xs in xs[0].conv2d(xs[1], padding: (1, 1), groups: 4) }
  }

  @Test func paddedPooling() throws {
    try check("max_pool2d", ["x"]) { xs in xs[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }
    // PyTorch `count_include_pad=True`: every window divides by 9, padding included.
    try check("avg_pool2d", ["x"]) { xs in xs[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }
  }

  @Test func softmaxAndLogSoftmaxOnInnerAndLastAxes() throws {
    for axis in [1, 2] {
      try check("softmax_dim\(axis)", ["x"]) { xs in xs[0].softmax(axis: axis) }
      try check("log_softmax_dim\(axis)", ["x"]) { xs in xs[0].logSoftmax(axis: axis) }
    }
  }

  @Test func activations() throws {
    try check("gelu", ["x"]) { xs in xs[0].gelu() }
    try check("gelu_tanh", ["x"]) { xs in xs[0].gelu(approximateTanh: true) }
    try check("silu", ["x"]) { xs in xs[0].silu() }
  }

  @Test func layerNorm() throws {
    try check("layer_norm", ["x", "weight", "bias"]) { xs in
      let norm = LayerNorm(8)
      norm.weight = Parameter(xs[1])
      norm.bias = Parameter(xs[2])
      return norm.forward(xs[0], ForwardContext(training: true))
    }
  }

  @Test func batchNormTrainingStepAndRunningStatistics() throws {
    let norm = BatchNorm2d(3)
    norm.runningMean = try golden("batch_norm.running_mean_before")
    norm.runningVar = try golden("batch_norm.running_var_before")
    try check("batch_norm", ["x", "weight", "bias"]) { xs in
      norm.weight = Parameter(xs[1])
      norm.bias = Parameter(xs[2])
      return norm.forward(xs[0], ForwardContext(training: true))
    }
    // One update r ← 0.9·r + 0.1·batch (variance unbiased, n/(n−1) with n = 100): a handful
    // of roundings on values ≤ 2, so 1e-6 is ~10 ulp.
    expectClose(norm.runningMean, try golden("batch_norm.running_mean"), rtol: 1e-6, atol: 1e-6, "running_mean")
    expectClose(norm.runningVar, try golden("batch_norm.running_var"), rtol: 1e-6, atol: 1e-6, "running_var")
    #expect(norm.batchesTracked.scalar == 1)
  }

  @Test func crossEntropyWithLabelSmoothing() throws {
    let labels = try golden.integers("cross_entropy.labels")
    try check("cross_entropy", ["logits"]) { xs in crossEntropy(xs[0], labels: labels, labelSmoothing: 0.1) }
  }

  @Test func klDivergenceBatchMean() throws {
    // The target has a zero probability, whose 0·log 0 term PyTorch takes as 0.
    let p = try golden("kl_div.p")
    try check("kl_div", ["logq"]) { xs in klDivergence(logQ: xs[0], p: p) }
  }

  @Test func batchedMatmul() throws {
    try check("matmul", ["a", "b"]) { xs in xs[0].matmul(xs[1]) }
  }
}

// MARK: - LeNet-5

@Suite struct GoldenLeNetTests {
  static let steps = 10
  let golden: GoldenFixture
  init() throws { golden = try GoldenFixture("lenet") }

  /// `Models.lenet5` with PyTorch's initial weights, stored as `initial.<name>`.
  func initialModel() throws -> Sequential {
    var rng = RandomGenerator(seed: 0)
    let model = Models.lenet5(rng: &rng)
    try loadStateDictionary(golden.file.tensors, into: model, prefix: ("initial.", "initial_mask.", "initial."),
                            file: "Fixtures/lenet.safetensors")
    return model
  }

  /// The gradient of a Linear weight from its stored factors, `output_gradᵀ · input` in Double
  /// (N = 8 terms per element, so this is the float64 gradient to float32 rounding).
  func linearWeightGradient(_ layer: String) throws -> Tensor {
    let (dy, x) = (try golden("\(layer).output_grad"), try golden("\(layer).input"))
    let (n, outputs, inputs) = (x.shape[0], dy.shape[1], x.shape[1])
    let (dyValues, xValues) = (dy.scalars, x.scalars)
    return Tensor(shape: [outputs, inputs]) { gradient in
      for o in 0..<outputs {
        for i in 0..<inputs {
          var sum: Double = 0
          for b in 0..<n { sum += Double(dyValues[b * outputs + o]) * Double(xValues[b * inputs + i]) }
          gradient[o * inputs + i] = Float(sum)
        }
      }
    }
  }

  @Test func logitsLossAndEveryGradient() throws {
    let model = try initialModel()
    let (images, labels) = (try golden("images"), try golden.integers("labels"))
    var logits: Tensor?
    let (loss, gradients) = valueWithGradients(of: model) {
      let z = model.forward(images, ForwardContext(training: true))
      logits = z.detached
      return crossEntropy(z, labels: labels)
    }
    // Logits sum 400 products (fc1) after two 150-term convolutions; float32 PyTorch is within
    // 1.1e-8 of the golden values, whose scale is 0.1. rtol 1e-4, atol 1e-6 as for K ≈ 400.
    expectClose(try #require(logits), try golden("logits"), rtol: 1e-4, atol: 1e-6, "logits")
    #expect(abs(loss - (try golden("loss")).scalar) <= 1e-5, "loss \(loss)")
    for (name, shape) in model.parameterShapes {
      let layer = String(name.prefix { $0 != "." })
      let expected = try golden.file.tensors["grad.\(name)"] ?? linearWeightGradient(layer)
      #expect(expected.shape == shape, "\(name)")
      // Gradients are ≤ 0.16 (most ≤ 0.02) and sum up to N·Ho·Wo = 6272 terms (conv1); float32
      // PyTorch is within 1.2e-8. The absolute floor 1e-7 sits ~10× above that noise and ~1e5×
      // below the gradients' scale, so a wrong term anywhere shows.
      expectClose(try #require(gradients[name], "no gradient for \(name)"), expected, rtol: 1e-4, atol: 1e-7,
                  "gradient of \(name)")
    }
  }

  /// The optimizers of make_fixtures.py's `LENET_TRAJECTORIES`.
  static func optimizer(_ name: String) -> any Optimizer {
    switch name {
    case "sgd": SGD(learningRate: 0.05, momentum: 0.9, nesterov: false, weightDecay: 5e-4)
    case "nesterov": SGD(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4)
    case "adam": Adam(learningRate: 1e-3, weightDecay: 1e-4)
    case "adamw": Adam.adamW(learningRate: 1e-3, weightDecay: 1e-2)
    default: preconditionFailure("no optimizer \(name)")
    }
  }

  /// Ten full-batch steps from PyTorch's initial weights: the loss at every step and the
  /// (sampled) weights after the last one.
  @Test(arguments: ["sgd", "nesterov", "adam", "adamw"])
  func tenStepTrajectory(_ name: String) throws {
    let model = try initialModel()
    let (images, labels) = (try golden("images"), try golden.integers("labels"))
    var optimizer = Self.optimizer(name)
    var losses: [Float] = []
    for step in 0...Self.steps {
      let (loss, gradients) = valueWithGradients(of: model) {
        crossEntropy(model.forward(images, ForwardContext(training: true)), labels: labels)
      }
      losses.append(loss)
      if step < Self.steps { optimizer.update(model, with: gradients) }
    }
    // Losses near 2.3 after up to 10 steps; float32 PyTorch drifts ≤ 3.1e-7 from float64.
    // 1e-5 is ~30× that and far below any per-step change (≥ 1e-3).
    expectClose(Tensor(losses), try golden("\(name).loss"), rtol: 1e-5, atol: 1e-5, "\(name) losses")
    // Each step adds the gradient noise (~1e-8, above) times lr·(1+momentum…) or, for Adam,
    // a relative error of m/√v. After 10 steps float32 PyTorch is within 6.3e-8 of float64 on
    // the sampled weights, Winnow within 2e-7 (make_fixtures.py leaves out the ~0.2% of
    // weights whose Adam step flips sign with rounding). atol 1e-6 (+ rtol 1e-5 of |w| ≤ 0.3)
    // keeps 5× headroom yet stays below the smallest term under test: AdamW's decay,
    // lr·λ·|w| ≈ 1e-3·1e-2·0.05 = 5e-7 per step, 5e-6 over the 10 steps.
    try model.visitParameters { parameter, p in
      let values = p.value.scalars
      let sampled = Tensor(try golden.integers("sample_index.\(parameter)").map { values[$0] })
      expectClose(sampled, try golden("\(name).\(parameter)"), rtol: 1e-5, atol: 1e-6,
                  "\(name): \(parameter) after \(Self.steps) steps")
    }
  }
}

// MARK: - Transformer encoder layer

@Suite struct GoldenTransformerTests {
  @Test func postNormEncoderLayerOutputAndGradients() throws {
    let golden = try GoldenFixture("transformer")
    var rng = RandomGenerator(seed: 0)
    let layer = TransformerEncoderLayer(dimension: 16, heads: 4, feedForward: 32, dropout: 0, activation: .gelu, rng: &rng)
    try loadStateDictionary(golden.file.tensors, into: layer, prefix: ("param.", "mask.", "param."),
                            file: "Fixtures/transformer.safetensors")
    let (x, g) = (try golden("input"), try golden("g"))
    let context = ForwardContext(training: true)
    var output: Tensor?
    let (_, gradients) = valueWithGradients(of: layer) {
      let y = layer.forward(x, context)
      output = y.detached
      return (y * g).sum()
    }
    let (_, inputGradient) = valueWithGradient(at: [x]) { xs in (layer.forward(xs[0], context) * g).sum() }
    // Values and gradients of scale 1–5 through two LayerNorms, softmax and GELU, sums of at
    // most B·T = 10 (weights) or 32 (features) terms; float32 PyTorch is within 1.6e-6 of the
    // golden values and Winnow within 1.2e-6. rtol 1e-5, atol 1e-5 (as for the single ops)
    // leaves ≥ 10× headroom; the golden values are float64, so no second float32 error.
    expectClose(try #require(output), try golden("output"), rtol: 1e-5, atol: 1e-5, "output")
    expectClose(inputGradient[0], try golden("input_grad"), rtol: 1e-5, atol: 1e-5, "input gradient")
    for (name, _) in layer.parameterShapes {
      expectClose(try #require(gradients[name], "no gradient for \(name)"), try golden("grad.\(name)"),
                  rtol: 1e-5, atol: 1e-5, "gradient of \(name)")
    }
  }
}

// MARK: - Schedules and clipping

@Suite struct GoldenTrainingUtilityTests {
  @Test func learningRateSchedulesMatchPyTorchSchedulers() throws {
    let golden = try GoldenFixture("schedules")
    // PyTorch computes these in float64 (recursively for the cosine); Winnow in float32
    // closed form. A few ulp of 0.1: 1e-6 relative.
    let cosine = LearningRateSchedule.cosine(rate: 0.1, steps: 30, minimum: 0.001)
    expectClose(Tensor((0...30).map { cosine.rate(at: $0) }), try golden("cosine"), rtol: 1e-6, atol: 1e-8,
                "CosineAnnealingLR(T_max=30, eta_min=0.001)")
    let step = LearningRateSchedule.step(rate: 0.1, every: 7, factor: 0.5)
    expectClose(Tensor((0...30).map { step.rate(at: $0) }), try golden("step"), rtol: 1e-6, atol: 1e-8,
                "StepLR(step_size=7, gamma=0.5)")
  }

  @Test(arguments: ["large", "small"])
  func clipGradNorm(_ scale: String) throws {
    let golden = try GoldenFixture("clipping")
    let names = ["a", "b", "c"]
    var gradients = Gradients(Dictionary(uniqueKeysWithValues: try names.map { ($0, try golden("\(scale).\($0)")) }))
    let norm = gradients.clipNorm(1)
    // A 27-term norm accumulated in Double, then one scaling: float32 rounding only.
    #expect(abs(norm - (try golden("\(scale).norm")).scalar) <= 1e-6, "norm \(norm)")
    for name in names {
      expectClose(try #require(gradients[name]), try golden("\(scale).clipped.\(name)"), rtol: 1e-6, atol: 1e-7,
                  "clipped \(name)")
    }
  }
}
