import WinnowCompression
import WinnowCore
import WinnowNN

/// Exports a native Winnow model to ONNX by recording one forward pass and translating
/// Winnow's `Op` graph node by node (opset ``ONNXGraphBuilder/exportOpset``).
///
/// Parameters become initializers under their Winnow names. Masked parameters are stored as
/// `value ⊙ mask` (pruned weights are exact zeros in the file). With ``WeightFormat/int8``
/// every weight of rank ≥ 2 (linear and convolution weights) is stored as int8 codes with a
/// per-output-channel symmetric scale (`QuantizationScheme.int8()`, the scheme of
/// `WinnowCompression`) and read through `DequantizeLinear(axis: 0)`: the QDQ form ONNX
/// Runtime recognises. Shapes are those of the traced input (a fixed batch size).
///
///     let model = try ONNXExport.model(lenet, inputShape: [1, 1, 28, 28])
///     try writeFileAtomically(model.serializedBytes(), to: "lenet.onnx")
public enum ONNXExport {
  public enum WeightFormat: String, Sendable, CaseIterable {
    case float32, int8
  }

  /// The ONNX model computing `layer` (inference mode) on inputs of `inputShape`.
  public static func model(
    _ layer: Layer, inputShape: [Int], weights: WeightFormat = .float32, name: String = "winnow"
  ) throws(ONNXError) -> ModelProto {
    guard inputShape.allSatisfy({ $0 > 0 }) else { throw .unsupportedExport(reason: "input shape \(inputShape) has a non-positive size") }
    var saved: [Parameter] = []
    var names: [String] = []
    var values: [Tensor] = []
    layer.visitParameters { name, p in
      saved.append(p)
      names.append(name)
      values.append(p.effective.detached)
      var plain = Parameter(p.effective.detached.tracked(key: names.count - 1))
      plain.straightThrough = false
      p = plain
    }
    defer {
      var i = 0
      layer.visitParameters { _, p in p = saved[i]; i += 1 }
    }
    let inputKey = names.count
    var rng = RandomGenerator(seed: 0)
    let input = Tensor.randomNormal(inputShape, using: &rng).tracked(key: inputKey)
    let output = layer.forward(input, ForwardContext(training: false))
    var translator = ONNXTranslator(builder: ONNXGraphBuilder(name: name), weights: weights)
    let inputName = translator.builder.addInput("input", shape: inputShape)
    translator.leafNames[inputKey] = inputName
    for (key, (parameterName, value)) in zip(names, values).enumerated() {
      translator.leafNames[key] = try translator.addParameter(parameterName, value)
    }
    let result = try translator.translate(output)
    var identity = NodeProto()
    identity.opType = "Identity"
    identity.name = "output_identity"
    identity.input = [result]
    identity.output = ["output"]
    var graph = translator.builder
    graph.appendRaw(identity)
    graph.addOutput("output", shape: output.shape)
    graph.pruneUnusedInitializers()
    return graph.model()
  }
}

extension ONNXGraphBuilder {
  mutating func appendRaw(_ node: NodeProto) {
    for name in node.output { _ = uniqueName(name) }
    graphAppend(node)
  }

  /// Drops initializers no node reads (parameters a forward pass did not use).
  mutating func pruneUnusedInitializers() {
    let read = Set(graph.node.flatMap(\.input))
    graphFilterInitializers { read.contains($0.name) }
  }
}
