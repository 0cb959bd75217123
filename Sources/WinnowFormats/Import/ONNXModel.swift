import WinnowCore
import WinnowNN

/// An ONNX model imported into Winnow: a ``Layer`` whose forward pass interprets the graph's
/// nodes in topological order with Winnow tensor operations.
///
/// Float initializers become ``Parameter``s under their ONNX names, so the imported model
/// trains through autodiff, and the graph it records is Winnow's own ``Op`` graph, which
/// pruning, quantization, the runtime and ``ONNXExport`` read like a native model's. Integer
/// values (shapes, indices, quantized data) are computed exactly on the side, every run, so
/// shape computations such as `Shape → Gather → Concat → Reshape` fold to constants.
///
///     let model = try ONNXModel(file: "lenet.onnx")
///     let logits = model(images)                       // N×10
///     let outputs = try model.run(["input": .float(images)])
public final class ONNXModel: Layer {
  /// The `ai.onnx` operator set versions the importer implements.
  public static let supportedOpsets: ClosedRange<Int64> = 11...28

  /// The path (or name) the model was read from; errors name it.
  public let file: String
  public let opset: Int64
  /// Nodes in an order where every input is produced before it is read.
  public let nodes: [NodeProto]
  /// Graph inputs that are not initializers, with their declared shapes (nil = dynamic).
  public let inputs: [(name: String, shape: [Int?], dataType: Int32)]
  public let outputNames: [String]
  /// Trainable float initializers, in file order.
  var parameters: [(name: String, parameter: Parameter)]
  /// Integer initializers: constants, never trained.
  let constants: [String: ONNXValue]
  /// Producer name, version and IR version of the file, for summaries.
  public let producer: String

  /// Reads and imports an `.onnx` file; external data is resolved next to it.
  public convenience init(file path: String) throws(ONNXError) {
    let bytes: [UInt8]
    do { bytes = try readFileBytes(path) } catch { throw .io(file: path, reason: "\(error)") }
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    try self.init(bytes: bytes, file: path, directory: directory)
  }

  /// Imports a serialized model; `file` names it in errors.
  public convenience init(bytes: [UInt8], file: String, directory: String? = nil) throws(ONNXError) {
    let proto: ModelProto
    do { proto = try ModelProto(serializedBytes: bytes) } catch {
      throw .malformed(file: file, offset: error.offset, reason: error.reason)
    }
    try self.init(proto: proto, file: file, directory: directory)
  }

  /// Imports a decoded model.
  public init(proto: ModelProto, file: String, directory: String? = nil) throws(ONNXError) {
    self.file = file
    guard let graph = proto.graph else { throw .invalidModel(file: file, reason: "the model has no graph") }
    opset = try Self.checkOpsets(proto.opsetImport, file: file)
    producer = "\(proto.producerName) \(proto.producerVersion) (IR version \(proto.irVersion))"
    var parameters: [(String, Parameter)] = []
    var constants: [String: ONNXValue] = [:]
    for initializer in graph.initializer {
      guard !initializer.name.isEmpty else { throw .invalidModel(file: file, reason: "an initializer has no name") }
      switch try initializer.value(file: file, directory: directory) {
      case .float(let t): parameters.append((initializer.name, Parameter(t)))
      // Other float types and integers are constants: training would have to round each step.
      case let value: constants[initializer.name] = value
      }
    }
    self.parameters = parameters
    self.constants = constants
    let initialized = Set(graph.initializer.map(\.name))
    for info in graph.input + graph.output where info.type != nil && info.type?.tensorType == nil {
      throw .unsupportedDataType(file: file, tensor: info.name, dataType: 0)
    }
    inputs = graph.input.filter { !initialized.contains($0.name) }.map { info in
      let dims = info.type?.tensorType?.shape?.dim.map { d in d.dimValue.map { Int($0) } } ?? []
      return (info.name, dims, info.type?.tensorType?.elemType ?? TensorProto.DataType.float.rawValue)
    }
    outputNames = graph.output.map(\.name)
    nodes = try Self.sorted(graph.node, available: initialized.union(inputs.map(\.name)), file: file)
    try checkOperators()
    try checkLegacyOperators()
    guard !outputNames.isEmpty else { throw .invalidModel(file: file, reason: "the graph has no outputs") }
  }

  /// The `ai.onnx` opset version; other domains are rejected here only if nodes use them.
  static func checkOpsets(_ imports: [OperatorSetIdProto], file: String) throws(ONNXError) -> Int64 {
    guard let main = imports.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
      guard let other = imports.first else { throw .invalidModel(file: file, reason: "the model imports no operator set") }
      throw .unsupportedOpset(file: file, domain: other.domain, version: other.version)
    }
    guard supportedOpsets.contains(main.version) || legacyOpsets.contains(main.version) else {
      throw .unsupportedOpset(file: file, domain: main.domain, version: main.version)
    }
    return main.version
  }

  /// Every node uses a known operator from the default domain.
  func checkOperators() throws(ONNXError) {
    for node in nodes {
      let domain = node.domain.isEmpty || node.domain == "ai.onnx" ? "" : node.domain + "::"
      guard domain.isEmpty, ONNXOperators.table[node.opType] != nil else {
        throw .unsupportedOperator(file: file, node: node.displayName, operator: domain + node.opType)
      }
    }
  }

  /// Kahn's algorithm over value names; names never produced are an error naming the node.
  static func sorted(_ nodes: [NodeProto], available: Set<String>, file: String) throws(ONNXError) -> [NodeProto] {
    var defined = available
    var pending = nodes
    var order: [NodeProto] = []
    order.reserveCapacity(nodes.count)
    while !pending.isEmpty {
      var next: [NodeProto] = []
      for node in pending {
        if node.input.allSatisfy({ $0.isEmpty || defined.contains($0) }) {
          order.append(node)
          defined.formUnion(node.output)
        } else {
          next.append(node)
        }
      }
      if next.count == pending.count {
        let node = next[0]
        let missing = node.input.first { !$0.isEmpty && !defined.contains($0) } ?? "?"
        throw .invalidModel(file: file, reason: "node '\(node.displayName)' (\(node.opType)) reads '\(missing)', which no node, input or initializer defines (or the graph has a cycle)")
      }
      pending = next
    }
    return order
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    for i in parameters.indices { try body(parameters[i].name, &parameters[i].parameter) }
  }
}

extension NodeProto {
  /// The node's name, or its first output when unnamed (common in exported files).
  var displayName: String { name.isEmpty ? (output.first.map { "→\($0)" } ?? opType) : name }
}
