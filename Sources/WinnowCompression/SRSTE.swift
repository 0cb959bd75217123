import WinnowCore
import WinnowNN

/// N:M structured sparsity learned from scratch with the sparse-refined straight-through
/// estimator, SR-STE (Zhou et al. 2021, "Learning N:M Fine-grained Structured Sparse Neural
/// Networks From Scratch").
///
/// The dense weights W are trained; the network computes with W̃ = W ⊙ mask, where the mask
/// is recomputed from |W| before every step (in each group of M consecutive weights of an
/// output row the N largest are kept, ``MaskSelection/nm(scores:n:m:)``). The dense weights
/// receive the straight-through gradient of the sparse ones plus the sparse-refined term:
///
///     W ← W − γ·( ∂L/∂W̃ + λ_w·(1 − mask) ⊙ W )
///
/// The second term decays the pruned weights only, so the mask stops flipping between
/// near-equal weights (the paper's "sparse architecture divergence"); λ_w = 2e-4 as in the
/// paper. Optimizer weight decay, if any, still acts on all of W.
///
/// With a ``GradientFlowDecay`` (Bambhaniya et al. 2024) the N:M constraint is reached
/// progressively: dense steps first, then faded or denser masks, then binary N:M. The
/// sparse-refined term applies once pruning starts; the authors' decay code uses plain STE,
/// which is `lambda: 0`.
///
///     let srste = try SRSTE(n: 2, m: 4, names: SRSTE.eligibleParameters(of: model, m: 4))
///     try srste.install(on: trainer)
///     try trainer.run(train: train, test: test)
///     try srste.finalize(trainer.model)       // hard 2:4 masks, pruned weights zeroed
///
/// The masks depend only on the weights and the step, so a resumed run repeats an
/// uninterrupted one. During training each named parameter is ``Parameter/straightThrough``
/// and its mask changes every step (during MDGF's decay phase the mask holds the soft values
/// `mask + β_t·(1 − mask)`); after ``finalize(_:)`` the masks are ordinary binary masks.
public struct SRSTE: Sendable {
  public var n: Int
  public var m: Int
  /// λ_w, the weight of the sparse-refined term.
  public var lambda: Float
  public var decay: GradientFlowDecay?
  /// The parameters made N:M sparse.
  public var names: [String]

  public init(n: Int = 2, m: Int = 4, lambda: Float = 2e-4, decay: GradientFlowDecay? = nil, names: [String]) throws(PruningError) {
    guard n > 0 && n < m else { throw .invalidPattern(n: n, m: m) }
    guard lambda >= 0 && lambda.isFinite else { throw .malformedPlan(reason: "SR-STE λ_w must be a non-negative number, got \(lambda)") }
    guard !names.isEmpty else { throw .malformedPlan(reason: "SR-STE needs at least one parameter to make N:M sparse") }
    try decay?.validate(n: n, m: m)
    self.n = n
    self.m = m
    self.lambda = lambda
    self.decay = decay
    self.names = names
  }

  /// The weights (rank ≥ 2) whose rows (`in` or `in·kH·kW` long) are a multiple of `m`.
  public static func eligibleParameters(of model: Layer, m: Int) -> [String] {
    prunableParameters(of: model).filter { ($0.shape.dropFirst().reduce(1, *)) % m == 0 }.map(\.name)
  }

  /// Checks the names and the pattern against `model`.
  public func validate(against model: Layer) throws(PruningError) {
    try PruningPlan.nm(n: n, m: m, names: names).validate(against: model)
  }

  /// Binary masks of the pattern in force at `step` (the target N:M, or SDGF's denser one),
  /// from the magnitudes of the dense weights.
  public func masks(of model: Layer, step: Int) throws(PruningError) -> MaskSet {
    let pattern = decay?.pattern(at: step, n: n, m: m) ?? (n: n, m: m)
    return try masks(of: model, n: pattern.n, m: pattern.m)
  }

