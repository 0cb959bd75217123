import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowFormats
import WinnowNN
import WinnowTestSupport

private func readFixtureTensor(_ path: String) throws -> Tensor {
  let proto = try TensorProto(serializedBytes: try readFileBytes(path))
  guard case .float(let t) = try ONNXValue(proto, file: path) else { throw ONNXError.invalidModel(file: path, reason: "not float") }
  return t
}

/// The fixture models of `Utilities/Reference/onnx_export_reference.py` (seed 1).
private func fixtureModel(_ name: String) -> (layer: Layer, inputShape: [Int]) {
  let architecture = ModelSpec.Architecture(rawValue: name.replacingOccurrences(of: "-int8", with: ""))!
  let side = architecture == .lenet5 ? 16 : 8
  let spec = ModelSpec(architecture, inputShape: [1, side, side], classes: 10)
  return (spec.build(seed: 1), [2, 1, side, side])
}

/// Replaces every weight of rank ≥ 2 by its int8 per-channel round trip (what the QDQ file stores).
private func dequantizeWeights(_ model: Layer) throws {
  try model.visitParameters { name, p in
    guard p.value.rank >= 2 else { return }
    p.value = try QuantizationScheme.int8().quantize(p.value, layer: name).dequantized()
  }
}

@Suite struct ONNXExportTests {
  static let cases = ["mlp", "smallcnn", "lenet5", "resnet8", "transformer", "smallcnn-int8", "resnet8-int8", "transformer-int8"]

  /// native → ONNX → ONNX Runtime equals Winnow (ORT outputs committed by the reference script).
  @Test(arguments: cases) func onnxRuntimeAgreesWithWinnow(name: String) throws {
    let directory = try #require(fixturePath("export/\(name)"))
    let input = try readFixtureTensor(directory + "/input.pb"), expected = try readFixtureTensor(directory + "/output.pb")
    let (model, shape) = fixtureModel(name)
    if name.hasSuffix("int8") { try dequantizeWeights(model) }
    #expect(input.shape == shape)
    let actual = model(input)
    // Float32 sums in a different order (BLAS vs MLAS) differ by a few ulps of the logits.
    #expect(allClose(actual, expected, rtol: 1e-4, atol: 1e-5), "\(differenceReport(actual, expected))")
    if name.hasSuffix("int8") {
      // ORT's fully optimised session runs the int8 weights with dynamically quantized uint8
      // activations: about 1% of the logits (|y| ≤ 0.7) away from the QDQ semantics.
      let fused = try readFixtureTensor(directory + "/output_fused.pb")
      #expect(maxAbsDifference(actual, fused) < 2e-2 && maxAbsDifference(actual, fused) > 0)
    }
  }

  /// native → ONNX → Winnow's importer reproduces the native outputs (fp32, int8, masked).
  @Test(arguments: ["mlp", "lenet5", "resnet8", "transformer", "smallcnn-int8"]) func exportedModelImportsBack(name: String) throws {
    let (model, shape) = fixtureModel(name)
    let int8 = name.hasSuffix("int8")
    let proto = try ONNXExport.model(model, inputShape: shape, weights: int8 ? .int8 : .float32)
    let imported = try ONNXModel(bytes: proto.serializedBytes(), file: "\(name).onnx")
    if int8 { try dequantizeWeights(model) }
    let x = randomTensor(shape, seed: 5)
    #expect(allClose(imported(x), model(x), rtol: 1e-5, atol: 1e-6), "\(differenceReport(imported(x), model(x)))")
  }

  @Test func maskedWeightsAreStoredAsZeros() throws {
    let (model, shape) = fixtureModel("smallcnn")
    model.visitParameters { name, p in
      if name == "conv2.weight" { p.mask = Tensor(shape: p.shape) { m in for i in m.indices { m[i] = i % 3 == 0 ? 0 : 1 } } }
    }
    let proto = try ONNXExport.model(model, inputShape: shape)
    let stored = try #require(proto.graph?.initializer.first { $0.name == "conv2.weight" })
    guard case .float(let weight) = try ONNXValue(stored, file: "masked") else { Issue.record("not float"); return }
    #expect(weight.scalars.enumerated().allSatisfy { $0.offset % 3 != 0 || $0.element == 0 })
    var mask = Tensor.zeros([1])
    model.visitParameters { name, p in if name == "conv2.weight" { mask = p.mask! } }
    #expect(mask.count == weight.count)  // the model keeps its mask: export does not change it
    let imported = try ONNXModel(bytes: proto.serializedBytes(), file: "masked.onnx")
    let x = randomTensor(shape, seed: 2)
    #expect(allClose(imported(x), model(x), rtol: 1e-5, atol: 1e-6))
  }

  /// ONNX → Winnow → ONNX keeps outputs: an imported model exports like a native one.
  @Test func importedModelExportsAgain() throws {
    var graph = ONNXGraphBuilder(name: "convnet")
    let x = graph.addInput("x", shape: [2, 3, 9, 9])
    let w = graph.addInitializer("conv.weight", .float(randomTensor([4, 3, 3, 3], seed: 1)))
    let b = graph.addInitializer("conv.bias", .float(randomTensor([4], seed: 2)))
    let conv = graph.addNode("Conv", [x, w, b], attributes: [.ints("pads", [1, 0, 2, 1]), .ints("strides", [2, 2])])[0]
    let pooled = graph.addNode("MaxPool", [graph.addNode("Relu", [conv])[0]], attributes: [.ints("kernel_shape", [2, 2]), .int("ceil_mode", 1)])[0]
    let flat = graph.addNode("Flatten", [pooled])[0]
    let shape = graph.addNode("Shape", [flat])[0]
    let reshaped = graph.addNode("Reshape", [flat, shape])[0]
    let y = graph.addNode("Softmax", [reshaped], attributes: [.int("axis", -1)])[0]
    graph.addOutput(y, shape: [2, 36])
    let first = try ONNXModel(bytes: graph.model().serializedBytes(), file: "convnet.onnx")
    let input = randomTensor([2, 3, 9, 9], seed: 3)
    let reexported = try ONNXExport.model(first, inputShape: input.shape)
    let second = try ONNXModel(bytes: reexported.serializedBytes(), file: "again.onnx")
    #expect(second.parameterShapes.map(\.name) == ["conv.weight", "conv.bias"])
    #expect(allClose(second(input), first(input), rtol: 1e-6, atol: 1e-7))
  }

  @Test func exportIsDeterministic() throws {
    let (model, shape) = fixtureModel("resnet8")
    #expect(try ONNXExport.model(model, inputShape: shape).serializedBytes() == ONNXExport.model(model, inputShape: shape).serializedBytes())
  }
}
