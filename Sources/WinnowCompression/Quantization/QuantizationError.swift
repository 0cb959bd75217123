/// Why a quantization request cannot be carried out. Every case names the layer (or tensor)
/// at fault, so a bad plan or command line says exactly what to fix.
public enum QuantizationError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The plan names a layer the model does not have (or one that holds no quantizable weight).
  case unknownLayer(String, known: [String])
  /// Integer schemes take 2…8 bits.
  case unsupportedBitWidth(layer: String, bits: Int)
  /// Group-wise schemes need groups that tile every row of the weight exactly.
  case groupSizeDoesNotDivide(layer: String, groupSize: Int, rowLength: Int)
  /// A scheme spelled in a plan or on the command line that Winnow does not know.
  case unknownScheme(String)
  /// The scheme cannot be used where it was asked for (e.g. group-wise or per-channel
  /// activation quantization, which no kernel executes).
  case unsupportedUse(layer: String, scheme: String, reason: String)
  /// Calibration got no batches, or ranges of the wrong count.
  case noCalibrationData(layer: String)
  case malformedPlan(reason: String)

  public var description: String {
    switch self {
    case .unknownLayer(let name, let known):
      let shown = known.prefix(10).joined(separator: ", ") + (known.count > 10 ? ", …" : "")
      return "unknown layer '\(name)'; quantizable layers are: \(shown)"
    case .unsupportedBitWidth(let layer, let bits):
      return "layer '\(layer)': \(bits)-bit integer quantization is not supported (use 2…8 bits)"
    case .groupSizeDoesNotDivide(let layer, let size, let length):
      return "layer '\(layer)': group size \(size) does not divide its rows of \(length) weights"
    case .unknownScheme(let text):
      return "unknown quantization scheme '\(text)'; use e.g. int8-sym-channel, int8-asym-tensor, int4-g64, fp8-e4m3, fp8-e5m2 or binary"
    case .unsupportedUse(let layer, let scheme, let reason):
      return "layer '\(layer)': \(scheme) cannot be used here: \(reason)"
    case .noCalibrationData(let layer):
      return "layer '\(layer)': calibration needs at least one batch of data, but none was given"
    case .malformedPlan(let reason):
      return "quantization plan: \(reason)"
    }
  }
}
