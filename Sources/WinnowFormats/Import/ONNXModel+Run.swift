import WinnowCore
import WinnowNN

extension ONNXModel {
  /// Runs the graph on named inputs and returns every graph output by name.
  ///
  /// Float inputs that are tracked (or parameters being tracked) make the whole computation
  /// recorded, so gradients flow to the initializers. Errors name the node that failed.
  public func run(_ feeds: [String: ONNXValue], context: ForwardContext = ForwardContext(training: false)) throws(ONNXError) -> [String: ONNXValue] {
    var values = constants
    for (name, parameter) in parameters { values[name] = .float(parameter.effective) }
    for input in inputs {
      guard let value = feeds[input.name] else {
        throw .invalidInput(file: file, input: input.name, reason: "no value given (the model needs \(inputs.map(\.name)))")
      }
      values[input.name] = try checkInput(value, declared: input)
    }
    for node in nodes {
      let arguments = node.input.map { $0.isEmpty ? nil : values[$0] }
      let operation = ONNXNode(node: node, inputs: arguments, opset: opset, file: file, context: context)
      guard let kernel = ONNXOperators.table[node.opType] else {
        throw .unsupportedOperator(file: file, node: node.displayName, operator: node.opType)
      }
      let results = try ONNXOperators.run(kernel, operation)
      guard results.count >= node.output.filter({ !$0.isEmpty }).count else {
        throw operation.fail("produces \(results.count) outputs but the node names \(node.output.count)")
      }
      for (name, value) in zip(node.output, results) where !name.isEmpty { values[name] = value }
    }
    var outputs: [String: ONNXValue] = [:]
    for name in outputNames {
      guard let value = values[name] else { throw .invalidModel(file: file, reason: "graph output '\(name)' is never computed") }
      outputs[name] = value
    }
    return outputs
  }

  /// `value` checked against the declared shape and element type; a float32 tensor given for
  /// an input of another float type is rounded to it.
  private func checkInput(_ value: ONNXValue, declared: (name: String, shape: [Int?], dataType: Int32)) throws(ONNXError) -> ONNXValue {
    if !declared.shape.isEmpty || value.shape.isEmpty {
      let matches = declared.shape.count == value.shape.count
        && zip(declared.shape, value.shape).allSatisfy { $0 == nil || $0 == $1 }
      guard matches else {
        let shown = declared.shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ")
        throw .invalidInput(file: file, input: declared.name, reason: "has shape \(value.shape) but the model declares [\(shown)]")
      }
    }
    guard let type = TensorProto.DataType(rawValue: declared.dataType), type != .undefined else { return value }
    if type.isFloatingPoint, case .float(let t) = value { return .floating(t, as: type) }
    guard type == value.dataType || (type.isInteger && value.dataType.isInteger) else {
      throw .invalidInput(file: file, input: declared.name, reason: "has element type \(value.dataType) but the model declares \(type)")
    }
    return value
  }

  /// Runs a model with one float input and returns its first output as a float tensor.
  public func run(_ input: Tensor, context: ForwardContext = ForwardContext(training: false)) throws(ONNXError) -> Tensor {
    guard inputs.count == 1, let name = inputs.first?.name else {
      throw .invalidInput(file: file, input: inputs.map(\.name).joined(separator: ", "), reason: "the model has \(inputs.count) inputs; use run(_:) with a dictionary")
    }
    let outputs = try run([name: .float(input)], context: context)
    guard let y = outputs[outputNames[0]]?.floatValues else {
      throw .invalidModel(file: file, reason: "output '\(outputNames[0])' is not a float tensor")
    }
    return y
  }

  /// The ``Layer`` forward pass: one float input, the first output. A model that cannot run
  /// on `input` is a programmer error here (as a wrong shape is for any layer); use
  /// ``run(_:context:)-(Tensor,_)`` to get the typed error instead.
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    do { return try run(input, context: context) } catch { preconditionFailure("\(error)") }
  }
}
