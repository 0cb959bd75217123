import WinnowCore

/// Gradients of a scalar with respect to a model's parameters, keyed by parameter name.
///
/// A value: computing it changes nothing in the model, and it can be inspected, clipped,
/// averaged or discarded before an optimizer applies it.
public struct Gradients: Sendable {
  public var byName: [String: Tensor]

  public init(_ byName: [String: Tensor] = [:]) { self.byName = byName }

  public subscript(name: String) -> Tensor? {
    get { byName[name] }
    set { byName[name] = newValue }
  }

  /// Euclidean norm of all gradients taken together.
  public var globalNorm: Float {
    var sum: Double = 0
    for g in byName.values { g.withUnsafeBufferPointer { for v in $0 { sum += Double(v) * Double(v) } } }
    return Float(sum.squareRoot())
  }

  /// Scales all gradients down so their global norm is at most `maxNorm` (PyTorch's
  /// `clip_grad_norm_`). Returns the norm before clipping.
  @discardableResult
  public mutating func clipNorm(_ maxNorm: Float) -> Float {
    let norm = globalNorm
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 { byName = byName.mapValues { ($0 * scale).detached } }
    return norm
  }
}

/// Evaluates `loss` with every parameter of `model` recorded, and returns the loss and its
/// gradient for each parameter.
///
/// Parameters are tracked only for the duration of the call, so the model is unchanged
/// afterwards (apart from state the forward pass itself updates, such as batch-norm
/// statistics in training mode).
///
///     let (loss, grads) = valueWithGradients(of: model) {
///       crossEntropy(model.forward(x, context), labels: y)
///     }
public func valueWithGradients(of model: Layer, _ loss: () -> Tensor) -> (loss: Float, gradients: Gradients) {
  var names: [String] = []
  model.visitParameters { name, p in
    p.value = p.value.detached.tracked(key: names.count)
    names.append(name)
  }
  defer { model.visitParameters { _, p in p.value = p.value.detached } }
  let value = loss()
  precondition(value.count == 1, "loss must be a scalar, got shape \(value.shape)")
  let byKey = gradients(of: value)
  var result: [String: Tensor] = [:]
  for (key, g) in byKey { result[names[key]] = g }
  return (value.scalar, Gradients(result))
}
