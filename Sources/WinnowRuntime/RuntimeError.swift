/// Why a model could not be compiled, or a packed program could not be loaded or run.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
  /// The model's recorded graph changes with the batch size beyond proportional shapes.
  case batchDependentGraph(step: Int, detail: String)
  /// The graph contains an op the compiler cannot turn into a program step.
  case unsupportedOperation(String)
  /// A layer was asked for a weight format that cannot hold its weights.
  case formatNotApplicable(layer: String, format: String, reason: String)
  /// Per-layer options name a layer the model does not have.
  case unknownLayer(String, known: [String])
  /// The input given to a program has the wrong shape.
  case inputShape(expected: [Int], got: [Int])
  /// A packed model file is malformed.
  case malformedFile(path: String, problem: String)

  public var description: String {
    switch self {
    case .batchDependentGraph(let step, let detail):
      return "the model's graph depends on the batch size at step \(step): \(detail)"
    case .unsupportedOperation(let detail):
      return "cannot compile: \(detail)"
    case .formatNotApplicable(let layer, let format, let reason):
      return "layer \(layer) cannot use format \(format): \(reason)"
    case .unknownLayer(let name, let known):
      return "no layer named '\(name)' in the compiled model (layers: \(known.joined(separator: ", ")))"
    case .inputShape(let expected, let got):
      return "program input must have shape [batch] + \(expected), got \(got)"
    case .malformedFile(let path, let problem):
      return "\(path): not a valid Winnow packed model: \(problem)"
    }
  }
}
