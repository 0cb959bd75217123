import WinnowCore

/// Element types other than float32: operators compute in Float32 and round back.
extension ONNXOperators {
  /// Operators that read the element types of their float inputs themselves.
  static let typeAware: Set<String> = ["Cast", "CastLike", "QuantizeLinear", "DequantizeLinear", "Identity", "Constant", "BitCast", "QLinearMatMul", "QLinearConv"]

  /// Operators whose output type is that of an input other than the first float one.
  static let typeInput: [String: Int] = ["OneHot": 2]

  /// Runs `kernel` on `node`. Float16, bfloat16, double, float8 and float4 inputs reach other
  /// kernels as Float32 (their values are exact in it; double is already rounded), and the
  /// float outputs are rounded to the element type of the first float input — the `T` that
  /// ONNX operators share between that input and their outputs (``typeInput`` names the
  /// exceptions).
  ///
  /// For one elementwise operation this equals computing in the narrow type itself (Float32
  /// carries more than 2p + 2 bits for every such type, so the double rounding is innocuous);
  /// chains such as reductions are rounded once, at the end, as runtimes that accumulate in
  /// Float32 do.
  static func run(_ kernel: Kernel, _ node: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    if typeAware.contains(node.node.opType) { return try kernel(node) }
    guard node.inputs.contains(where: { if case .floating? = $0 { true } else { false } }) else { return try kernel(node) }
    let typed = typeInput[node.node.opType].flatMap { node.has($0) ? node.inputs[$0] : nil }
    let type = (typed ?? node.inputs.lazy.compactMap { $0 }.first { $0.dataType.isFloatingPoint })?.dataType ?? .float
    let widened = node.inputs.map { input -> ONNXValue? in
      if case .floating(let t, _)? = input { return .float(t) }
      return input
    }
    let results = try kernel(ONNXNode(node: node.node, inputs: widened, opset: node.opset, file: node.file, context: node.context))
    return results.map { result in
      if case .float(let t) = result { return .floating(t, as: type) }
      return result
    }
  }
}
