import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// A fresh training-mode context with a fixed seed: every evaluation draws the same dropout
/// mask, so the function being differentiated is the same at every finite-difference point.
private func trainingContext() -> ForwardContext { ForwardContext(training: true, rng: RandomGenerator(seed: 1)) }

/// A layer to check: how to build it, its input, and how to call it.
struct LayerCase: Sendable, CustomStringConvertible {
  let name: String
  let make: @Sendable () -> any Layer
  let input: Tensor
  /// False for inputs that are not differentiable (integer ids).
  var checksInput = true
  /// The forward pass under test (default: `forward` in a fresh training context).
  var forward: @Sendable (any Layer, Tensor) -> Tensor = { $0.forward($1, trainingContext()) }
  /// Tensors that feed a ReLU inside the layer; their elements must stay clear of 0 (see
  /// ``LayerGradientTests/reluInputsAreClearOfTheKink(_:)``).
  var reluInputs: (@Sendable (any Layer, Tensor) -> [Tensor])? = nil
  /// Finite-difference step.
  var h: Float = 1e-2

  var description: String { name }
}

private func uniform(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Tensor {
  randomTensor(shape, seed: seed, in: range)
}

/// Moves every parameter off its initial value by a seeded uniform amount in ±0.2, so that
/// norm scales are not exactly 1 and shifts not exactly 0 (a more generic point to check at).
private func jittered<L: Layer>(_ layer: L, seed: UInt64) -> L {
  var s = seed
  layer.visitParameters { _, p in
    s += 1
    p.value = (p.value + uniform(p.shape, s, -0.2...0.2)).detached
  }
  return layer
}

extension LayerCase {
  static let basic: [LayerCase] = [
    LayerCase(name: "Linear rank-3 input", make: {
      var rng = RandomGenerator(seed: 1); return jittered(Linear(4, 3, rng: &rng), seed: 1)
    }, input: uniform([2, 3, 4], 101)),
    LayerCase(name: "Linear without bias", make: {
      var rng = RandomGenerator(seed: 2); return Linear(5, 2, bias: false, rng: &rng)
    }, input: uniform([3, 5], 102)),
    LayerCase(name: "Conv2d k3 s2 p1", make: {
      var rng = RandomGenerator(seed: 3); return Conv2d(3, 4, kernel: 3, stride: 2, padding: 1, rng: &rng)
    }, input: uniform([2, 3, 5, 6], 103)),
    LayerCase(name: "Conv2d groups 2 dilation 2", make: {
      var rng = RandomGenerator(seed: 4); return Conv2d(4, 6, kernel: 3, padding: 2, dilation: 2, groups: 2, rng: &rng)
    }, input: uniform([2, 4, 5, 5], 104)),
    LayerCase(name: "Conv2d depthwise", make: {
      var rng = RandomGenerator(seed: 5); return Conv2d(3, 3, kernel: 3, padding: 1, groups: 3, rng: &rng)
    }, input: uniform([1, 3, 4, 5], 105)),
    LayerCase(name: "Embedding (ids repeat)", make: {
      var rng = RandomGenerator(seed: 6); return Embedding(5, 3, rng: &rng)
    }, input: Tensor(shape: [2, 3], scalars: [0, 3, 3, 4, 0, 3]), checksInput: false),
    LayerCase(name: "BatchNorm2d training", make: { jittered(BatchNorm2d(3), seed: 7) }, input: uniform([3, 3, 2, 3], 107)),
    LayerCase(name: "LayerNorm", make: { jittered(LayerNorm(6), seed: 8) }, input: uniform([2, 3, 6], 108)),
  ]

  static let attention: [LayerCase] = {
    // Additive mask over B×H×T×T: finite biases, and -1e9 on key 2 of the second sequence
    // (a padded position, which must then get no attention and no gradient through it).
    var maskValues = uniform([2, 1, 1, 3], 109).scalars
    maskValues[5] = -1e9
    let mask = Tensor(shape: [2, 1, 1, 3], scalars: maskValues)
    let makeAttention: @Sendable () -> any Layer = {
      var rng = RandomGenerator(seed: 9); return MultiHeadSelfAttention(dimension: 8, heads: 2, rng: &rng)
    }
    return [
      LayerCase(name: "MultiHeadSelfAttention", make: makeAttention, input: uniform([2, 3, 8], 110)),
      LayerCase(name: "MultiHeadSelfAttention with additive mask", make: makeAttention, input: uniform([2, 3, 8], 110),
                forward: { ($0 as! MultiHeadSelfAttention).forward($1, mask: mask, trainingContext()) }),
      LayerCase(name: "TransformerEncoderLayer", make: {
        var rng = RandomGenerator(seed: 10)
        return jittered(TransformerEncoderLayer(dimension: 8, heads: 2, feedForward: 12, rng: &rng), seed: 10)
      }, input: uniform([2, 3, 8], 111)),
      LayerCase(name: "TransformerEncoderLayer dropout 0.2, tanh GELU", make: {
        var rng = RandomGenerator(seed: 11)
        return TransformerEncoderLayer(dimension: 8, heads: 2, feedForward: 12, dropout: 0.2, activation: .geluTanh, rng: &rng)
      }, input: uniform([2, 3, 8], 112)),
      LayerCase(name: "RowTransformer", make: {
        var rng = RandomGenerator(seed: 12)
        return RowTransformer(sequenceLength: 3, tokenSize: 4, dimension: 8, heads: 2, layers: 1, feedForward: 12,
                              classes: 3, rng: &rng)
      }, input: uniform([2, 3, 4], 113)),
    ]
  }()

  static let composite: [LayerCase] = [
    LayerCase(name: "Sequential conv-bn-silu-avgpool-flatten-linear-tanh-linear", make: {
      var rng = RandomGenerator(seed: 13)
      return Sequential([
        Conv2d(2, 3, kernel: 3, padding: 1, rng: &rng), jittered(BatchNorm2d(3), seed: 13), Activation(.silu),
        AvgPool2d(2), Flatten(), Linear(12, 5, rng: &rng), Activation(.tanh), Linear(5, 3, rng: &rng),
      ])
    }, input: uniform([2, 2, 4, 4], 114)),
    LayerCase(name: "Residual with linear shortcut", make: {
      var rng = RandomGenerator(seed: 14)
      return Residual(Sequential([Linear(4, 6, rng: &rng), Activation(.gelu), Linear(6, 3, rng: &rng)]),
                      shortcut: Linear(4, 3, rng: &rng), activation: Activation(.sigmoid))
    }, input: uniform([3, 4], 115)),
    // Seed 27 leaves every ReLU input ≥ 0.06 from the kink (most seeds put one within 0.05),
    // and h = 1e-3 keeps each step well inside that margin.
    LayerCase(name: "BasicBlock with projection shortcut", make: {
      var rng = RandomGenerator(seed: 27); return jittered(BasicBlock(2, 3, stride: 2, rng: &rng), seed: 27)
    }, input: uniform([2, 2, 4, 4], 116), reluInputs: { layer, x in
      // Recomputes the two ReLU inputs from the public sub-layers (training mode, as the block).
      let block = layer as! BasicBlock, context = trainingContext()
      let first = block.bn1.forward(block.conv1.forward(x, context), context)
      let second = block.bn2.forward(block.conv2.forward(first.relu(), context), context)
        + block.shortcut!.forward(x, context)
      return [first, second]
    }, h: 1e-3),
  ]

  static let elementwise: [LayerCase] = Activation.Kind.allCases.map { kind in
    LayerCase(name: "Activation \(kind)", make: { Activation(kind) },
              input: kind == .relu ? awayFrom(0, uniform([3, 5], 117, -3...3), margin: 0.05) : uniform([3, 5], 117, -3...3))
  } + [
    LayerCase(name: "AvgPool2d k3 s2 p1", make: { AvgPool2d(3, stride: 2, padding: 1) }, input: uniform([2, 2, 5, 6], 118)),
    // Distinct values 0.05 apart: no window has a tie a step of h = 0.01 could flip.
    LayerCase(name: "MaxPool2d k3 s2 p1", make: { MaxPool2d(3, stride: 2, padding: 1) },
              input: distinctValues([2, 2, 5, 6], seed: 119)),
    LayerCase(name: "GlobalAvgPool2d", make: { GlobalAvgPool2d() }, input: uniform([2, 3, 3, 4], 120)),
    LayerCase(name: "Flatten", make: { Flatten() }, input: uniform([2, 3, 2, 2], 121)),
    LayerCase(name: "Dropout 0.3 training", make: { Dropout(0.3) }, input: uniform([4, 6], 122)),
  ]

  static let all = basic + attention + composite + elementwise
}

// MARK: - Parameter access by name

private func parameterValue(_ layer: any Layer, _ name: String) -> Tensor {
  var found: Tensor?
  layer.visitParameters { n, p in if n == name { found = p.value } }
  return found!
}

private func setParameterValue(_ layer: any Layer, _ name: String, _ value: Tensor) {
  layer.visitParameters { n, p in if n == name { p.value = value } }
}

/// Gradient check tolerance, as in the core gradient checks: `|a − n| ≤ 1e-3 + 1e-2·|n|`.
/// Central differences (h = 1e-2 unless a case says otherwise) on `L = Σ wᵢ·yᵢ` summed in
/// Double; truncation `h²·|f‴|/6` and Float32 rounding `≈ u·Σ|wᵢyᵢ|·(depth)/h` both stay well
/// below it for these sizes.
private let atol: Float = 1e-3, rtol: Float = 1e-2

@Suite struct LayerGradientTests {
  /// Every parameter's gradient from `valueWithGradients(of:)` = central differences taken by
  /// perturbing the parameter through `visitParameters`, and likewise for the input gradient.
  @Test(arguments: LayerCase.all)
  func gradientsMatchFiniteDifferences(_ c: LayerCase) {
    let layer = c.make()
    let x = c.input
    let w = randomTensor(c.forward(layer, x).shape, seed: 77)
    let loss = { weightedSum(c.forward(layer, x), w) }

    let names = layer.parameterShapes.map(\.name)
    let (_, analytic) = valueWithGradients(of: layer) { (c.forward(layer, x) * w).sum() }
    #expect(Set(analytic.byName.keys) == Set(names), "\(c): gradients for \(analytic.byName.keys.sorted()), parameters \(names)")
    for name in names {
      let original = parameterValue(layer, name)
      let numeric = numericGradientInDouble(of: { value in
        setParameterValue(layer, name, value)
        return loss()
      }, at: original, h: c.h)
      setParameterValue(layer, name, original)
      guard let gradient = analytic[name] else { continue }
      if let mismatch = gradientMismatch(gradient, numeric, atol: atol, rtol: rtol) {
        Issue.record("\(c) parameter \(name) \(original.shape): \(mismatch)")
      }
    }

    guard c.checksInput else { return }
    let (_, inputGradient) = valueWithGradient(at: [x]) { xs in (c.forward(layer, xs[0]) * w).sum() }
    let numeric = numericGradientInDouble(of: { weightedSum(c.forward(layer, $0), w) }, at: x, h: c.h)
    if let mismatch = gradientMismatch(inputGradient[0], numeric, atol: atol, rtol: rtol) {
      Issue.record("\(c) input \(x.shape): \(mismatch)")
    }
    #expect(numeric.scalars.contains { Swift.abs($0) > 1e-2 }, "\(c): numeric input gradient is all ~0")
  }

  /// The finite differences of layers with ReLUs are only valid if no step crosses the kink:
  /// a step of h in one parameter or input moves a ReLU input z by about `h·|∂z/∂θ|`, so every
  /// z must be at least `50·h` from 0 (room for `|∂z/∂θ|` up to 50). Fails, rather than letting
  /// the gradient check fail obscurely, if a change of initialisation or seeds breaks that.
  @Test(arguments: LayerCase.all.filter { $0.reluInputs != nil })
  func reluInputsAreClearOfTheKink(_ c: LayerCase) {
    let layer = c.make()
    for (i, z) in c.reluInputs!(layer, c.input).enumerated() {
      let closest = z.scalars.map(Swift.abs).min() ?? .infinity
      #expect(closest >= 50 * c.h, "\(c): ReLU input \(i) has an element \(closest) from the kink; pick another seed")
    }
  }

  /// Dropout in training mode really drops (the check above is not of the identity), and the
  /// fixed-seed context draws the same mask every time.
  @Test func dropoutMaskIsFixedBySeed() {
    let x = uniform([4, 6], 122, 0.5...1)
    let dropout = Dropout(0.3)
    let y1 = dropout.forward(x, trainingContext()), y2 = dropout.forward(x, trainingContext())
    #expect(y1 == y2)
    #expect(y1.scalars.contains(0) && y1.scalars.contains { $0 != 0 })
  }

  /// The additive mask's -1e9 key gets no attention, so that key's value row has no
  /// influence on the second sequence's output.
  @Test func maskedKeyHasNoInfluence() {
    var rng = RandomGenerator(seed: 9)
    let attention = MultiHeadSelfAttention(dimension: 8, heads: 2, rng: &rng)
    let mask = Tensor(shape: [1, 1, 1, 3], scalars: [0, 0, -1e9])
    var x = uniform([1, 3, 8], 110)
    let before = attention.forward(x, mask: mask, trainingContext())
    for j in 0..<8 { x[0, 2, j] += 1 }
    let after = attention.forward(x, mask: mask, trainingContext())
    // Only query row 2 (which reads its own changed input through the projections) may move.
    #expect(before.slice(axis: 1, 0..<2) == after.slice(axis: 1, 0..<2))
  }
}

// MARK: - Losses

/// A loss and the input it is differentiated with respect to.
struct LossCase: Sendable, CustomStringConvertible {
  let name: String
  let input: Tensor
  let loss: @Sendable (Tensor) -> Tensor
  var description: String { name }

  static let all: [LossCase] = {
    let labels = [0, 3, 3, 1]
    let target = uniform([3, 4], 131)
    let teacher = uniform([4, 5], 132, -2...2).softmax(axis: 1)
    return [
      LossCase(name: "crossEntropy", input: uniform([4, 5], 133, -2...2)) { crossEntropy($0, labels: labels) },
      LossCase(name: "crossEntropy label smoothing 0.1", input: uniform([4, 5], 133, -2...2)) {
        crossEntropy($0, labels: labels, labelSmoothing: 0.1)
      },
      LossCase(name: "meanSquaredError", input: uniform([3, 4], 134)) { meanSquaredError($0, target) },
      LossCase(name: "klDivergence w.r.t. logQ", input: uniform([4, 5], 135, -2...2).logSoftmax(axis: 1)) {
        klDivergence(logQ: $0, p: teacher)
      },
      LossCase(name: "klDivergence through logSoftmax", input: uniform([4, 5], 136, -2...2)) {
        klDivergence(logQ: $0.logSoftmax(axis: 1), p: teacher)
      },
    ]
  }()
}

extension LayerGradientTests {
  /// Each loss's gradient with respect to its input = central differences (same tolerance as
  /// the layers); the loss is a scalar, so it is differentiated directly.
  @Test(arguments: LossCase.all)
  func lossGradientMatchesFiniteDifferences(_ c: LossCase) {
    let (_, analytic) = valueWithGradient(at: [c.input]) { c.loss($0[0]) }
    let numeric = numericGradientInDouble(of: { Double(c.loss($0).scalar) }, at: c.input, h: 1e-2)
    if let mismatch = gradientMismatch(analytic[0], numeric, atol: atol, rtol: rtol) {
      Issue.record("\(c): \(mismatch)")
    }
    #expect(numeric.scalars.contains { Swift.abs($0) > 1e-2 }, "\(c): numeric gradient is all ~0")
  }
}
