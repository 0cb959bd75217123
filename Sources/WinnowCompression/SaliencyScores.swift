import Foundation
import WinnowCore
import WinnowNN

/// Pruning-at-initialisation criteria: score every weight before any training, then keep
/// the best-scoring ones (use the scores with ``MaskSelection/global(scores:names:sparsity:)``,
/// as the papers do, or ``MaskSelection/layerwise(scores:sparsity:)``).
///
/// All scores follow Winnow's convention: **lower scores are pruned first**. Weights that are
/// already pruned (mask 0) score −∞, so they are pruned first again and masks only grow.
///
/// Gradients are taken in inference mode (`ForwardContext(training: false)`): dropout is off
/// and batch normalisation uses its running statistics, which are therefore left unchanged.
/// This is the default of the reference implementation of all three methods (Tanaka et al.
/// 2020, `prune_loop(train_mode=False)`).
public enum SaliencyScores {
  /// SNIP connection sensitivity (Lee, Ajanthan & Torr 2019, "SNIP: Single-shot Network
  /// Pruning based on Connection Sensitivity"):
  ///
  ///     score = |g ⊙ θ|,   g = ∂L/∂θ,   L = cross-entropy on the batches
  ///
  /// which is |∂L/∂c| for a multiplicative gate c = 1 on each connection. With several
  /// batches, g is the mean of the per-batch gradients (each of the batch-mean loss), as the
  /// reference implementations accumulate them. The paper divides by Σ|g ⊙ θ|; a common
  /// positive factor changes no ranking, so it is left out.
  ///
  /// - Throws: `.unknownLayer` for a name that is not a parameter; `.emptyCalibrationData`
  ///   when no batch holds an example.
  public static func snip(of model: Layer, names: [String], batches: [Batch]) throws(PruningError) -> [String: Tensor] {
    try requireParameters(names, of: model)
    let batches = try nonEmpty(batches, method: "SNIP")
    let g = meanGradient(of: model, names: names, batches: batches, temperature: 1)
    return scores(of: model, names: names) { name, weight in (g[name]! * weight).abs() }
  }

  /// GraSP, gradient signal preservation (Wang, Zhang & Grosse 2020, "Picking Winning
  /// Tickets Before Training by Preserving Gradient Flow").
  ///
  /// Removing weight θᵢ (a step δ = −θᵢ·eᵢ) changes the squared gradient norm by
  ///
  ///     ‖∇L(θ + δ)‖² − ‖∇L(θ)‖² ≈ 2·δᵀHg = −2·θᵢ·(Hg)ᵢ
  ///
  /// The paper's score is S(−θ) = −θ ⊙ Hg, and it removes the weights with the **largest**
  /// S: those whose removal increases the gradient norm most (or reduces it least), so the
  /// pruned network keeps its gradient flow. Winnow prunes the **lowest** score first, so
  /// this returns −S:
  ///
  ///     score = θ ⊙ Hg          (lowest pruned first ⇔ largest −θ ⊙ Hg pruned first)
  ///
  /// the sign Tanaka et al.'s reference implementation also uses. The paper's division by
  /// |Σ S| changes no ranking and is left out.
  ///
  /// As in the authors' code, the loss is the cross-entropy of the logits divided by a
  /// `temperature` of 200 (it flattens the softmax so that gradients are not dominated by a few
  /// confident examples at initialisation), and H and g are taken over the scored weights
  /// `names` only. The Hessian-gradient product uses central finite differences of gradients
  /// (see ``hessianGradientProduct(of:names:epsilon:loss:)``), since Winnow's autodiff is
  /// first order.
  ///
  /// - Throws: `.unknownLayer`, `.emptyCalibrationData`, and `.malformedPlan` for a
  ///   temperature or ε that is not positive and finite.
  public static func grasp(
    of model: Layer, names: [String], batches: [Batch], temperature: Float = 200, epsilon: Float = 1e-2
  ) throws(PruningError) -> [String: Tensor] {
    try requireParameters(names, of: model)
    guard temperature > 0 && temperature.isFinite else {
      throw .malformedPlan(reason: "GraSP temperature must be positive and finite, got \(temperature)")
    }
    try requireStep(epsilon)
    let batches = try nonEmpty(batches, method: "GraSP")
    let (_, hg) = hessianGradientProduct(of: model, names: names, epsilon: epsilon) {
      meanGradient(of: model, names: names, batches: batches, temperature: temperature)
    }
    return scores(of: model, names: names) { name, weight in weight * hg[name]! }
  }

