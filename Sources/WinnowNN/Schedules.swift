import WinnowKernels

/// A learning rate as a function of the step number (0-based).
public enum LearningRateSchedule: Sendable, Hashable, Codable {
  /// The same rate throughout.
  case constant(Float)
  /// `rate · factor^⌊step / every⌋` (PyTorch `StepLR`).
  case step(rate: Float, every: Int, factor: Float)
  /// Cosine annealing from `rate` to `minimum` over `steps` (PyTorch `CosineAnnealingLR`), then
  /// held at `minimum` (PyTorch would rise again past `T_max`).
  case cosine(rate: Float, steps: Int, minimum: Float)
  /// Linear warm-up from 0 over `steps`, then `after` (with its step count restarted).
  indirect case warmup(steps: Int, then: LearningRateSchedule)

  public func rate(at step: Int) -> Float {
    switch self {
    case .constant(let r):
      return r
    case .step(let r, let every, let factor):
      return r * powf(factor, Float(step / max(every, 1)))
    case .cosine(let r, let steps, let minimum):
      let t = Float(min(step, steps)) / Float(max(steps, 1))
      return minimum + (r - minimum) * 0.5 * (1 + cosf(Float.pi * t))
    case .warmup(let steps, let after):
      if step < steps { return after.rate(at: 0) * Float(step + 1) / Float(steps) }
      return after.rate(at: step - steps)
    }
  }
}
