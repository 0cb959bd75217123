import WinnowCore

/// The operator kernels, by ONNX operator name (default domain).
///
/// A kernel reads a node's inputs and attributes and returns its outputs. Float work goes
/// through Winnow tensor operations (recorded when tracked); integer work is exact.
enum ONNXOperators {
  typealias Kernel = @Sendable (ONNXNode) throws(ONNXError) -> [ONNXValue]

  static let table: [String: Kernel] = elementwise
    .merging(linear) { $1 }
    .merging(shape) { $1 }
    .merging(quantization) { $1 }
    .merging(more) { $1 }
    .merging(reductions) { $1 }
    .merging(losses) { $1 }
    .merging(attention) { $1 }
    .merging(normalization) { $1 }
    .merging(rearrange) { $1 }
    .merging(bitwise) { $1 }
    .merging(indexing) { $1 }
    .merging(integerDomain) { $1 }

  /// Names of every supported operator, sorted (for `winnow import` and docs).
  static var supported: [String] { table.keys.sorted() }
}

extension ONNXModel {
  /// Every operator the importer implements.
  public static var supportedOperators: [String] { ONNXOperators.supported }
}
