import WinnowCore

/// Everything that decides a training run's result. Saved in checkpoints, so a resumed run
/// continues with exactly the settings it started with.
public struct TrainingConfiguration: Codable, Sendable, Hashable {
  public enum OptimizerKind: String, Codable, Sendable, CaseIterable { case sgd, adam, adamw }
  public enum ScheduleKind: String, Codable, Sendable, CaseIterable { case constant, cosine, step }

  public var epochs = 10
  public var batchSize = 64
  public var optimizer = OptimizerKind.sgd
  public var learningRate: Float = 0.05
  public var momentum: Float = 0.9
  public var nesterov = false
  public var weightDecay: Float = 5e-4
  public var schedule = ScheduleKind.cosine
  /// Linear warm-up length, in steps.
  public var warmupSteps = 0
  public var labelSmoothing: Float = 0
  /// Clip the global gradient norm to this value when set.
  public var clipNorm: Float?
  /// Seeds the weight initialisation, the shuffling and dropout.
  public var seed: UInt64 = 0
  /// A training-time compression method that shapes the whole run (e.g. `srste:2:4`,
  /// `rigl:0.9`, `set:0.9`), kept here so a resumed run installs it again. Interpreted by
  /// the layer that installed it (the CLI); WinnowNN only stores it.
  public var sparseTraining: String?

  public init() {}

  /// Why this configuration cannot be used, or nil.
  public var problem: String? {
    if epochs < 1 { return "epochs must be at least 1, got \(epochs)" }
    if batchSize < 1 { return "batch size must be at least 1, got \(batchSize)" }
    if !(learningRate > 0) || !learningRate.isFinite { return "learning rate must be positive, got \(learningRate)" }
    if momentum < 0 || momentum >= 1 { return "momentum must be in [0, 1), got \(momentum)" }
    if weightDecay < 0 { return "weight decay must not be negative, got \(weightDecay)" }
    if labelSmoothing < 0 || labelSmoothing >= 1 { return "label smoothing must be in [0, 1), got \(labelSmoothing)" }
    if let c = clipNorm, !(c > 0) { return "gradient clipping norm must be positive, got \(c)" }
    if warmupSteps < 0 { return "warm-up steps must not be negative" }
    return nil
  }

  public func makeOptimizer() -> any Optimizer {
    switch optimizer {
    case .sgd: return SGD(learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
    case .adam: return Adam(learningRate: learningRate, weightDecay: weightDecay)
    case .adamw: return Adam.adamW(learningRate: learningRate, weightDecay: weightDecay)
    }
  }

  /// The learning-rate schedule for a run of `totalSteps` optimizer steps.
  public func makeSchedule(totalSteps: Int) -> LearningRateSchedule {
    let main: LearningRateSchedule
    switch schedule {
    case .constant: main = .constant(learningRate)
    case .cosine: main = .cosine(rate: learningRate, steps: max(totalSteps - warmupSteps, 1), minimum: 0)
    case .step: main = .step(rate: learningRate, every: max(totalSteps / 3, 1), factor: 0.1)
    }
    return warmupSteps > 0 ? .warmup(steps: warmupSteps, then: main) : main
  }
}
