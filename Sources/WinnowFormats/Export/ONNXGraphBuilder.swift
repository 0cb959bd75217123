import WinnowCore

/// Assembles an ONNX model: initializers, nodes, inputs and outputs, with unique names.
///
///     var graph = ONNXGraphBuilder(name: "mlp")
///     let x = graph.addInput("input", shape: [1, 4])
///     let w = graph.addInitializer("fc.weight", .float(weight))
///     let y = graph.addNode("Gemm", [x, w], attributes: [.int("transB", 1)])
///     graph.addOutput(y, shape: [1, 3])
///     let bytes = graph.model().serializedBytes()
public struct ONNXGraphBuilder {
  /// The `ai.onnx` opset exported models declare: every op Winnow writes exists there unchanged.
  public static let exportOpset: Int64 = 17

  public private(set) var graph = GraphProto()
  private var used: Set<String> = []

  public init(name: String) { graph.name = name }

  /// `base`, or `base_1`, `base_2`, … if taken.
  public mutating func uniqueName(_ base: String) -> String {
    var name = base
    var k = 0
    while used.contains(name) { k += 1; name = "\(base)_\(k)" }
    used.insert(name)
    return name
  }

  @discardableResult
  public mutating func addInput(_ name: String, shape: [Int], dataType: TensorProto.DataType = .float) -> String {
    let unique = uniqueName(name)
    graph.input.append(Self.valueInfo(unique, shape: shape, dataType: dataType))
    return unique
  }

  public mutating func addOutput(_ name: String, shape: [Int], dataType: TensorProto.DataType = .float) {
    graph.output.append(Self.valueInfo(name, shape: shape, dataType: dataType))
  }

  @discardableResult
  public mutating func addInitializer(_ name: String, _ value: ONNXValue) -> String {
    let unique = uniqueName(name)
    graph.initializer.append(TensorProto(name: unique, value: value))
    return unique
  }

  /// Adds a node and returns the names of its outputs (`outputs` of them, named after the op).
  @discardableResult
  public mutating func addNode(_ opType: String, _ inputs: [String], attributes: [AttributeProto] = [], outputs: Int = 1) -> [String] {
    var node = NodeProto()
    node.opType = opType
    node.name = uniqueName(opType + "_\(graph.node.count)")
    node.input = inputs
    node.output = (0..<outputs).map { uniqueName(node.name + (outputs == 1 ? "_out" : "_out\($0)")) }
    node.attribute = attributes
    graph.node.append(node)
    return node.output
  }

  /// The finished model (IR version 8, opset ``exportOpset``).
  public func model(producer: String = "winnow") -> ModelProto {
    var model = ModelProto()
    model.irVersion = 8
    model.producerName = producer
    model.producerVersion = "1"
    var opset = OperatorSetIdProto()
    opset.version = Self.exportOpset
    model.opsetImport = [opset]
    model.graph = graph
    return model
  }

  mutating func graphAppend(_ node: NodeProto) { graph.node.append(node) }

  mutating func graphFilterInitializers(_ keep: (TensorProto) -> Bool) { graph.initializer = graph.initializer.filter(keep) }

  static func valueInfo(_ name: String, shape: [Int], dataType: TensorProto.DataType) -> ValueInfoProto {
    var info = ValueInfoProto()
    info.name = name
    var tensor = TypeProto.Tensor()
    tensor.elemType = dataType.rawValue
    var dims = TensorShapeProto()
    dims.dim = shape.map { d in
      var dimension = TensorShapeProto.Dimension()
      dimension.dimValue = Int64(d)
      return dimension
    }
    tensor.shape = dims
    var type = TypeProto()
    type.tensorType = tensor
    info.type = type
    return info
  }
}

extension AttributeProto {
  public static func int(_ name: String, _ value: Int) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = AttributeType.int.rawValue; a.i = Int64(value); return a
  }
  public static func ints(_ name: String, _ values: [Int]) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = AttributeType.ints.rawValue; a.ints = values.map(Int64.init); return a
  }
  public static func float(_ name: String, _ value: Float) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = AttributeType.float.rawValue; a.f = value; return a
  }
  public static func string(_ name: String, _ value: String) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = AttributeType.string.rawValue; a.s = Array(value.utf8); return a
  }
  public static func tensor(_ name: String, _ value: ONNXValue) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = AttributeType.tensor.rawValue; a.t = TensorProto(name: "", value: value); return a
  }
}