  /// Sets the forward masks for `step` on every named parameter, straight-through.
  public func prepare(_ model: Layer, step: Int) throws(PruningError) {
    let masks = try masks(of: model, step: step)
    let beta = decay?.prunedScale(at: step) ?? 0
    model.visitParameters { name, p in
      guard let mask = masks[name] else { return }
      p.mask = beta == 0 ? mask : (mask + beta * (1 - mask)).detached
      p.straightThrough = true
    }
  }

  /// Adds the sparse-refined term λ_w·(1 − mask) ⊙ W to the gradient of each named weight
  /// (`gradients` holds ∂L/∂W̃, the straight-through gradient).
  public func refine(_ gradients: inout Gradients, of model: Layer, step: Int) throws(PruningError) {
    guard lambda != 0, decay?.prunes(at: step) ?? true else { return }
    let masks = try masks(of: model, step: step)
    let lambda = lambda
    model.visitParameters { name, p in
      guard let mask = masks[name], let g = gradients[name] else { return }
      gradients[name] = (g + lambda * ((1 - mask) * p.value.detached)).detached
    }
  }

  /// Runs ``prepare(_:step:)`` before and ``refine(_:of:step:)`` after the backward pass of
  /// every step of `trainer` (replacing its `beforeStep` and `transformGradients` hooks).
  public func install(on trainer: Trainer) throws(PruningError) {
    try validate(against: trainer.model)
    let method = self
    trainer.beforeStep = { model, state in
      // Validated above against this model; an error here is a bug.
      do { try method.prepare(model, step: state.globalStep) } catch { preconditionFailure("SR-STE: \(error)") }
    }
    trainer.transformGradients = { model, gradients, state in
      do { try method.refine(&gradients, of: model, step: state.globalStep) } catch { preconditionFailure("SR-STE: \(error)") }
    }
  }

  /// Ends training: sets the hard target N:M masks from the final dense weights, turns the
  /// straight-through estimator off and zeroes the pruned weights.
  @discardableResult
  public func finalize(_ model: Layer) throws(PruningError) -> MaskSet {
    let masks = try masks(of: model, n: n, m: m)
    model.visitParameters { name, p in if masks[name] != nil { p.straightThrough = false } }
    try masks.apply(to: model)
    return masks
  }

  private func masks(of model: Layer, n: Int, m: Int) throws(PruningError) -> MaskSet {
    let wanted = Set(names)
    var masks: [String: Tensor] = [:]
    var failure: PruningError?
    model.visitParameters { name, p in
      guard failure == nil, wanted.contains(name) else { return }
      let rowLength = p.value.count / max(p.shape.first ?? 1, 1)
      guard rowLength % m == 0 else { failure = .patternDoesNotDivide(layer: name, n: n, m: m, rowLength: rowLength); return }
      masks[name] = nmMask(magnitudesOf: p.value, n: n, m: m)
    }
    if let failure { throw failure }
    for name in names where masks[name] == nil { throw .unknownLayer(name, known: prunableParameters(of: model).map(\.name)) }
    return MaskSet(masks)
  }
}

/// The mask ``MaskSelection/nm(scores:n:m:)`` selects from |w| (the m − n smallest of each
/// group dropped, ties to the lower index, NaN smallest), without allocating per group:
/// SR-STE recomputes it twice a step. O(m²) comparisons per group of m.
func nmMask(magnitudesOf w: Tensor, n: Int, m: Int) -> Tensor {
  Tensor(shape: w.shape) { mask in
    w.withUnsafeBufferPointer { w in
      for start in stride(from: 0, to: w.count, by: m) {
        for j in start..<(start + m) {
          var below = 0  // group members ranked before j (smaller, or equal at a lower index)
          let a = Swift.abs(w[j])
          for k in start..<(start + m) where k != j {
            let b = Swift.abs(w[k])
            let before = b.isNaN != a.isNaN ? b.isNaN : (b < a || (b == a && k < j) || (a.isNaN && k < j))
            if before { below += 1 }
          }
          mask[j] = below < m - n ? 0 : 1
        }
      }
    }
  }
}
