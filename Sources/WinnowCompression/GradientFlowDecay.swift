import Foundation

/// Progressive gradient flow for N:M training at high sparsity (Bambhaniya et al. 2024,
/// "Progressive Gradient Flow for Robust N:M Sparsity Training in Transformers").
///
/// Training is split into three phases by step t:
///
///     dense          t < t_d                 every weight is used (forward mask ≡ 1)
///     decay          t_d ≤ t < t_f           pruned weights are faded out (MDGF) or the
///                                            pattern is tightened in frames (SDGF)
///     sparse         t_f ≤ t                 binary N:M masks: plain SR-STE
///
/// Mask decay (MDGF) multiplies the pruned weights by β_t instead of 0 in the forward pass,
/// so the layer computes with `w ⊙ (mask + β_t·(1 − mask))`, and passes the gradient
/// straight through to the dense weights:
///
///     MDGF-linear:       β_t = max(0, 1 − α·(t − t_d))
///     MDGF-exponential:  β_t = exp(−α·(t − t_d))
///
/// The gradient that flows *through* a pruned connection to the rest of the network is thus
/// scaled by β_t and decays from 1 to 0; in the sparse phase β = 0. The reference code uses
/// α = 2e-4 per step. Structure decay (SDGF-stepwise) keeps binary masks but starts from a
/// denser pattern: the decay phase is cut into `log₂(M/N)` equal frames with patterns
/// `(M−1):M, M/2:M, M/4:M, …`, and the target N:M holds from t_f (for 1:8: 7:8, 4:8, 2:8, then
/// 1:8). Both follow the authors' code (`timm/sparse_pruning/sparse_functions.py`), with
/// phases in steps rather than epochs.
public struct GradientFlowDecay: Sendable, Hashable {
  public enum Schedule: Sendable, Hashable {
    /// MDGF-linear with decay coefficient α per step.
    case maskLinear(rate: Double)
    /// MDGF-exponential with decay coefficient α per step.
    case maskExponential(rate: Double)
    /// SDGF-stepwise: binary masks, pattern tightened by halving N in equal frames.
    case structureStepwise
  }

  public var schedule: Schedule
  /// t_d: steps of dense training before any pruning.
  public var denseSteps: Int
  /// t_f: first step of the sparse (binary N:M) phase; the steps after it fine-tune.
  public var sparseStart: Int

  public init(_ schedule: Schedule, denseSteps: Int = 0, sparseStart: Int) throws(PruningError) {
    guard denseSteps >= 0, sparseStart >= denseSteps else {
      throw .malformedPlan(reason: "gradient-flow decay needs 0 ≤ dense steps (\(denseSteps)) ≤ sparse start (\(sparseStart))")
    }
    switch schedule {
    case .maskLinear(let rate), .maskExponential(let rate):
      guard rate > 0, rate.isFinite else { throw .malformedPlan(reason: "mask decay rate must be positive, got \(rate)") }
    case .structureStepwise: break
    }
    self.schedule = schedule
    self.denseSteps = denseSteps
    self.sparseStart = sparseStart
  }

  /// β_t: the forward-pass multiplier of pruned weights at step `t` (1 = dense, 0 = pruned).
  public func prunedScale(at t: Int) -> Float {
    if t < denseSteps { return 1 }
    if t >= sparseStart { return 0 }
    let elapsed = Double(t - denseSteps)
    switch schedule {
    case .maskLinear(let rate): return Float(max(0, 1 - rate * elapsed))
    case .maskExponential(let rate): return Float(Foundation.exp(-rate * elapsed))
    case .structureStepwise: return 0
    }
  }

  /// Whether any weight is pruned in the forward pass at step `t` (the sparse-refined term
  /// of SR-STE applies from then on).
  public func prunes(at t: Int) -> Bool { t >= denseSteps }

  /// The N:M pattern whose mask is used at step `t` for target `n:m`: the target, except
  /// during the decay phase of SDGF.
  public func pattern(at t: Int, n: Int, m: Int) -> (n: Int, m: Int) {
    guard case .structureStepwise = schedule, t >= denseSteps, t < sparseStart else { return (n, m) }
    guard let frames = Self.frameCount(n: n, m: m) else { return (n, m) }
    let frameLength = Double(sparseStart - denseSteps) / Double(frames)
    let frame = min(Int(Double(t - denseSteps) / frameLength), frames - 1)
    return (frame == 0 ? m - 1 : m >> frame, m)
  }

  /// Number of SDGF frames, `log₂(M/N)`; nil unless `M/N` is a power of two above 1.
  static func frameCount(n: Int, m: Int) -> Int? {
    guard n > 0, m > n, m % n == 0, (m / n) & (m / n - 1) == 0 else { return nil }
    return (m / n).trailingZeroBitCount
  }

  /// Rejects SDGF for a target whose `M/N` is not a power of two.
  func validate(n: Int, m: Int) throws(PruningError) {
    if case .structureStepwise = schedule, Self.frameCount(n: n, m: m) == nil {
      throw .malformedPlan(reason: "structure decay needs M/N to be a power of two, got \(n):\(m)")
    }
  }
}
