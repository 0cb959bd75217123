import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport
import WinnowFormats

/// Scatter, gather and TopK by flat source indices: the worked example, gradients reaching
/// both data and updates, and out-of-range indices named as errors.
@Suite struct ONNXIndexingTests {
  func scatterModel(file: String) throws -> ONNXModel {
    var graph = ONNXGraphBuilder(name: "scatter")
    let data = graph.addInput("data", shape: [3])
    let indices = graph.addInitializer("indices", .integer(ONNXIntegers(shape: [2], values: [2, 0])))
    let updates = graph.addInput("updates", shape: [2])
    graph.addOutput(graph.addNode("ScatterElements", [data, indices, updates])[0], shape: [3])
    return try ONNXModel(bytes: graph.model().serializedBytes(), file: file)
  }

  @Test func scatterElementsWorkedExampleAndGradients() throws {
    let model = try scatterModel(file: "scatter.onnx")
    let run = { (t: [Tensor]) -> Tensor in
      guard let y = try? model.run(["data": .float(t[0]), "updates": .float(t[1])]).values.first?.floatValues else { preconditionFailure("scatter failed") }
      return y
    }
    let (data, updates) = (Tensor(shape: [3], scalars: [1, 2, 3]), Tensor(shape: [2], scalars: [10, 20]))
    #expect(run([data, updates]).scalars == [20, 2, 10])
    let weights = Tensor(shape: [3], scalars: [0.5, -1, 2])
    let (_, grads) = valueWithGradient(at: [data, updates]) { t in (run(t) * weights).sum() }
    #expect(grads[0].scalars == [0, -1, 0])  // overwritten entries get no gradient
    #expect(grads[1].scalars == [2, 0.5])  // each update gets its target's weight
  }

  @Test func outOfRangeIndicesNameTheNode() throws {
    var graph = ONNXGraphBuilder(name: "gather")
    let data = graph.addInput("data", shape: [2, 2])
    let indices = graph.addInitializer("indices", .integer(ONNXIntegers(shape: [1, 2], values: [0, 5])))
    graph.addOutput(graph.addNode("GatherND", [data, indices])[0], shape: [1])
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "gathernd.onnx")
    #expect { try model.run(Tensor.zeros([2, 2])) } throws: { error in
      "\(error)".contains("gathernd.onnx") && "\(error)".contains("(GatherND)") && "\(error)".contains("index 5")
    }
  }

  /// TopK picks values from the input (so they are differentiable) and breaks ties by index.
  @Test func topKBreaksTiesByIndexAndPassesGradients() throws {
    var graph = ONNXGraphBuilder(name: "topk")
    let x = graph.addInput("x", shape: [5])
    let k = graph.addInitializer("k", .integer(ONNXIntegers(shape: [1], values: [3])))
    let outputs = graph.addNode("TopK", [x, k], outputs: 2)
    for o in outputs { graph.addOutput(o, shape: [3]) }
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "topk.onnx")
    let input = Tensor(shape: [5], scalars: [1, 4, 2, 4, 3])
    let result = try model.run(["x": .float(input)])
    #expect(result[outputs[0]]?.floatValues?.scalars == [4, 4, 3])
    #expect(result[outputs[1]] == .integer(ONNXIntegers(shape: [3], values: [1, 3, 4])))
    let (_, grads) = valueWithGradient(at: [input]) { t in model.forward(t[0], ForwardContext(training: false)).sum() }
    #expect(grads[0].scalars == [0, 1, 0, 1, 1])
  }

  /// Scatter reductions combine exactly on constants and refuse recorded tensors by name.
  @Test func scatterReductionsCombineConstantsAndRefuseRecordedTensors() throws {
    var graph = ONNXGraphBuilder(name: "scatter-add")
    let data = graph.addInput("data", shape: [3])
    let indices = graph.addInitializer("indices", .integer(ONNXIntegers(shape: [3, 1], values: [2, 0, 2])))
    let updates = graph.addInput("updates", shape: [3])
    graph.addOutput(graph.addNode("ScatterND", [data, indices, updates], attributes: [.string("reduction", "add")])[0], shape: [3])
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "scatter-add.onnx")
    let feeds: [String: ONNXValue] = ["data": .float(Tensor(shape: [3], scalars: [1, 2, 3])), "updates": .float(Tensor(shape: [3], scalars: [10, 20, 30]))]
    #expect(try model.run(feeds).values.first?.floatValues?.scalars == [21, 2, 43])
    let tracked = Tensor(shape: [3], scalars: [1, 2, 3]).tracked(key: 0)
    #expect { try model.run(["data": .float(tracked), "updates": feeds["updates"]!]) } throws: { error in
      "\(error)".contains("scatter-add.onnx") && "\(error)".contains("(ScatterND)") && "\(error)".contains("add")
    }
  }

  /// CumProd on floats is a chain of recorded products: its gradient matches central differences.
  @Test func cumulativeProductGradientsMatchFiniteDifferences() throws {
    for (exclusive, reverse) in [(0, 0), (1, 1)] {
      var graph = ONNXGraphBuilder(name: "cumprod")
      let x = graph.addInput("x", shape: [2, 4])
      let axis = graph.addInitializer("axis", .integer(ONNXIntegers(shape: [], values: [1])))
      graph.addOutput(graph.addNode("CumProd", [x, axis], attributes: [.int("exclusive", exclusive), .int("reverse", reverse)])[0], shape: [2, 4])
      let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "cumprod.onnx")
      let input = randomTensor([2, 4], seed: 31, in: 0.5...1.5), weights = randomTensor([2, 4], seed: 32)
      let context = ForwardContext(training: false)
      let (_, grads) = valueWithGradient(at: [input]) { t in (model.forward(t[0], context) * weights).sum() }
      let numeric = numericGradientInDouble(of: { weightedSum(model.forward($0, context), weights) }, at: input)
      #expect(gradientMismatch(grads[0], numeric, atol: 1e-3, rtol: 1e-3) == nil, "\(gradientMismatch(grads[0], numeric, atol: 1e-3, rtol: 1e-3) ?? "")")
    }
  }
}
