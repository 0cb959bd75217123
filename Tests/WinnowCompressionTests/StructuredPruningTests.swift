import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// Two convolution branches joined by channel concatenation.
final class ConcatNet: Layer {
  let a: Conv2d, b: Conv2d, bn: BatchNorm2d, c: Conv2d, fc: Linear
  init(rng: inout RandomGenerator) {
    a = Conv2d(1, 4, kernel: 3, padding: 1, rng: &rng)
    b = Conv2d(1, 6, kernel: 3, padding: 1, rng: &rng)
    bn = BatchNorm2d(10)
    c = Conv2d(10, 8, kernel: 3, padding: 1, rng: &rng)
    fc = Linear(8 * 4 * 4, 10, rng: &rng)
  }
  func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
    let joined = Tensor.concat([a.forward(x, ctx), b.forward(x, ctx)], axis: 1)
    let h = c.forward(bn.forward(joined, ctx).relu(), ctx).relu().maxPool2d(kernel: (2, 2))
    return fc.forward(h.flattened(), ctx)
  }
  func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("a", a); try body("b", b); try body("bn", bn); try body("c", c); try body("fc", fc)
  }
  func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    for (n, l) in [("a", a), ("b", b), ("bn", bn), ("c", c), ("fc", fc)] as [(String, Layer)] {
      try l.visitParameters { try body(n + "." + $0, &$1) }
    }
  }
  func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    try bn.visitBuffers { try body("bn." + $0, &$1) }
  }
}

/// A MobileNet-style block: 1×1 expand, depthwise 3×3, 1×1 project.
func depthwiseNet(rng: inout RandomGenerator) -> Sequential {
  Sequential(named: [
    ("expand", Conv2d(1, 8, kernel: 1, rng: &rng)), ("bn1", BatchNorm2d(8)), ("relu1", Activation(.relu)),
    ("dw", Conv2d(8, 8, kernel: 3, padding: 1, groups: 8, rng: &rng)), ("bn2", BatchNorm2d(8)), ("relu2", Activation(.relu)),
    ("project", Conv2d(8, 12, kernel: 1, rng: &rng)), ("pool", GlobalAvgPool2d()), ("fc", Linear(12, 10, rng: &rng)),
  ])
}

enum Architecture: String, CaseIterable, CustomTestStringConvertible {
  case lenet, resnet8, concat, depthwise, transformer
  var testDescription: String { rawValue }

  var inputShape: [Int] {
    switch self {
    case .lenet: return [1, 28, 28]
    case .transformer: return [1, 8, 8]
    default: return [1, 8, 8]
    }
  }

  func build() -> Layer {
    var rng = RandomGenerator(seed: 11)
    let model: Layer
    switch self {
    case .lenet: model = ModelSpec(.lenet5, inputShape: inputShape, classes: 10).build(seed: 11)
    case .resnet8: model = ModelSpec(.resnet8, inputShape: inputShape, classes: 10).build(seed: 11)
    case .concat: model = ConcatNet(rng: &rng)
    case .depthwise: model = depthwiseNet(rng: &rng)
    case .transformer: model = ModelSpec(.transformer, inputShape: inputShape, classes: 10).build(seed: 11)
    }
    // Non-trivial batch-norm statistics, so normalisation cannot hide a wrong channel.
    var stats = RandomGenerator(seed: 12)
    model.visitBuffers { name, b in
      if name.hasSuffix("running_mean") { b = .randomNormal(b.shape, standardDeviation: 0.3, using: &stats) }
      if name.hasSuffix("running_var") { b = .randomUniform(b.shape, in: 0.5...2, using: &stats) }
    }
    model.visitParameters { name, p in
      if p.shape.count == 1 && name.contains("bn") { p.value = .randomUniform(p.shape, in: 0.5...1.5, using: &stats) }
    }
    return model
  }
}

