import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport
import WinnowFormats

/// ConvTranspose and Resize beyond the committed conformance cases: the worked examples of
/// their doc comments, gradients by finite differences, and errors naming the node.
@Suite struct ONNXConvTransposeResizeTests {
  func model(_ op: String, inputShape: [Int], initializers: [(String, Tensor)] = [],
             attributes: [AttributeProto], file: String) throws -> ONNXModel {
    var graph = ONNXGraphBuilder(name: op)
    let x = graph.addInput("x", shape: inputShape)
    let names = initializers.map { graph.addInitializer($0.0, .float($0.1)) }
    let y = graph.addNode(op, [x] + names, attributes: attributes)[0]
    graph.addOutput(y, shape: [])
    return try ONNXModel(bytes: graph.model().serializedBytes(), file: file)
  }

  @Test func convTransposeWorkedExample() throws {
    let m = try model("ConvTranspose", inputShape: [1, 1, 2], initializers: [("w", Tensor(shape: [1, 1, 2], scalars: [1, 10]))],
                      attributes: [.ints("strides", [2])], file: "ct.onnx")
    #expect(try m.run(Tensor(shape: [1, 1, 2], scalars: [1, 2])).scalars == [1, 10, 2, 20])
  }

  /// Gradients reach both the input and the (grouped, strided, dilated, padded) weight.
  @Test func convTransposeGradientsMatchFiniteDifferences() throws {
    var graph = ONNXGraphBuilder(name: "ct")
    let (xName, wName) = (graph.addInput("x", shape: [1, 4, 3, 3]), graph.addInput("w", shape: [4, 1, 2, 3]))
    let attributes: [AttributeProto] = [.ints("strides", [2, 1]), .ints("dilations", [1, 2]), .ints("pads", [1, 0, 0, 1]),
                                        .ints("output_padding", [1, 0]), .int("group", 2)]
    graph.addOutput(graph.addNode("ConvTranspose", [xName, wName], attributes: attributes)[0], shape: [])
    let m = try ONNXModel(bytes: graph.model().serializedBytes(), file: "ctg.onnx")
    let output = { (x: Tensor, w: Tensor) -> Tensor in
      guard let y = try? m.run(["x": .float(x), "w": .float(w)]).values.first?.floatValues else { preconditionFailure("ConvTranspose failed") }
      return y
    }
    let x = randomTensor([1, 4, 3, 3], seed: 11), w = randomTensor([4, 1, 2, 3], seed: 12)
    let weights = randomTensor(output(x, w).shape, seed: 13)
    let (_, grads) = valueWithGradient(at: [x, w]) { t in (output(t[0], t[1]) * weights).sum() }
    let numericX = numericGradientInDouble(of: { weightedSum(output($0, w), weights) }, at: x)
    let numericW = numericGradientInDouble(of: { weightedSum(output(x, $0), weights) }, at: w)
    #expect(gradientMismatch(grads[0], numericX, atol: 1e-3, rtol: 1e-3) == nil, "\(gradientMismatch(grads[0], numericX, atol: 1e-3, rtol: 1e-3) ?? "")")
    #expect(gradientMismatch(grads[1], numericW, atol: 1e-3, rtol: 1e-3) == nil, "\(gradientMismatch(grads[1], numericW, atol: 1e-3, rtol: 1e-3) ?? "")")
  }

  @Test func resizeWorkedExampleAndGradient() throws {
    let scales = Tensor(shape: [3], scalars: [1, 1, 2])
    var graph = ONNXGraphBuilder(name: "resize")
    let x = graph.addInput("x", shape: [1, 1, 2])
    let s = graph.addInitializer("scales", .float(scales))
    let y = graph.addNode("Resize", [x, "", s], attributes: [.string("mode", "linear")])[0]
    graph.addOutput(y, shape: [1, 1, 4])
    let linear = try ONNXModel(bytes: graph.model().serializedBytes(), file: "rs.onnx")
    #expect(try linear.run(Tensor(shape: [1, 1, 2], scalars: [4, 8])).scalars == [4, 5, 7, 8])
    let input = randomTensor([1, 1, 2], seed: 14), weights = randomTensor([1, 1, 4], seed: 15)
    let context = ForwardContext(training: false)
    let (_, grads) = valueWithGradient(at: [input]) { xs in (linear.forward(xs[0], context) * weights).sum() }
    let numeric = numericGradientInDouble(of: { weightedSum(linear.forward($0, context), weights) }, at: input)
    #expect(gradientMismatch(grads[0], numeric, atol: 1e-3, rtol: 1e-3) == nil)
  }

  @Test func badResizeAndConvTransposeNameTheNode() throws {
    var graph = ONNXGraphBuilder(name: "bad")
    let x = graph.addInput("x", shape: [1, 1, 2])
    let y = graph.addNode("Resize", [x], attributes: [])[0]
    graph.addOutput(y, shape: [])
    let resize = try ONNXModel(bytes: graph.model().serializedBytes(), file: "noscale.onnx")
    #expect { try resize.run(Tensor.zeros([1, 1, 2])) } throws: { error in
      "\(error)".contains("noscale.onnx") && "\(error)".contains("(Resize)") && "\(error)".contains("scales")
    }
    let m = try model("ConvTranspose", inputShape: [1, 2, 3], initializers: [("w", Tensor.zeros([3, 1, 2]))], attributes: [], file: "ctbad.onnx")
    #expect { try m.run(Tensor.zeros([1, 2, 3])) } throws: { error in
      "\(error)".contains("ctbad.onnx") && "\(error)".contains("(ConvTranspose)") && "\(error)".contains("[3, 1, 2]")
    }
  }
}
