import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// Activation quantization inside ResNet basic blocks: where the points are, and that the
/// quantized model computes exactly the fake-quantized forward pass written out by hand.
@Suite struct ResidualQuantizationTests {
  /// A projection block (2 → 3 channels, stride 2) with non-trivial batch-norm statistics,
  /// then pooling and a linear head; the original layers are returned to compute by hand.
  static func model() -> (model: Sequential, block: BasicBlock, conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d,
                          bn2: BatchNorm2d, projection: Conv2d, projectionNorm: BatchNorm2d, head: Linear) {
    var rng = RandomGenerator(seed: 31)
    let block = BasicBlock(2, 3, stride: 2, rng: &rng)
    let head = Linear(3, 4, rng: &rng)
    let shortcut = block.shortcut as! Sequential
    let norms = [block.bn1, block.bn2, shortcut.layers[1].layer].map { $0 as! BatchNorm2d }
    for (i, norm) in norms.enumerated() {
      norm.runningMean = randomTensor([3], seed: 40 + UInt64(i), in: -0.5...0.5)
      norm.runningVar = randomTensor([3], seed: 50 + UInt64(i), in: 0.3...2)
      norm.weight.value = randomTensor([3], seed: 60 + UInt64(i), in: 0.5...1.5)
      norm.bias.value = randomTensor([3], seed: 70 + UInt64(i), in: -0.3...0.3)
    }
    let model = Sequential(named: [("block", block), ("pool", GlobalAvgPool2d()), ("fc", head)])
    return (model, block, block.conv1 as! Conv2d, norms[0], block.conv2 as! Conv2d, norms[1],
            shortcut.layers[0].layer as! Conv2d, norms[2], head)
  }

  static let activationScheme = QuantizationScheme.int8(symmetric: false, perChannel: false)
  static let documentedPoints = ["block.conv1", "block.conv2", "block.shortcut.0", "block.add_main", "block.add_shortcut", "fc"]