private func copy(_ model: Layer, of architecture: Architecture) throws -> Layer {
  let other = architecture.build()
  var state = stateDictionary(of: model)
  model.visitBuffers { name, t in state[name] = t }
  try loadStateDictionary(state, into: other, file: "(copy)")
  return other
}

@Suite struct StructuredPruningTests {
  @Test(arguments: Architecture.allCases)
  func prunedModelEqualsMaskedModelAndShrinksAsPredicted(architecture: Architecture) throws {
    let model = architecture.build()
    let graph = DependencyGraph(tracing: model, inputShape: architecture.inputShape)
    #expect(!graph.groups.isEmpty)
    let scores = StructuredPruning.scores(graph, model: model, importance: .l2)
    let removed = try StructuredPruning.select(graph, scores: scores, ratio: 0.5)
    #expect(!removed.isEmpty)

    let masked = try copy(model, of: architecture)
    try StructuredPruning.equivalentMasks(graph, removing: removed).apply(to: masked)
    let pruned = try copy(model, of: architecture)
    let before = pruned.parameterCount
    StructuredPruning.apply(graph, removing: removed, to: pruned)

    #expect(pruned.parameterCount == StructuredPruning.predictedParameterCount(graph, removing: removed))
    #expect(pruned.parameterCount < before)
    let x = randomTensor([3] + architecture.inputShape, seed: 5)
    let (a, b) = (masked(x), pruned(x))
    // Same arithmetic minus exact zeros: only summation order differs.
    #expect(allClose(a, b, rtol: 1e-4, atol: 1e-5), "\(differenceReport(a, b))")
  }

  @Test func familiesMatchTheLayersOfLeNet() {
    let model = Architecture.lenet.build()
    let graph = DependencyGraph(tracing: model, inputShape: [1, 28, 28])
    let sizes = graph.families.map(\.groups.count).sorted()
    // conv1: 6 channels, conv2: 16, fc1: 120, fc2: 84; the 10 logits are pinned.
    #expect(sizes == [6, 16, 84, 120])
    let conv2 = graph.families.first { $0.family.contains(.init(parameter: "conv2.weight", axis: 0)) }
    // Each conv2 channel couples its filter, its bias and 25 flattened inputs of fc1.
    #expect(conv2?.groups[0].members.filter { $0.parameter == "fc1.weight" }.count == 25)
  }

  @Test func residualAdditionCouplesAStage() {
    let model = Architecture.resnet8.build()
    let graph = DependencyGraph(tracing: model, inputShape: [1, 8, 8])
    // The identity-free resnet8 has one block per stage: each stage output is tied to its
    // projection shortcut, so shortcut and conv2 output channels share a family.
    let tied = graph.families.contains { f in
      f.family.contains(.init(parameter: "layer2.0.conv2.weight", axis: 0))
        && f.family.contains(.init(parameter: "layer2.0.shortcut.0.weight", axis: 0))
    }
    #expect(tied)
  }

  @Test func transformerPrunesWholeHeads() throws {
    let model = Architecture.transformer.build()
    let graph = DependencyGraph(tracing: model, inputShape: [1, 8, 8])
    let headFamily = graph.families.first { $0.family.contains(.init(parameter: "encoder.0.self_attn.q_proj.weight", axis: 0)) }
    #expect(headFamily?.groups.count == 4)  // 4 heads of width 16
    let removed = Set(headFamily!.groups.prefix(1).map(\.id))
    StructuredPruning.apply(graph, removing: removed, to: model)
    let attention = model.namedLayers.compactMap { $0.layer as? MultiHeadSelfAttention }.first!
    #expect(attention.heads == 3)
    #expect(attention.query.outFeatures == 48)
  }

  @Test func impossibleRatioIsRejected() {
    let model = Architecture.lenet.build()
    let graph = DependencyGraph(tracing: model, inputShape: [1, 28, 28])
    #expect(throws: PruningError.self) { try StructuredPruning.select(graph, scores: graph.groups.map { _ in 0 }, ratio: 1) }
  }
}
