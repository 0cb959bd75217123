/// Why an ONNX model could not be read, imported, run or written.
///
/// Every case names the file (the path, or the name given to an in-memory decode) and, where
/// there is one, the node, so a message reaching the user says what is wrong and where:
///
///     model.onnx: node 'attn/Softmax_3' (Softmax): input 'x' has shape [2, 3] but axis 4 was asked for
public enum ONNXError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The bytes are not a well-formed protobuf message (truncated, bad length, bad tag, too deep).
  case malformed(file: String, offset: Int, reason: String)
  /// The model declares an operator set Winnow does not implement.
  case unsupportedOpset(file: String, domain: String, version: Int64)
  /// A node uses an operator Winnow does not implement.
  case unsupportedOperator(file: String, node: String, operator: String)
  /// A tensor is stored in an element type Winnow does not convert.
  case unsupportedDataType(file: String, tensor: String, dataType: Int32)
  /// A tensor's data lives in a separate file that is missing or too short.
  case missingExternalData(file: String, tensor: String, location: String, reason: String)
  /// The model is well-formed protobuf but not a valid graph (dangling names, bad tensors).
  case invalidModel(file: String, reason: String)
  /// A node cannot run on the values it received (shapes, attributes, dynamic values).
  case invalidNode(file: String, node: String, operator: String, reason: String)
  /// Running the model needs an input the caller did not give, or one of the wrong shape.
  case invalidInput(file: String, input: String, reason: String)
  /// A native model cannot be expressed in ONNX (an op without an ONNX counterpart).
  case unsupportedExport(reason: String)
  /// The operating system refused to read or write the file.
  case io(file: String, reason: String)

  public var description: String {
    switch self {
    case .malformed(let file, let offset, let reason):
      return "\(file): not a valid ONNX protobuf at byte \(offset): \(reason)"
    case .unsupportedOpset(let file, let domain, let version):
      let name = domain.isEmpty ? "ai.onnx" : domain
      return "\(file): operator set \(name) version \(version) is not supported (Winnow imports ai.onnx opsets \(ONNXModel.supportedOpsets.lowerBound)–\(ONNXModel.supportedOpsets.upperBound), and \(ONNXModel.legacyOpsets.lowerBound)–\(ONNXModel.legacyOpsets.upperBound) for operators unchanged up to \(ONNXModel.supportedOpsets.lowerBound))"
    case .unsupportedOperator(let file, let node, let op):
      return "\(file): node '\(node)' uses operator '\(op)', which Winnow does not support"
    case .unsupportedDataType(let file, let tensor, let dataType) where dataType == 0:
      return "\(file): '\(tensor)' is not a tensor (sequence, map and optional values are not supported)"
    case .unsupportedDataType(let file, let tensor, let dataType):
      let name = TensorProto.DataType(rawValue: dataType).map { "\($0)" } ?? "\(dataType)"
      return "\(file): tensor '\(tensor)' has element type \(name), which Winnow does not support"
    case .missingExternalData(let file, let tensor, let location, let reason):
      return "\(file): external data '\(location)' of tensor '\(tensor)': \(reason)"
    case .invalidModel(let file, let reason):
      return "\(file): \(reason)"
    case .invalidNode(let file, let node, let op, let reason):
      return "\(file): node '\(node)' (\(op)): \(reason)"
    case .invalidInput(let file, let input, let reason):
      return "\(file): input '\(input)': \(reason)"
    case .unsupportedExport(let reason):
      return "cannot export to ONNX: \(reason)"
    case .io(let file, let reason):
      return "\(file): \(reason)"
    }
  }
}