  /// The forward pass written out: fake-quantize each point's input with `quantize(name, x)`,
  /// weights per channel (int8 symmetric, min–max), batch norm in inference mode.
  static func handForward(_ x: Tensor, _ m: ReturnType, quantize: (String, Tensor) -> Tensor) throws -> Tensor {
    func weight(_ w: Parameter) throws -> Tensor { try QuantizationScheme.int8().fakeQuantize(w.value) }
    func conv(_ c: Conv2d, _ input: Tensor) throws -> Tensor {
      input.conv2d(try weight(c.weight), stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
    }
    let inference = ForwardContext(training: false)
    let h = m.bn1.forward(try conv(m.conv1, quantize("block.conv1", x)), inference).relu()
    let main = m.bn2.forward(try conv(m.conv2, quantize("block.conv2", h)), inference)
    let side = m.projectionNorm.forward(try conv(m.projection, quantize("block.shortcut.0", x)), inference)
    let sum = (quantize("block.add_main", main) + quantize("block.add_shortcut", side)).relu()
    let pooled = GlobalAvgPool2d().forward(sum, inference)
    return quantize("fc", pooled).matmul(try weight(m.head.weight), transposeB: true) + m.head.bias!.value
  }
  typealias ReturnType = (model: Sequential, block: BasicBlock, conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d,
                          bn2: BatchNorm2d, projection: Conv2d, projectionNorm: BatchNorm2d, head: Linear)

  /// Static PTQ: the points are the documented six; each calibrated range is the min–max of
  /// the Float32 tensor reaching it (computed by hand over both batches); and the quantized
  /// model equals the hand-written fake-quantized forward pass (1e-6: same ops, same order).
  @Test func staticPointsRangesAndForward() throws {
    let m = Self.model()
    let batches = [randomTensor([2, 2, 6, 6], seed: 80), randomTensor([3, 2, 6, 6], seed: 81, in: -2...1)]
    var floatRanges: [String: ClosedRange<Float>] = [:]
    for batch in batches {
      _ = try Self.handForward(batch, m) { name, t in
        let (low, high) = (t.scalars.min()!, t.scalars.max()!)
        let old = floatRanges[name] ?? low...high
        floatRanges[name] = min(old.lowerBound, low)...max(old.upperBound, high)
        return t
      }
    }
    let plan = QuantizationPlan.uniform(.int8(), activations: Self.activationScheme, model: m.model)
    let layers = try PostTrainingQuantizer(plan: plan).apply(to: m.model, calibration: batches)
    #expect(layers.map(\.name) == ["block.conv1", "block.conv2", "block.shortcut.0", "fc"])
    let points = m.model.activationQuantizationPoints
    #expect(points.map(\.name) == Self.documentedPoints)
    var ranges: [String: ClosedRange<Float>] = [:]
    for point in points {
      guard case .fixed(_, let range) = point.activation else { Issue.record("\(point.name) not calibrated"); continue }
      ranges[point.name] = range
      #expect(range == floatRanges[point.name], "\(point.name): \(range) vs \(String(describing: floatRanges[point.name]))")
    }
    let x = randomTensor([2, 2, 6, 6], seed: 82)
    let expected = try Self.handForward(x, m) { name, t in
      (try? Self.activationScheme.fakeQuantize(t, ranges: [ranges[name]!])) ?? t
    }
    #expect(maxAbsDifference(m.model(x), expected) <= 1e-6, "\(differenceReport(m.model(x), expected))")
    // Without the residual points the result differs: they do quantize something.
    for point in points where point is ActivationQuantizer { point.activation = .float }
    #expect(maxAbsDifference(m.model(x), expected) > 1e-6)
  }

  /// Dynamic activations: every point, residual summands included, uses the min–max of the
  /// tensor it receives in this batch (already downstream of earlier quantization).
  @Test func dynamicPointsAndForward() throws {
    let m = Self.model()
    let plan = QuantizationPlan.uniform(.int8(), activations: Self.activationScheme, model: m.model)
    try PostTrainingQuantizer(plan: plan, dynamicActivations: true).apply(to: m.model, calibration: [])
    #expect(m.model.activationQuantizationPoints.map(\.name) == Self.documentedPoints)
    let x = randomTensor([2, 2, 6, 6], seed: 83)
    let expected = try Self.handForward(x, m) { _, t in (try? Self.activationScheme.fakeQuantize(t)) ?? t }
    #expect(maxAbsDifference(m.model(x), expected) <= 1e-6, "\(differenceReport(m.model(x), expected))")
  }

  /// QAT keeps the residual points: after `prepare` (STE, weight ranges re-taken from the
  /// weights, which at step 0 are the calibrated min–max ranges) the model still equals the
  /// hand-written forward; a training step reaches every parameter through the quantizers
  /// (STE gradients) and leaves the points calibrated.
  @Test func quantizationAwareTrainingKeepsResidualPoints() throws {
    let m = Self.model()
    let batch = randomTensor([4, 2, 6, 6], seed: 84)
    let plan = QuantizationPlan.uniform(.int8(), activations: Self.activationScheme, model: m.model)
    let layers = try PostTrainingQuantizer(plan: plan).apply(to: m.model, calibration: [batch])
    try QuantizationAwareTraining.prepare(layers, estimator: .straightThrough)
    var ranges: [String: ClosedRange<Float>] = [:]
    for point in m.model.activationQuantizationPoints {
      if case .fixed(_, let range) = point.activation { ranges[point.name] = range }
    }
    #expect(ranges.keys.sorted() == Self.documentedPoints.sorted())
    let expected = try Self.handForward(batch, m) { name, t in (try? Self.activationScheme.fakeQuantize(t, ranges: [ranges[name]!])) ?? t }
    #expect(maxAbsDifference(m.model(batch), expected) <= 1e-6)
    let (_, gradients) = valueWithGradients(of: m.model) {
      crossEntropy(m.model.forward(batch, ForwardContext(training: false)), labels: [0, 1, 2, 3])
    }
    for name in ["block.conv1.weight", "block.conv2.weight", "block.shortcut.0.weight", "fc.weight"] {
      let g = try #require(gradients[name], "no gradient for \(name)")
      #expect(g.scalars.allSatisfy(\.isFinite) && g.scalars.contains { $0 != 0 }, "\(name)")
    }
  }

  /// Batch norm folds into both convolutions of a basic block (and its projection) with the
  /// same inference output (1e-5: a reassociated product per element).
  @Test func batchNormFoldsInsideBasicBlocks() {
    let m = Self.model()
    let x = randomTensor([2, 2, 6, 6], seed: 85)
    let before = m.model(x)
    #expect(BatchNormFolding.fold(m.model).sorted() == ["block.conv1", "block.conv2", "block.shortcut.0"])
    #expect(m.block.bn1 is Identity && m.block.bn2 is Identity)
    #expect(allClose(m.model(x), before, rtol: 1e-5, atol: 1e-5), "\(differenceReport(m.model(x), before))")
  }
}
