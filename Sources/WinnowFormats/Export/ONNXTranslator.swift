import WinnowCompression
import WinnowCore
import WinnowKernels

/// Translates a recorded Winnow graph into ONNX nodes, one `Op` at a time.
struct ONNXTranslator {
  var builder: ONNXGraphBuilder
  let weights: ONNXExport.WeightFormat
  /// ONNX value names of the recording's leaves, by leaf key.
  var leafNames: [Int: String] = [:]
  private var names: [ObjectIdentifier: String] = [:]

  init(builder: ONNXGraphBuilder, weights: ONNXExport.WeightFormat) {
    self.builder = builder
    self.weights = weights
  }

  /// Adds a parameter as an initializer, or as int8 codes + per-channel scales + a
  /// DequantizeLinear node; returns the name the graph reads it under.
  mutating func addParameter(_ name: String, _ value: Tensor) throws(ONNXError) -> String {
    guard weights == .int8, value.rank >= 2 else { return builder.addInitializer(name, .float(value)) }
    let quantized: QuantizedTensor
    do { quantized = try QuantizationScheme.int8().quantize(value, layer: name) } catch {
      throw .unsupportedExport(reason: "cannot quantize '\(name)': \(error)")
    }
    let channels = value.shape[0]
    let codes = builder.addInitializer(name + "_quantized", .integer(ONNXIntegers(
      shape: value.shape, values: quantized.codes.scalars.map(Int64.init), dataType: .int8)))
    let scale = builder.addInitializer(name + "_scale", .float(Tensor(quantized.scales)))
    let zero = builder.addInitializer(name + "_zero_point", .integer(ONNXIntegers(
      shape: [channels], values: [Int64](repeating: 0, count: channels), dataType: .int8)))
    var node = NodeProto()
    node.opType = "DequantizeLinear"
    node.name = builder.uniqueName("DequantizeLinear_" + name)
    node.input = [codes, scale, zero]
    node.output = [builder.uniqueName(name)]
    node.attribute = [.int("axis", 0)]
    builder.appendRaw(node)
    return node.output[0]
  }

  /// Translates everything `root` depends on; returns the name of `root`'s value.
  mutating func translate(_ root: Tensor) throws(ONNXError) -> String {
    for node in recordedGraph(from: root) {
      let id = ObjectIdentifier(node)
      if let key = node.leafKey {
        guard let name = leafNames[key] else { throw .unsupportedExport(reason: "the output depends on an unknown tracked tensor (key \(key))") }
        names[id] = name
        continue
      }
      guard let op = node.op else { continue }
      let inputs = node.inputs.map { input in input.graphNode.flatMap { names[ObjectIdentifier($0)] } ?? addConstant(input) }
      names[id] = try emit(op, inputs, shapes: node.inputs.map(\.shape))
    }
    guard let node = root.graphNode, let name = names[ObjectIdentifier(node)] else {
      throw .unsupportedExport(reason: "the model's output does not depend on its input or parameters")
    }
    return name
  }

  /// An untracked tensor read by an op (running statistics, a scalar, a shape): a `Constant`
  /// node rather than an initializer, so that importing the file again does not make it a
  /// trainable parameter.
  mutating func constant(_ value: ONNXValue) -> String { node("Constant", [], [.tensor("value", value)]) }

  mutating func addConstant(_ t: Tensor) -> String { constant(.float(t.detached)) }

  mutating func ints(_ values: [Int], shape: [Int]? = nil) -> String {
    constant(.integer(ONNXIntegers(shape: shape ?? [values.count], values: values.map(Int64.init))))
  }

  mutating func scalar(_ value: Float) -> String { constant(.float(Tensor(value))) }

  mutating func node(_ op: String, _ inputs: [String], _ attributes: [AttributeProto] = []) -> String {
    builder.addNode(op, inputs, attributes: attributes)[0]
  }

  /// `x` with its last two axes swapped (for matmul's transposed operands).
  mutating func swapLastTwo(_ x: String, rank: Int) -> String {
    var permutation = Array(0..<rank)
    permutation.swapAt(rank - 1, rank - 2)
    return node("Transpose", [x], [.ints("perm", permutation)])
  }

