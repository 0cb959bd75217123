/// Models of operator sets 1–10: accepted when every node's operator means at that opset what
/// it means at opset 11 — the operator got no new version between the model's opset and 11 —
/// so the opset-11 kernels run it unchanged (the `And`, `Not`, `Xor` of opset 7, the
/// `MatMulInteger` of opset 10). A node whose operator changed is an error naming it.
extension ONNXModel {
  /// The oldest operator sets accepted node by node.
  public static let legacyOpsets: ClosedRange<Int64> = 1...10

  /// Operators given a new version in each opset 2…11 (from `onnx.defs` of onnx==1.23.2,
  /// default domain).
  static let operatorsChangedInOpset: [Int64: Set<String>] = [
    2: ["GlobalLpPool", "LpPool", "Pad", "Split"],
    3: ["GRU"],
    4: ["Concat"],
    5: ["Reshape"],
    6: ["Abs", "Add", "BatchNormalization", "Cast", "Ceil", "Clip", "Div", "Dropout", "Elu", "Exp", "Floor", "Gemm", "HardSigmoid", "InstanceNormalization", "LeakyRelu", "Log", "Max", "Mean", "Min", "Mul", "Neg", "PRelu", "Reciprocal", "Relu", "Selu", "Sigmoid", "Sqrt", "Sub", "Sum", "Tanh", "Tile"],
    7: ["Acos", "Add", "And", "Asin", "Atan", "AveragePool", "BatchNormalization", "Cos", "Div", "Dropout", "Equal", "GRU", "Gemm", "Greater", "LSTM", "Less", "Mul", "Multinomial", "Or", "PRelu", "Pow", "RNN", "Sin", "Sub", "Tan", "Upsample", "Xor"],
    8: ["Expand", "Max", "MaxPool", "Mean", "Min", "Scan", "Sum"],
    9: ["Acosh", "Asinh", "Atanh", "BatchNormalization", "Cast", "Compress", "Constant", "ConstantOfShape", "Cosh", "Erf", "EyeLike", "Flatten", "Gemm", "Greater", "IsNaN", "Less", "MatMul", "MaxUnpool", "MeanVarianceNormalization", "NonZero", "OneHot", "PRelu", "Scan", "Scatter", "Shrink", "Sign", "Sinh", "TfIdfVectorizer", "Upsample", "Where"],
    10: ["AveragePool", "ConvInteger", "DequantizeLinear", "Dropout", "IsInf", "MatMulInteger", "MaxPool", "Mod", "NonMaxSuppression", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "Resize", "ReverseSequence", "RoiAlign", "Slice", "StringNormalizer", "ThresholdedRelu", "TopK", "Upsample"],
    11: ["ArgMax", "ArgMin", "AveragePool", "BitShift", "Clip", "Compress", "Concat", "ConcatFromSequence", "Constant", "Conv", "ConvTranspose", "CumSum", "DepthToSpace", "Det", "DynamicQuantizeLinear", "Equal", "Flatten", "Gather", "GatherElements", "GatherND", "Gemm", "Hardmax", "If", "LogSoftmax", "Loop", "LpPool", "MaxPool", "MaxUnpool", "NonMaxSuppression", "OneHot", "Pad", "Range", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Resize", "Round", "Scan", "Scatter", "ScatterElements", "ScatterND", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "Slice", "Softmax", "Split", "SplitToSequence", "Squeeze", "TopK", "Unique", "Unsqueeze"],
  ]

  /// Throws for the first node whose operator changed between `opset` and 11.
  func checkLegacyOperators() throws(ONNXError) {
    guard opset < Self.supportedOpsets.lowerBound else { return }
    for node in nodes {
      let changes = (opset + 1)...Self.supportedOpsets.lowerBound
      if let version = changes.first(where: { Self.operatorsChangedInOpset[$0]?.contains(node.opType) ?? false }) {
        throw .invalidNode(file: file, node: node.displayName, operator: node.opType,
                           reason: "the model's opset \(opset) defines it differently (it changed in opset \(version)); Winnow supports it from opset \(version)")
      }
    }
  }
}
