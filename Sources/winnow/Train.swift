import ArgumentParser
import Foundation
import Winnow

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a classifier, with progress, metrics and resumable checkpoints.",
    discussion: """
      Example: winnow train --model lenet5 --data fashion-mnist --epochs 5 --checkpoint lenet.ckpt
      Interrupt it and run the same command with --resume to continue where it stopped; the \
      result is the same as an uninterrupted run.
      """)

  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Network: \(ModelSpec.Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
  var model: String = "smallcnn"
  @Option(help: "Passes over the training data.") var epochs: Int = 10
  @Option(help: "Examples per optimizer step.") var batchSize: Int = 64
  @Option(help: "Optimizer: sgd, adam or adamw.") var optimizer: String = "sgd"
  @Option(name: .customLong("lr"), help: "Peak learning rate.") var learningRate: Float = 0.05
  @Option(help: "SGD momentum.") var momentum: Float = 0.9
  @Flag(help: "Use Nesterov momentum with SGD.") var nesterov = false
  @Option(help: "Weight decay (L2 for sgd/adam, decoupled for adamw).") var weightDecay: Float = 5e-4
  @Option(help: "Learning-rate schedule: constant, cosine or step.") var schedule: String = "cosine"
  @Option(help: "Linear warm-up steps.") var warmup: Int = 0
  @Option(help: "Label smoothing for the cross-entropy loss.") var labelSmoothing: Float = 0
  @Option(help: "Clip the global gradient norm to this value.") var clipNorm: Float?
  @Option(help: "Seed for initialisation, shuffling and dropout.") var seed: UInt64 = 0
  @Option(help: "Checkpoint file, written after every epoch (atomically).") var checkpoint: String?
  @Option(help: "Also write the checkpoint every N steps.") var checkpointEvery: Int?
  @Flag(help: "Continue from --checkpoint instead of starting over.") var resume = false
  @Option(help: "Append one JSON line of metrics per epoch to this file.") var metrics: String?
  @Option(help: ArgumentHelp(
    "Sparse training from scratch: srste:N:M (learned N:M, SR-STE), rigl:S or set:S (dynamic sparse training at sparsity S), snip:S, grasp:S or synflow:S (prune at initialisation, then train).",
    discussion: "The masks are part of the checkpoint; --resume continues with the same method."))
  var sparse: String?
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    let (train, test) = try dataOptions.load()
    let trainer: Trainer
    if resume {
      guard let checkpoint else { throw ValidationError("--resume needs --checkpoint FILE") }
      trainer = try Trainer(resuming: try Checkpoint.read(path: checkpoint), file: checkpoint)
      FileHandle.standardError.write(Data("resuming \(checkpoint) at epoch \(trainer.state.epoch + 1), step \(trainer.state.globalStep)\n".utf8))
    } else {
      trainer = Trainer(spec: try spec(for: train), configuration: try makeConfiguration())
    }
    let finish = try installSparseTraining(trainer, data: train, fresh: !resume)
    trainer.checkpointPath = checkpoint
    trainer.checkpointEvery = checkpointEvery
    trainer.metricsPath = metrics
    trainer.progress = ProgressReporter(batchSize: trainer.configuration.batchSize)
    say("training \(trainer.spec.architecture.rawValue) (\(trainer.model.parameterCount) parameters) on \(train.name): \(train.count) train, \(test.count) test examples")
    try trainer.run(train: train, test: test)
    if let finish {
      try finish(trainer.model)
      try trainer.saveCheckpoint()
      say(SparsityReport(model: trainer.model).description)
    }
    let result = evaluate(trainer.model, on: test)
    say(String(format: "test accuracy %.2f%%  (loss %.4f, %d examples)", result.accuracy * 100, result.loss, result.examples))
  }

  func spec(for data: Dataset) throws -> ModelSpec {
    guard let architecture = ModelSpec.Architecture(rawValue: model) else {
      throw ValidationError("unknown model '\(model)'; choose one of \(ModelSpec.Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let spec = ModelSpec(architecture, inputShape: data.imageShape, classes: data.classes)
    if let problem = spec.problem { throw ValidationError("model \(model) on \(data.name): \(problem)") }
    return spec
  }

  func makeConfiguration() throws -> TrainingConfiguration {
    var c = TrainingConfiguration()
    c.epochs = epochs
    c.batchSize = batchSize
    guard let o = TrainingConfiguration.OptimizerKind(rawValue: optimizer) else {
      throw ValidationError("unknown optimizer '\(optimizer)'; use sgd, adam or adamw")
    }
    c.optimizer = o
    guard let s = TrainingConfiguration.ScheduleKind(rawValue: schedule) else {
      throw ValidationError("unknown schedule '\(schedule)'; use constant, cosine or step")
    }
    c.schedule = s
    c.learningRate = learningRate
    c.momentum = momentum
    c.nesterov = nesterov
    c.weightDecay = weightDecay
    c.warmupSteps = warmup
    c.labelSmoothing = labelSmoothing
    c.clipNorm = clipNorm
    c.seed = seed
    c.sparseTraining = sparse
    if let problem = c.problem { throw ValidationError(problem) }
    if let n = checkpointEvery, n < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
    return c
  }
}

/// Installs the configuration's sparse-training method on `trainer`; returns what to run at
/// the end (SR-STE's hard masks), if anything.
func installSparseTraining(_ trainer: Trainer, data: Dataset, fresh: Bool) throws -> ((Layer) throws -> Void)? {
  let stepsPerEpoch = (data.count + trainer.configuration.batchSize - 1) / trainer.configuration.batchSize
  guard let spec = trainer.configuration.sparseTraining else { return nil }
  let parts = spec.split(separator: ":").map(String.init)
  let totalSteps = stepsPerEpoch * trainer.configuration.epochs
  switch parts.first {
  case "srste":
    guard parts.count == 3, let n = Int(parts[1]), let m = Int(parts[2]) else { throw ValidationError("--sparse srste needs N:M, e.g. srste:2:4") }
    let names = SRSTE.eligibleParameters(of: trainer.model, m: m)
    guard !names.isEmpty else { throw ValidationError("no layer of this model has rows divisible by \(m)") }
    let method = try SRSTE(n: n, m: m, names: names)
    try method.install(on: trainer)
    return { model in _ = try method.finalize(model) }
  case "rigl", "set":
    guard parts.count == 2, let sparsity = Double(parts[1]) else { throw ValidationError("--sparse \(parts[0]) needs a sparsity, e.g. \(parts[0]):0.9") }
    let end = max(1, totalSteps * 3 / 4)
    let interval = max(1, stepsPerEpoch / 4)
    let method = parts[0] == "rigl"
      ? try DynamicSparseTraining.rigL(updateInterval: interval, endStep: end, seed: trainer.configuration.seed)
      : try DynamicSparseTraining.set(updateInterval: interval, endStep: end, seed: trainer.configuration.seed)
    if fresh { _ = try method.initialize(trainer.model, sparsity: sparsity, allocation: .erdosRenyiKernel) }
    method.install(on: trainer)
    return nil
  case "snip", "grasp", "synflow":
    guard parts.count == 2, let sparsity = Double(parts[1]) else { throw ValidationError("--sparse \(parts[0]) needs a sparsity, e.g. \(parts[0]):0.9") }
    guard fresh else { return nil }  // masks are in the checkpoint
    let method: SaliencyMethod = parts[0] == "snip" ? .snip : parts[0] == "grasp" ? .grasp : .synflow
    try Pruning.atInitialisation(trainer.model, method: method, sparsity: sparsity, data: Array(data.batches(size: trainer.configuration.batchSize).prefix(4)))
    return nil
  default:
    throw ValidationError("unknown --sparse method '\(spec)'; use srste:N:M, rigl:S, set:S, snip:S, grasp:S or synflow:S")
  }
}

/// One thread pool: Winnow's. OpenBLAS runs single-threaded and `sgemm` splits large products
/// over Winnow's threads (two pools on two cores slow each other down; see PERFORMANCE.md).
func applyThreads(_ threads: Int?) {
  BLASThreads.set(1)
  if let threads { Parallelism.threads = threads }
}