  mutating func emit(_ op: Op, _ x: [String], shapes: [[Int]]) throws(ONNXError) -> String {
    switch op {
    case .unary(let f): return unary(f, x[0])
    case .binary(let f):
      let names: [BinaryFunction: String] = [.add: "Add", .subtract: "Sub", .multiply: "Mul", .divide: "Div", .maximum: "Max", .minimum: "Min"]
      guard let name = names[f] else { throw .unsupportedExport(reason: "binary function \(f)") }
      return node(name, x)
    case .power(let p): return node("Pow", [x[0], scalar(p)])
    case .clamp(let low, let high): return node("Clip", [x[0], scalar(low), scalar(high)])
    case .sum(let axes): return node("ReduceSum", [x[0], ints(axes)], [.int("keepdims", 1)])
    case .max(let axis): return node("ReduceMax", [x[0]], [.ints("axes", [axis]), .int("keepdims", 1)])
    case .matmul(let tA, let tB):
      let a = tA ? swapLastTwo(x[0], rank: shapes[0].count) : x[0]
      let b = tB ? swapLastTwo(x[1], rank: shapes[1].count) : x[1]
      return node("MatMul", [a, b])
    case .reshape(let shape): return node("Reshape", [x[0], ints(shape)])
    case .permute(let permutation): return node("Transpose", [x[0]], [.ints("perm", permutation)])
    case .expand(let shape): return node("Expand", [x[0], ints(shape)])
    case .slice(let axis, let range):
      return node("Slice", [x[0], ints([range.lowerBound]), ints([range.upperBound]), ints([axis])])
    case .concat(let axis): return node("Concat", x, [.int("axis", axis)])
    case .gather(let indices, let indexShape):
      return node("Gather", [x[0], ints(indices.map(Int.init), shape: indexShape)], [.int("axis", 0)])
    case .conv2d(let stride, let padding, let dilation, let groups):
      return node("Conv", x, [.ints("strides", stride), .ints("pads", padding + padding), .ints("dilations", dilation), .int("group", groups)])
    case .maxPool2d(let kernel, let stride, let padding):
      guard shapes[0].count == 4 else { throw .unsupportedExport(reason: "max pooling of a rank-\(shapes[0].count) tensor (ONNX needs N×C×H×W)") }
      return node("MaxPool", x, [.ints("kernel_shape", kernel), .ints("strides", stride), .ints("pads", padding + padding)])
    case .avgPool2d(let kernel, let stride, let padding):
      guard shapes[0].count == 4 else { throw .unsupportedExport(reason: "average pooling of a rank-\(shapes[0].count) tensor (ONNX needs N×C×H×W)") }
      return node("AveragePool", x, [.ints("kernel_shape", kernel), .ints("strides", stride), .ints("pads", padding + padding), .int("count_include_pad", 1)])
    case .softmax(let axis): return node("Softmax", x, [.int("axis", axis)])
    case .logSoftmax(let axis): return node("LogSoftmax", x, [.int("axis", axis)])
    case .batchNorm:
      // Export records inference mode, where batch norm is an affine map; a training-mode
      // record would need ONNX's training outputs.
      throw .unsupportedExport(reason: "training-mode batch norm (export a model in inference mode)")
    }
  }

  /// Elementwise functions; GELU and SiLU are written out in opset-17 operators.
  mutating func unary(_ f: UnaryFunction, _ x: String) -> String {
    switch f {
    case .negate: return node("Neg", [x])
    case .exp: return node("Exp", [x])
    case .log: return node("Log", [x])
    case .sqrt: return node("Sqrt", [x])
    case .tanh: return node("Tanh", [x])
    case .sigmoid: return node("Sigmoid", [x])
    case .relu: return node("Relu", [x])
    case .abs: return node("Abs", [x])
    case .erf: return node("Erf", [x])
    case .silu: return node("Mul", [x, node("Sigmoid", [x])])
    case .gelu:  // x · ½(1 + erf(x/√2))
      let e = node("Erf", [node("Mul", [x, scalar(1 / Float(2).squareRoot())])])
      return node("Mul", [node("Mul", [x, scalar(0.5)]), node("Add", [e, scalar(1)])])
    case .geluTanh:  // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
      let cube = node("Mul", [node("Mul", [x, x]), x])
      let inner = node("Mul", [node("Add", [x, node("Mul", [cube, scalar(0.044715)])]), scalar((2 / Float.pi).squareRoot())])
      return node("Mul", [node("Mul", [x, scalar(0.5)]), node("Add", [node("Tanh", [inner]), scalar(1)])])
    }
  }
}
