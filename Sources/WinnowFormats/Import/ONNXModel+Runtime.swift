import WinnowRuntime

/// An imported graph declares its input shapes; a fixed first dimension is a fixed batch, so
/// the runtime compiler records the model at that size only.
extension ONNXModel: FixedBatchModel {
  public var fixedBatchSize: Int? {
    guard let first = inputs.first, let batch = first.shape.first ?? nil, batch > 0 else { return nil }
    return batch
  }
}
