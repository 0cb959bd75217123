import WinnowCore
import WinnowNN

/// Logit distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
/// Network"):
///
///     L = α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, labels)
///
/// with student logits `s` and teacher logits `t` (`N×K`), temperature `T > 0` and weight
/// `α ∈ [0, 1]`. The KL term is averaged over the batch; `T²` keeps its gradient on the
/// scale of the hard-label term as `T` grows (the soft targets' gradients shrink as `1/T²`).
/// The teacher's logits are constants: no gradient flows into them.
public func logitDistillationLoss(student: Tensor, teacher: Tensor, labels: [Int], temperature: Float, weight alpha: Float) -> Tensor {
  precondition(student.shape == teacher.shape, "student logits \(student.shape) and teacher logits \(teacher.shape) differ")
  let soft = klDivergence(logQ: (student * (1 / temperature)).logSoftmax(axis: 1),
                          p: (teacher.detached * (1 / temperature)).softmax(axis: 1).detached)
  let distilled = soft * (alpha * temperature * temperature)
  guard alpha < 1 else { return distilled }
  return distilled + crossEntropy(student, labels: labels) * (1 - alpha)
}

/// Feature distillation (FitNets, Romero et al. 2015): the mean squared error between a
/// student's intermediate output, mapped by an optional learned `adapter` when its width
/// differs, and the teacher's output at the matching place (a constant).
public func featureDistillationLoss(student: Tensor, teacher: Tensor, adapter: Layer? = nil, context: ForwardContext) -> Tensor {
  let mapped = adapter?.forward(student, context) ?? student
  precondition(mapped.shape == teacher.shape, "student feature \(mapped.shape) and teacher feature \(teacher.shape) differ")
  return meanSquaredError(mapped, teacher.detached)
}

/// Runs `model` on `input` and also returns the output of the layer at dotted `path` (which
/// must be reachable through ``Sequential`` containers, e.g. `fc1` or `layer1.0`), or nil
/// when `path` names no such layer.
public func forwardCapturing(_ model: Layer, _ input: Tensor, at path: String, _ context: ForwardContext) -> (output: Tensor, feature: Tensor?) {
  var captured: Tensor?
  let output = forwardCapturing(model, input, path: path.split(separator: ".").map(String.init), context, &captured)
  return (output, captured)
}

private func forwardCapturing(_ layer: Layer, _ input: Tensor, path: [String], _ context: ForwardContext, _ captured: inout Tensor?) -> Tensor {
  guard let sequential = layer as? Sequential, let head = path.first else { return layer.forward(input, context) }
  var x = input
  for (name, child) in sequential.layers {
    if name == head {
      x = path.count == 1 ? child.forward(x, context) : forwardCapturing(child, x, path: Array(path.dropFirst()), context, &captured)
      if path.count == 1 { captured = x }
    } else {
      x = child.forward(x, context)
    }
  }
  return x
}