  /// The gradient g = ∇L(θ) and the Hessian-gradient product Hg over the parameters `names`
  /// (H is the Hessian of L restricted to them), by a central finite difference of gradients
  /// along the unit gradient direction ĝ = g/‖g‖:
  ///
  ///     Hg = ‖g‖·Hĝ ≈ ‖g‖ · (∇L(θ + εĝ) − ∇L(θ − εĝ)) / (2ε)
  ///
  /// Three gradient evaluations, no second-order autodiff. The error is exactly zero for a
  /// quadratic L and O(ε²) otherwise: for L = ¼Σθ⁴ the estimate is Hg + ε²·g³/‖g‖².
  /// Float32 round-off in the two gradients adds about 1e-6·‖∇L‖/ε relative to Hĝ, so ε
  /// trades truncation against round-off; the default ε = 1e-2 (a Euclidean step over all the
  /// named parameters, each weight moving ~1e-2/√n) sits near the optimum ε ≈ ∛(1e-6)
  /// for parameters of order one and keeps ReLU kinks from being crossed by most weights.
  ///
  /// `loss` must evaluate the model (it is called three times with the parameters moved);
  /// the parameters are restored bit-exactly afterwards.
  public static func hessianGradientProduct(
    of model: Layer, names: [String], epsilon: Float = 1e-2, loss: () -> Tensor
  ) throws(PruningError) -> (gradient: [String: Tensor], product: [String: Tensor]) {
    try requireParameters(names, of: model)
    try requireStep(epsilon)
    return hessianGradientProduct(of: model, names: names, epsilon: epsilon) {
      let (_, g) = valueWithGradients(of: model, loss)
      return gradientsFilled(g.byName, names: names, model: model)
    }
  }

  /// SynFlow, iterative synaptic flow (Tanaka, Kunin, Yamins & Ganguli 2020, "Pruning
  /// neural networks without any data by iteratively conserving synaptic flow"), one round:
  ///
  ///     θ ← |θ| (all parameters and buffers, masks kept),  x = 1 (shape 1×inputShape)
  ///     R = 1ᵀ f(x; |θ|),   score = (∂R/∂θ) ⊙ θ
  ///
  /// No data is read: only the input shape. The model runs in inference mode, so batch norm
  /// is the affine map of its (absolute) running statistics, as SynFlow is defined; in
  /// training mode it would normalise away the all-ones batch. Scores are computed in
  /// Float32 (the reference code uses float64), so very deep networks can under- or overflow.
  /// For a bias-free chain of layers, the scores of every layer sum to R (synaptic flow is
  /// conserved), which is why layer collapse is avoided. Parameters and buffers are
  /// restored bit-exactly afterwards.
  ///
  /// This is one scoring round with the current masks; ``Pruning/synflow(_:sparsity:inputShape:iterations:names:)``
  /// runs the paper's iterative procedure.
  public static func synflow(of model: Layer, names: [String], inputShape: [Int]) throws(PruningError) -> [String: Tensor] {
    try requireParameters(names, of: model)
    try requireInputShape(inputShape)
    let saved = ModelState(of: model)
    defer { saved.restore(into: model) }
    linearize(model)
    return synflowScores(of: model, names: names, inputShape: inputShape)
  }

  /// SynFlow's exponential schedule: the sparsity after round k of n on the way to s,
  ///
  ///     s_k = 1 − (1 − s)^(k/n)
  ///
  /// so that every round keeps the same fraction (1 − s)^(1/n) of the surviving weights.
  public static func synflowSparsity(round k: Int, of n: Int, final s: Double) -> Double {
    1 - pow(1 - s, Double(k) / Double(n))
  }

  // MARK: - Internals

  /// R = Σ f(1) with the model already linearised; score = ∂R/∂θ ⊙ θ.
  static func synflowScores(of model: Layer, names: [String], inputShape: [Int]) -> [String: Tensor] {
    let ones = Tensor.ones([1] + inputShape)
    let context = ForwardContext(training: false)
    let (_, g) = valueWithGradients(of: model) { model.forward(ones, context).sum() }
    let filled = gradientsFilled(g.byName, names: names, model: model)
    return scores(of: model, names: names) { name, weight in filled[name]! * weight }
  }

  /// Replaces every parameter value and buffer by its absolute value (masks kept).
  static func linearize(_ model: Layer) {
    model.visitParameters { _, p in p.value = p.value.detached.abs().detached }
    model.visitBuffers { _, t in t = t.detached.abs().detached }
  }

  static func hessianGradientProduct(
    of model: Layer, names: [String], epsilon: Float, gradient: () -> [String: Tensor]
  ) -> (gradient: [String: Tensor], product: [String: Tensor]) {
    let g = gradient()
    var squared = 0.0
    for name in names { g[name]!.withUnsafeBufferPointer { for v in $0 { squared += Double(v) * Double(v) } } }
    let norm = squared.squareRoot()
    guard norm > 0 else { return (g, g.mapValues { Tensor.zeros(like: $0) }) }
    let saved = ModelState(of: model)
    let wanted = Set(names)
    func gradientMoved(by step: Float) -> [String: Tensor] {
      model.visitParameters { name, p in
        if wanted.contains(name) { p.value = (saved.values[name]! + g[name]! * step).detached }
      }
      return gradient()
    }
    let plus = gradientMoved(by: epsilon / Float(norm))
    let minus = gradientMoved(by: -epsilon / Float(norm))
    saved.restore(into: model)
    let scale = Float(norm / (2 * Double(epsilon)))
    var product: [String: Tensor] = [:]
    for name in names { product[name] = ((plus[name]! - minus[name]!) * scale).detached }
    return (g, product)
  }

