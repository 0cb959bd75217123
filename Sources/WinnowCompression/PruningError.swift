/// Why a pruning request cannot be carried out. Every case names the layer (parameter) at fault.
public enum PruningError: Error, Equatable, Sendable, CustomStringConvertible {
  case unknownLayer(String, known: [String])
  case impossibleSparsity(layer: String, sparsity: Double)
  case patternDoesNotDivide(layer: String, n: Int, m: Int, rowLength: Int)
  case invalidPattern(n: Int, m: Int)
  case maskShapeMismatch(layer: String, expected: [Int], actual: [Int])
  case notAMask(layer: String)
  case malformedPlan(reason: String)
  /// A data-driven method (SNIP, GraSP, rate-distortion allocation) was given no examples.
  case emptyCalibrationData(method: String)

  public var description: String {
    switch self {
    case .unknownLayer(let name, let known):
      let shown = known.prefix(8).joined(separator: ", ") + (known.count > 8 ? ", …" : "")
      return "unknown layer '\(name)'; prunable parameters are: \(shown)"
    case .impossibleSparsity(let layer, let s):
      return "layer '\(layer)': sparsity \(s) is impossible (it must be at least 0 and below 1)"
    case .patternDoesNotDivide(let layer, let n, let m, let length):
      return "layer '\(layer)': \(n):\(m) sparsity needs rows whose length is a multiple of \(m), but its rows have \(length) weights"
    case .invalidPattern(let n, let m):
      return "\(n):\(m) is not a valid N:M pattern (need 0 < N < M)"
    case .maskShapeMismatch(let layer, let expected, let actual):
      return "layer '\(layer)': mask has shape \(actual) but the parameter has shape \(expected)"
    case .notAMask(let layer):
      return "layer '\(layer)': a mask may hold only 0 and 1"
    case .malformedPlan(let reason):
      return "pruning plan: \(reason)"
    case .emptyCalibrationData(let method):
      return "\(method) needs at least one calibration example, but the data is empty"
    }
  }
}
