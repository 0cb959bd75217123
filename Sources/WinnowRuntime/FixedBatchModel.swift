import WinnowNN

/// A model whose graph only runs at one batch size (an ONNX file with a fixed batch
/// dimension). The compiler traces it at that size, and the program refuses other sizes with
/// an error instead of reaching a shape precondition.
public protocol FixedBatchModel: Layer {
  /// The only batch size the model accepts, or nil when any works.
  var fixedBatchSize: Int? { get }
}