  /// Mean over batches of ∂/∂θ cross-entropy(f(x)/T, y), inference mode.
  static func meanGradient(of model: Layer, names: [String], batches: [Batch], temperature: Float) -> [String: Tensor] {
    let context = ForwardContext(training: false)
    var sum: [String: Tensor] = [:]
    for batch in batches {
      let (_, g) = valueWithGradients(of: model) {
        let logits = model.forward(batch.images, context)
        return crossEntropy(temperature == 1 ? logits : logits * (1 / temperature), labels: batch.labels)
      }
      for (name, gi) in gradientsFilled(g.byName, names: names, model: model) {
        sum[name] = sum[name].map { ($0 + gi).detached } ?? gi
      }
    }
    if batches.count == 1 { return sum }
    let scale = 1 / Float(batches.count)
    return sum.mapValues { ($0 * scale).detached }
  }

  /// `body(name, θ)` for each named parameter, θ its effective (masked) value; pruned
  /// positions of the result are set to −∞.
  static func scores(of model: Layer, names: [String], _ body: (String, Tensor) -> Tensor) -> [String: Tensor] {
    let wanted = Set(names)
    var result: [String: Tensor] = [:]
    model.visitParameters { name, p in
      guard wanted.contains(name) else { return }
      result[name] = markingPruned(body(name, p.effective.detached).detached, mask: p.mask)
    }
    return result
  }
}

/// `score` with −∞ wherever `mask` is 0, so already-pruned weights are selected first.
func markingPruned(_ score: Tensor, mask: Tensor?) -> Tensor {
  guard let mask else { return score }
  var marked = score
  marked.withUnsafeMutableBufferPointer { s in
    mask.withUnsafeBufferPointer { m in for i in s.indices where m[i] == 0 { s[i] = -.infinity } }
  }
  return marked
}

/// The gradients of `names`, with zeros for parameters the loss does not reach.
func gradientsFilled(_ g: [String: Tensor], names: [String], model: Layer) -> [String: Tensor] {
  var shapes: [String: [Int]] = [:]
  model.visitParameters { name, p in shapes[name] = p.shape }
  var result: [String: Tensor] = [:]
  for name in names { result[name] = g[name]?.detached ?? Tensor.zeros(shapes[name]!) }
  return result
}

/// Throws `.unknownLayer` for a name that is not a parameter of `model`.
func requireParameters(_ names: [String], of model: Layer) throws(PruningError) {
  var known = Set<String>()
  model.visitParameters { name, _ in known.insert(name) }
  for name in names where !known.contains(name) {
    throw .unknownLayer(name, known: prunableParameters(of: model).map(\.name))
  }
}

func requireSparsity(_ s: Double) throws(PruningError) {
  guard s >= 0 && s < 1 else { throw .impossibleSparsity(layer: "(global)", sparsity: s) }
}

private func requireStep(_ epsilon: Float) throws(PruningError) {
  guard epsilon > 0 && epsilon.isFinite else {
    throw .malformedPlan(reason: "finite-difference step ε must be positive and finite, got \(epsilon)")
  }
}

func requireInputShape(_ shape: [Int]) throws(PruningError) {
  guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
    throw .malformedPlan(reason: "SynFlow needs the shape of one input with positive sizes, got \(shape)")
  }
}

/// The batches that hold at least one example; throws when there are none.
private func nonEmpty(_ batches: [Batch], method: String) throws(PruningError) -> [Batch] {
  let kept = batches.filter { !$0.labels.isEmpty }
  guard !kept.isEmpty else { throw .emptyCalibrationData(method: method) }
  return kept
}

/// Raw values, masks and buffers of a model, to put back bit-exactly after a method has
/// temporarily changed them.
struct ModelState {
  var values: [String: Tensor] = [:]
  var masks: [String: Tensor?] = [:]
  var buffers: [String: Tensor] = [:]

  init(of model: Layer) {
    model.visitParameters { name, p in
      values[name] = p.value.detached
      masks[name] = .some(p.mask)
    }
    model.visitBuffers { name, t in buffers[name] = t.detached }
  }

  func restore(into model: Layer) {
    model.visitParameters { name, p in
      if let v = values[name] { p.value = v }
      if let m = masks[name] { p.mask = m }
    }
    model.visitBuffers { name, t in if let b = buffers[name] { t = b } }
  }
}
