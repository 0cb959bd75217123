import ArgumentParser
import Foundation
import Winnow

struct Sweep: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare pruning methods and their naive baselines across sparsities.",
    discussion: """
      Trains a dense model (or starts from --from CHECKPOINT), then prunes it with every method \
      at every sparsity, fine-tunes each for the same number of epochs, and writes NAME.md (a \
      table), NAME.json and NAME.svg (accuracy against sparsity) into --out. Baselines: \
      random-same-layers (random masks with global magnitude's per-layer sparsities), random-erk, \
      small-dense (fewer channels, same parameter count, trained from scratch for the whole budget), \
      channels-scratch (channel pruning's architecture trained from scratch) and lottery-reinit (the \
      ticket's mask on a fresh initialisation). Methods that start from a fresh network (snip, grasp, \
      synflow, srste, set, rigl, lottery) train for --epochs + --finetune-epochs.
      Example: winnow sweep --model lenet5 --data fashion-mnist --epochs 5 --finetune-epochs 2 \
      --sparsities 0.5,0.8,0.9,0.95,0.98 --out results
      """)

  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Network to train when --from is not given.") var model: String = "smallcnn"
  @Option(help: "Start from this trained checkpoint instead of training a dense model.") var from: String?
  @Option(help: "Epochs of dense training.") var epochs: Int = 10
  @Option(help: "Epochs of fine-tuning after each pruning.") var finetuneEpochs: Int = 2
  @Option(name: .customLong("lr"), help: "Dense training learning rate.") var learningRate: Float = 0.05
  @Option(name: .customLong("finetune-lr"), help: "Fine-tuning learning rate.") var finetuneLearningRate: Float = 0.01
  @Option(help: "Examples per step.") var batchSize: Int = 64
  @Option(help: "Comma-separated sparsities in (0, 1).") var sparsities: String = "0.5,0.8,0.9,0.95,0.98"
  @Option(help: "Comma-separated methods: \(SweepMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
  var methods: String = SweepMethod.allCases.map(\.rawValue).joined(separator: ",")
  @Option(help: "Seed for training, shuffling and random baselines.") var seed: UInt64 = 0
  @Option(help: "Directory for the report files.") var out: String = "sweep"
  @Option(help: "Base name of the report files.") var name: String = "sweep"
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    let (train, test) = try dataOptions.load()
    let levels = try sparsities.split(separator: ",").map { part -> Double in
      guard let v = Double(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("bad sparsity '\(part)'") }
      return v
    }
    let chosen = try methods.split(separator: ",").map { part -> SweepMethod in
      guard let m = SweepMethod(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError("unknown method '\(part)'; choose from \(SweepMethod.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return m
    }
    var spec: ModelSpec
    var configuration = TrainingConfiguration()
    var base: Layer?
    if let from {
      let saved = try Checkpoint.read(path: from)
      spec = saved.spec
      configuration = saved.configuration
      base = try loadModel(from: saved, file: from)
    } else {
      guard let architecture = ModelSpec.Architecture(rawValue: model) else { throw ValidationError("unknown model '\(model)'") }
      spec = ModelSpec(architecture, inputShape: train.imageShape, classes: train.classes)
      if let problem = spec.problem { throw ValidationError(problem) }
      configuration.epochs = epochs
      configuration.learningRate = learningRate
      configuration.batchSize = batchSize
      configuration.seed = seed
    }
    guard spec.inputShape == train.imageShape else { throw ValidationError("model expects \(spec.inputShape) images; \(train.name) has \(train.imageShape)") }
    if let problem = configuration.problem { throw ValidationError(problem) }
    var sweep = try PruningSweep(spec: spec, dense: configuration, finetuneEpochs: finetuneEpochs,
                                 finetuneLearningRate: finetuneLearningRate, methods: chosen, sparsities: levels)
    let reporter = ProgressReporter(batchSize: configuration.batchSize, interval: 30)
    sweep.progress = { reporter.write("sweep " + $0 + "\n") }
    sweep.trainingProgress = reporter
    let started = Date()
    let results = try sweep.run(train: train, test: test, denseModel: base)
    let report = SweepReport(title: "\(spec.architecture.rawValue) on \(dataOptions.data)", results: results)
    try report.write(to: out, name: name)
    say(report.markdown)
    say("wrote \(out)/\(name).md, .json, .svg in \(formatDuration(Date().timeIntervalSince(started)))")
  }
}
