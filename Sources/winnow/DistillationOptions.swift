import ArgumentParser
import Winnow

/// Distillation as an option of any fine-tuning (`prune`, `factorize`).
struct DistillationOptions: ParsableArguments {
  @Option(help: ArgumentHelp(
    "Fine-tune by distillation from this teacher checkpoint (e.g. the dense model).",
    discussion: "Loss: α·T²·KL(teacher‖student at temperature T) + (1 − α)·cross-entropy."))
  var distillFrom: String?
  @Option(help: "Temperature T of the softened distributions.") var distillTemperature: Float = 4
  @Option(help: "Weight α of the teacher's soft targets (1 − α goes to the labels).") var distillWeight: Float = 0.9
  @Option(help: "Also match an intermediate output: STUDENT_LAYER:TEACHER_LAYER[:WEIGHT] (MSE, learned adapter if widths differ).")
  var distillFeature: String?

  /// Checks the options before any work: the teacher must be readable, a feature needs a
  /// teacher, and distillation needs some training to act on.
  func validate(training: Bool) throws {
    guard let path = distillFrom else {
      if distillFeature != nil { throw ValidationError("--distill-feature needs --distill-from TEACHER_CHECKPOINT") }
      return
    }
    _ = try Checkpoint.read(path: path)
    guard training else { throw ValidationError("--distill-from \(path) needs fine-tuning epochs to distill in") }
  }

  /// The distillation for `student`, or nil without `--distill-from`.
  func make(student: Layer, spec: ModelSpec, seed: UInt64) throws -> Distillation? {
    guard let path = distillFrom else {
      if distillFeature != nil { throw ValidationError("--distill-feature needs --distill-from TEACHER_CHECKPOINT") }
      return nil
    }
    let saved = try Checkpoint.read(path: path)
    guard saved.spec.inputShape == spec.inputShape, saved.spec.classes == spec.classes else {
      throw ValidationError("teacher \(path) expects \(saved.spec.inputShape) images with \(saved.spec.classes) classes; the student expects \(spec.inputShape) with \(spec.classes)")
    }
    let teacher = try loadModel(from: saved, file: path)
    var feature: Distillation.Feature?
    if let distillFeature {
      let parts = distillFeature.split(separator: ":").map(String.init)
      guard parts.count == 2 || parts.count == 3, parts.count == 2 || Float(parts[2]) != nil else {
        throw ValidationError("--distill-feature must look like fc2:fc2 or fc2:fc2:0.5, got '\(distillFeature)'")
      }
      feature = .init(studentLayer: parts[0], teacherLayer: parts[1], weight: parts.count == 3 ? Float(parts[2])! : 1)
    }
    let distillation = try Distillation(teacher: teacher, student: student, temperature: distillTemperature, weight: distillWeight,
                                        feature: feature, inputShape: spec.inputShape, seed: seed)
    say("distilling from \(path): T = \(distillTemperature), α = \(distillWeight)" + (distillFeature.map { ", feature \($0)" } ?? ""))
    return distillation
  }

  /// A fine-tuning trainer for `model`, distilling when asked.
  func trainer(for model: Layer, spec: ModelSpec, configuration: TrainingConfiguration) throws -> Trainer {
    let distillation = try make(student: model, spec: spec, seed: configuration.seed)
    let trainer = Trainer(spec: spec, configuration: configuration, model: distillation?.trainable ?? model)
    distillation?.install(on: trainer)
    trainer.progress = ProgressReporter(batchSize: configuration.batchSize)
    return trainer
  }
}
