import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport
import WinnowFormats

/// N-D and dilated pooling (the gathered-window path), batch-norm training mode and the
/// opset 1–10 rule, beyond the committed conformance cases.
@Suite struct ONNXPoolingTests {
  func poolModel(_ op: String, shape: [Int], attributes: [AttributeProto], file: String) throws -> ONNXModel {
    var graph = ONNXGraphBuilder(name: "pool")
    let x = graph.addInput("x", shape: shape)
    let y = graph.addNode(op, [x], attributes: attributes)[0]
    graph.addOutput(y, shape: [])
    return try ONNXModel(bytes: graph.model().serializedBytes(), file: file)
  }

  /// 1-D dilated max pooling against the worked example of the pooling doc comment, and the
  /// gathered path against the 2-D primitive path where both apply (dilation 1 forced
  /// through 3-D with a unit depth).
  @Test func gatheredPoolingAgreesWithPlanarPooling() throws {
    let dilated = try poolModel("MaxPool", shape: [1, 1, 5], attributes: [.ints("kernel_shape", [2]), .ints("dilations", [2])], file: "d.onnx")
    let x = Tensor(shape: [1, 1, 5], scalars: [3, 1, 4, 1, 5])
    #expect(try dilated.run(x).scalars == [4, 1, 5])
    for op in ["MaxPool", "AveragePool"] {
      let attributes: [AttributeProto] = [.ints("kernel_shape", [1, 3, 2]), .ints("strides", [1, 2, 1]), .ints("pads", [0, 1, 0, 0, 1, 1]), .int("ceil_mode", 1)]
      let planar: [AttributeProto] = [.ints("kernel_shape", [3, 2]), .ints("strides", [2, 1]), .ints("pads", [1, 0, 1, 1]), .int("ceil_mode", 1)]
      let volume = try poolModel(op, shape: [2, 3, 1, 6, 5], attributes: attributes, file: "3d.onnx")
      let plane = try poolModel(op, shape: [2, 3, 6, 5], attributes: planar, file: "2d.onnx")
      let input = randomTensor([2, 3, 6, 5], seed: 3)
      let a = try volume.run(input.reshaped([2, 3, 1, 6, 5])), b = try plane.run(input)
      #expect(a.shape == [2, 3, 1] + Array(b.shape[2...]))
      #expect(allClose(a.reshaped(b.shape), b, rtol: 1e-6, atol: 1e-6), "\(op): \(differenceReport(a.reshaped(b.shape), b))")
    }
  }

  /// Gradients flow through the gathered windows: analytic = central differences in Double.
  @Test func gatheredPoolingGradientsMatchFiniteDifferences() throws {
    for op in ["MaxPool", "AveragePool"] {
      let model = try poolModel(op, shape: [1, 2, 3, 4, 3], attributes: [.ints("kernel_shape", [2, 2, 2]), .ints("dilations", [1, 2, 1]), .ints("pads", [1, 0, 0, 0, 1, 1])], file: "g.onnx")
      let x = distinctValues([1, 2, 3, 4, 3], seed: 4)
      let probe = try model.run(x)
      let weights = randomTensor(probe.shape, seed: 5)
      let (_, grads) = valueWithGradient(at: [x]) { xs in (model.forward(xs[0], ForwardContext(training: false)) * weights).sum() }
      let numeric = numericGradientInDouble(of: { weightedSum(model.forward($0, ForwardContext(training: false)), weights) }, at: x, h: 1e-2)
      #expect(gradientMismatch(grads[0], numeric, atol: 1e-3, rtol: 1e-3) == nil, "\(op): \(gradientMismatch(grads[0], numeric, atol: 1e-3, rtol: 1e-3) ?? "")")
    }
  }

  @Test func oversizedPoolingWindowsNameTheNode() throws {
    let model = try poolModel("MaxPool", shape: [1, 1, 4, 4, 4], attributes: [.ints("kernel_shape", [2, 9, 2])], file: "big.onnx")
    #expect { try model.run(Tensor.zeros([1, 1, 4, 4, 4])) } throws: { error in
      "\(error)".contains("big.onnx") && "\(error)".contains("MaxPool") && "\(error)".contains("larger than the padded input")
    }
  }

  /// Training-mode batch norm normalises with the batch statistics and moves the running ones.
  @Test func batchNormTrainingModeUsesBatchStatistics() throws {
    var graph = ONNXGraphBuilder(name: "bn")
    let x = graph.addInput("x", shape: [4, 2, 3])
    let parameters = ["scale", "bias", "mean", "var"].enumerated().map { i, name in
      graph.addInitializer(name, .float(Tensor(shape: [2], scalars: [Float(i) + 0.5, Float(i) + 1.5])))
    }
    let outputs = graph.addNode("BatchNormalization", [x] + parameters, attributes: [.int("training_mode", 1), .float("momentum", 0.75)], outputs: 3)
    for o in outputs { graph.addOutput(o, shape: []) }
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "bn.onnx")
    let input = randomTensor([4, 2, 3], seed: 8)
    let results = try model.run(["x": .float(input)])
    let values = input.scalars
    for c in 0..<2 {
      let slice = (0..<4).flatMap { b in (0..<3).map { values[(b * 2 + c) * 3 + $0] } }
      let mean = slice.reduce(0, +) / 12
      let variance = slice.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 12
      #expect(abs(results[outputs[1]]!.floatValues!.scalars[c] - (0.75 * (2.5 + Float(c)) + 0.25 * mean)) < 1e-5)
      #expect(abs(results[outputs[2]]!.floatValues!.scalars[c] - (0.75 * (3.5 + Float(c)) + 0.25 * variance)) < 1e-5)
      let y0 = results[outputs[0]]!.floatValues!.scalars[c * 3]
      #expect(abs(y0 - ((slice[0] - mean) / (variance + 1e-5).squareRoot() * (0.5 + Float(c)) + (1.5 + Float(c)))) < 1e-4)
    }
  }

  /// Opsets 1–10: operators unchanged up to opset 11 run; a changed one is named.
  @Test func legacyOpsetsRunUnchangedOperatorsOnly() throws {
    var graph = ONNXGraphBuilder(name: "old")
    let x = graph.addInput("x", shape: [3], dataType: .bool)
    let y = graph.addNode("Not", [x])[0]
    graph.addOutput(y, shape: [3], dataType: .bool)
    var model = graph.model()
    model.opsetImport[0].version = 7
    let old = try ONNXModel(bytes: model.serializedBytes(), file: "old.onnx")
    let out = try old.run(["x": .integer(ONNXIntegers(shape: [3], values: [1, 0, 1], dataType: .bool))])
    #expect(out[y] == .integer(ONNXIntegers(shape: [3], values: [0, 1, 0], dataType: .bool)))
    var clip = ONNXGraphBuilder(name: "clip")
    let input = clip.addInput("x", shape: [3])
    clip.addOutput(clip.addNode("Clip", [input])[0], shape: [3])
    var clipModel = clip.model()
    clipModel.opsetImport[0].version = 6
    #expect { try ONNXModel(bytes: clipModel.serializedBytes(), file: "clip6.onnx") } throws: { error in
      "\(error)".contains("clip6.onnx") && "\(error)".contains("(Clip)") && "\(error)".contains("opset 11")
    }
  }
}
