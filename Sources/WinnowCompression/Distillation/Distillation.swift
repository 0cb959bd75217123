import WinnowCore
import WinnowNN

/// Why a distillation setup cannot be used; every case names the value or layer at fault.
public enum DistillationError: Error, Equatable, Sendable, CustomStringConvertible {
  case invalidTemperature(Float)
  case invalidWeight(Float)
  case unknownFeatureLayer(String, model: String)
  case incompatibleFeatures(student: [Int], teacher: [Int])
  case incompatibleLogits(student: [Int], teacher: [Int])

  public var description: String {
    switch self {
    case .invalidTemperature(let t): return "distillation temperature must be positive and finite, got \(t)"
    case .invalidWeight(let w): return "distillation weight must be in [0, 1], got \(w)"
    case .unknownFeatureLayer(let name, let model):
      return "the \(model) has no layer '\(name)' reachable through Sequential containers for feature distillation"
    case .incompatibleFeatures(let s, let t):
      return "student feature \(s) cannot be matched to teacher feature \(t): only the channel (axis 1) width may differ"
    case .incompatibleLogits(let s, let t):
      return "student logits \(s) and teacher logits \(t) differ: the teacher must solve the same task"
    }
  }
}

/// Distillation from a teacher as the training loss of any fine-tuning: logit distillation
/// (``logitDistillationLoss(student:teacher:labels:temperature:weight:)``) plus, optionally,
/// feature distillation between one intermediate output of each network, through a learned
/// adapter (a linear map, or a 1×1 convolution for images) when the widths differ.
///
/// Train ``trainable`` (the student plus the adapter; the student's parameter names are
/// unchanged) and install the loss with ``install(on:)``. The teacher runs in inference mode
/// and, since none of its parameters is recorded, records no gradients.
public final class Distillation {
  public struct Feature: Sendable {
    public var studentLayer: String
    public var teacherLayer: String
    /// Weight β of the feature term.
    public var weight: Float
    public init(studentLayer: String, teacherLayer: String, weight: Float) {
      self.studentLayer = studentLayer
      self.teacherLayer = teacherLayer
      self.weight = weight
    }
  }

  public let teacher: Layer
  public let temperature: Float
  /// α: the share of the soft (teacher) term; `1 − α` goes to the hard labels.
  public let weight: Float
  public let feature: Feature?
  /// The student and, for feature distillation across widths, the adapter.
  public let trainable: DistilledStudent

  /// Checks the settings and, with `feature`, runs both networks once on a zero input of
  /// `inputShape` (`[C, H, W]`) to size the adapter (drawn from `seed`).
  public init(teacher: Layer, student: Layer, temperature: Float = 4, weight: Float = 0.9, feature: Feature? = nil,
              inputShape: [Int], seed: UInt64 = 0) throws(DistillationError) {
    guard temperature > 0, temperature.isFinite else { throw .invalidTemperature(temperature) }
    guard weight >= 0, weight <= 1 else { throw .invalidWeight(weight) }
    if let feature { guard feature.weight >= 0, feature.weight.isFinite else { throw .invalidWeight(feature.weight) } }
    self.teacher = teacher
    self.temperature = temperature
    self.weight = weight
    self.feature = feature
    let probe = Tensor.zeros([1] + inputShape), context = ForwardContext(training: false)
    let t = forwardCapturing(teacher, probe, at: feature?.teacherLayer ?? "", context)
    let s = forwardCapturing(student, probe, at: feature?.studentLayer ?? "", context)
    guard t.output.shape == s.output.shape else { throw .incompatibleLogits(student: s.output.shape, teacher: t.output.shape) }
    var adapter: Layer?
    if let feature {
      guard let tf = t.feature else { throw .unknownFeatureLayer(feature.teacherLayer, model: "teacher") }
      guard let sf = s.feature else { throw .unknownFeatureLayer(feature.studentLayer, model: "student") }
      adapter = try Self.adapter(student: sf.shape, teacher: tf.shape, seed: seed)
    }
    trainable = DistilledStudent(student: student, adapter: adapter)
  }

  /// Nil when the shapes agree; a linear map or 1×1 convolution over axis 1 otherwise.
  static func adapter(student: [Int], teacher: [Int], seed: UInt64) throws(DistillationError) -> Layer? {
    if student == teacher { return nil }
    guard student.count == teacher.count, student.count == 2 || student.count == 4,
          Array(student[2...]) == Array(teacher[2...]) else {
      throw .incompatibleFeatures(student: student, teacher: teacher)
    }
    var rng = RandomGenerator(seed: seed)
    return student.count == 2 ? Linear(student[1], teacher[1], rng: &rng) as Layer
      : Conv2d(student[1], teacher[1], kernel: 1, rng: &rng)
  }

  /// The distillation loss of `batch` and the student's logits.
  public func loss(batch: Batch, context: ForwardContext) -> (loss: Tensor, logits: Tensor) {
    let inference = ForwardContext(training: false)
    let t = forwardCapturing(teacher, batch.images, at: feature?.teacherLayer ?? "", inference)
    let s = forwardCapturing(trainable.student, batch.images, at: feature?.studentLayer ?? "", context)
    var total = logitDistillationLoss(student: s.output, teacher: t.output, labels: batch.labels,
                                      temperature: temperature, weight: weight)
    if let feature, let sf = s.feature, let tf = t.feature {
      total = total + featureDistillationLoss(student: sf, teacher: tf, adapter: trainable.adapter, context: context) * feature.weight
    }
    return (total, s.output)
  }

  /// Makes `trainer` (whose model must be ``trainable``) train with ``loss(batch:context:)``.
  public func install(on trainer: Trainer) {
    precondition(trainer.model === trainable, "train Distillation.trainable, not the bare student")
    trainer.lossFunction = { [self] _, batch, context in loss(batch: batch, context: context) }
  }
}

/// A student with the adapter of its feature distillation: forward is the student's; the
/// parameters are the student's under their own names plus `distillation_adapter.*`.
public final class DistilledStudent: Layer {
  public let student: Layer
  public let adapter: Layer?

  init(student: Layer, adapter: Layer?) {
    self.student = student
    self.adapter = adapter
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor { student.forward(input, context) }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try student.visitParameters(body)
    try adapter?.visitParameters { name, p in try body("distillation_adapter." + name, &p) }
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows { try student.visitBuffers(body) }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows { try student.visitChildren(body) }
}
