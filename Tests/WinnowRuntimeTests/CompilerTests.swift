import Testing
import WinnowCompression
import WinnowCore
import WinnowKernels
import WinnowNN
import WinnowRuntime
import WinnowTestSupport

/// A compiled program computes what the model computes, in every weight format.
@Suite struct CompilerTests {
  /// Models of every shape the compiler must follow, with their input shapes.
  static func models() -> [(String, Layer, [Int])] {
    var rng = RandomGenerator(seed: 3)
    return [
      ("mlp", Models.mlp(inputs: 64, hidden: [32, 16], classes: 10, rng: &rng), [64]),
      ("lenet5", Models.lenet5(inputSize: 16, rng: &rng), [1, 16, 16]),
      ("smallcnn", Models.smallCNN(inputSize: 8, rng: &rng), [1, 8, 8]),
      ("resnet8", Models.resnet(depth: 8, width: 4, rng: &rng), [1, 12, 12]),
      ("pointwise", Sequential([
        Conv2d(3, 8, kernel: 1, rng: &rng), Activation(.relu), Conv2d(8, 4, kernel: 3, stride: 2, padding: 1, rng: &rng),
      ]), [3, 5, 7]),
      ("transformer", Models.transformerClassifier(sequenceLength: 6, tokenSize: 5, dimension: 8, heads: 2,
                                                   layers: 1, feedForward: 12, rng: &rng), [1, 6, 5]),
    ]
  }

  /// Gives batch norms non-trivial running statistics, so folding them is really tested.
  static func perturbBuffers(_ model: Layer) {
    var rng = RandomGenerator(seed: 9)
    model.visitBuffers { name, t in
      if name.hasSuffix("running_var") {
        t = Tensor.randomUniform(t.shape, in: 0.5...2, using: &rng)
      } else if name.hasSuffix("running_mean") {
        t = Tensor.randomUniform(t.shape, in: -0.5...0.5, using: &rng)
      }
    }
  }

  @Test(arguments: ["dense", "csr", "bsr4x1", "bsr1x4", "bsr3x2"])
  func programEqualsModel(format: String) throws {
    let weightFormat = try WeightFormat(parsing: format)
    for (name, model, shape) in Self.models() {
      Self.perturbBuffers(model)
      _ = try Pruning.magnitude(model, sparsity: 0.7, global: false)
      let program = try Compiler.compile(model, inputShape: shape, options: CompileOptions(choice: .fixed(weightFormat)))
      #expect(!program.layers.isEmpty, "\(name): no layer was packed")
      for batch in [1, 2, 5] {
        let x = randomTensor([batch] + shape, seed: UInt64(batch))
        let expected = model.forward(x, ForwardContext(training: false))
        let y = try program.run(x)
        // Folding batch norm into weights and reordering sums: Float32 rounding only.
        #expect(y.shape == expected.shape)
        #expect(allClose(y, expected, rtol: 1e-4, atol: 1e-5), "\(name) \(format) batch \(batch): \(differenceReport(y, expected))")
      }
    }
  }

  @Test func biasBatchNormAndReluAreFusedIntoLayers() throws {
    var rng = RandomGenerator(seed: 1)
    let resnet = Models.resnet(depth: 8, width: 4, rng: &rng)
    let program = try Compiler.compile(resnet, inputShape: [1, 12, 12], options: CompileOptions(choice: .fixed(.dense)))
    let convolutions = program.layers.filter { if case .convolution = $0.kind { true } else { false } }
    // Stem, two blocks per stage × 3 stages, two 1×1 shortcuts.
    #expect(convolutions.count == 9, "\(program.layers.map(\.name))")
    // Every convolution is followed by a batch norm, which becomes the fused bias.
    #expect(convolutions.allSatisfy { $0.bias != nil })
    #expect(program.layers.first?.activation == .relu)
    let lenet = Models.lenet5(inputSize: 16, rng: &rng)
    let p2 = try Compiler.compile(lenet, inputShape: [1, 16, 16], options: CompileOptions(choice: .fixed(.dense)))
    #expect(p2.layers.map(\.name) == ["conv1", "conv2", "fc1", "fc2", "fc3"], "\(p2.layers.map(\.name))")
  }

  @Test func sparseWeightsKeepTheirZerosThroughFolding() throws {
    var rng = RandomGenerator(seed: 2)
    let resnet = Models.resnet(depth: 8, width: 4, rng: &rng)
    Self.perturbBuffers(resnet)
    let masks = try Pruning.magnitude(resnet, sparsity: 0.8, global: false)
    let program = try Compiler.compile(resnet, inputShape: [1, 12, 12], options: CompileOptions(choice: .fixed(.csr)))
    let packedNonZeros = program.layers.reduce(0) { $0 + $1.nonZeros }
    let maskNonZeros = masks.masks.values.reduce(0) { $0 + Int($1.sum().scalar) }
    #expect(packedNonZeros == maskNonZeros)
  }

  @Test func fastestChoiceMeasuresCandidatesAndKeepsTheBest() throws {
    var rng = RandomGenerator(seed: 4)
    let mlp = Models.mlp(inputs: 64, hidden: [64], classes: 10, rng: &rng)
    _ = try Pruning.magnitude(mlp, sparsity: 0.9, global: false)
    let program = try Compiler.compile(mlp, inputShape: [64], options: CompileOptions(choice: .fastest(batch: 4)))
    for layer in program.layers {
      #expect(layer.timings.count > 1, "\(layer.name) measured \(layer.timings.count) formats")
      let best = layer.timings.min { $0.seconds < $1.seconds }!
      #expect(best.format == layer.format)
    }
  }

  @Test func badRequestsAreRejectedWithNames() throws {
    var rng = RandomGenerator(seed: 5)
    let mlp = Models.mlp(inputs: 8, hidden: [4], classes: 2, rng: &rng)
    #expect(throws: RuntimeError.unknownLayer("fc9", known: ["fc1", "fc2"])) {
      try Compiler.compile(mlp, inputShape: [8], options: CompileOptions(formats: ["fc9": .csr]))
    }
    let program = try Compiler.compile(mlp, inputShape: [8], options: CompileOptions(choice: .fixed(.dense)))
    #expect(throws: RuntimeError.inputShape(expected: [8], got: [2, 7])) { try program.run(Tensor.zeros([2, 7])) }
    #expect(throws: RuntimeError.self) { try WeightFormat(parsing: "bsr0x4") }
    #expect(throws: RuntimeError.self) { try WeightFormat(parsing: "coo") }
  }

  @Test func embeddingLookupsAreRefused() throws {
    var rng = RandomGenerator(seed: 6)
    let model = Sequential([Embedding(10, 4, rng: &rng), Linear(4, 2, rng: &rng)])
    #expect(throws: RuntimeError.self) { try Compiler.compile(model, inputShape: [3]) }
  }
}
