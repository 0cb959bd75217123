import Foundation
import WinnowCore

/// Trains a classifier with mini-batch gradient descent, reporting progress, writing
/// metrics and checkpoints, and resuming from a checkpoint to the same result an
/// uninterrupted run would reach.
public final class Trainer {
  public let spec: ModelSpec
  public let configuration: TrainingConfiguration
  public let model: Layer
  public private(set) var optimizer: any Optimizer
  public private(set) var state: TrainingState
  /// Where to write checkpoints (after every epoch, and every `checkpointEvery` steps).
  public var checkpointPath: String?
  public var checkpointEvery: Int?
  /// Where to append one JSON line per epoch.
  public var metricsPath: String?
  public var progress: ProgressReporter?
  /// Called before every step with the model and the state (e.g. to update pruning masks on a
  /// schedule). It must depend only on its arguments, so resumed runs repeat it exactly.
  public var beforeStep: ((Layer, TrainingState) -> Void)?
  /// Called with the gradients of each step before the optimizer applies them (e.g. to add a
  /// regulariser's gradient, or to read dense gradients for regrowth). Must be deterministic.
  public var transformGradients: ((Layer, inout Gradients, TrainingState) -> Void)?
  /// Replaces the training loss (default: cross-entropy of the model's logits with the
  /// configuration's label smoothing), e.g. with a distillation loss. Called with every
  /// parameter of the model recorded; returns the scalar loss and the logits whose accuracy
  /// the progress line counts. Must be deterministic, so resumed runs repeat it exactly.
  public var lossFunction: ((Layer, Batch, ForwardContext) -> (loss: Tensor, logits: Tensor))?
  /// Called after every step (for tests and embedding applications); `false` stops the run.
  public var afterStep: ((TrainingState) -> Bool)?
  public private(set) var history: [EpochMetrics] = []

  /// A fresh run: weights from `configuration.seed`.
  public init(spec: ModelSpec, configuration: TrainingConfiguration) {
    self.spec = spec
    self.configuration = configuration
    model = spec.build(seed: configuration.seed)
    optimizer = configuration.makeOptimizer()
    state = TrainingState(seed: configuration.seed)
  }

  /// A fresh run on an existing model (fine-tuning): its weights and masks are kept.
  public init(spec: ModelSpec, configuration: TrainingConfiguration, model: Layer) {
    self.spec = spec
    self.configuration = configuration
    self.model = model
    optimizer = configuration.makeOptimizer()
    state = TrainingState(seed: configuration.seed)
  }

  /// Continues the run saved in `checkpoint`.
  public init(resuming checkpoint: Checkpoint, file: String) throws(FormatError) {
    spec = checkpoint.spec
    configuration = checkpoint.configuration
    model = spec.build(seed: configuration.seed)
    try checkpoint.restore(into: model, file: file)
    optimizer = configuration.makeOptimizer()
    optimizer.state = checkpoint.optimizerState
    optimizer.step = checkpoint.optimizerStep
    state = checkpoint.state
  }

  /// Trains until `configuration.epochs` are complete (or `afterStep` says stop).
  /// Returns true when all epochs completed.
  @discardableResult
  public func run(train: Dataset, test: Dataset?) throws -> Bool {
    let stepsPerEpoch = (train.count + configuration.batchSize - 1) / configuration.batchSize
    let schedule = configuration.makeSchedule(totalSteps: stepsPerEpoch * configuration.epochs)
    while state.epoch < configuration.epochs {
      let started = Date()
      progress?.beginEpoch()
      var shuffle: RandomGenerator? = state.epochShuffleRNG
      let batches = train.batches(size: configuration.batchSize, shuffle: &shuffle)
      for batch in batches[state.batchInEpoch...] {
        beforeStep?(model, state)
        optimizer.learningRate = schedule.rate(at: state.globalStep)
        trainStep(batch)
        progress?.update(epoch: state.epoch + 1, of: configuration.epochs, step: state.batchInEpoch,
                         of: stepsPerEpoch, loss: state.epochLossSum / Double(max(state.epochSeen, 1)),
                         accuracy: Double(state.epochCorrect) / Double(max(state.epochSeen, 1)))
        if let every = checkpointEvery, state.globalStep % every == 0 { try saveCheckpoint() }
        if let afterStep, !afterStep(state) { return false }
      }
      let seconds = Date().timeIntervalSince(started)
      let metrics = finishEpoch(shuffleAfter: shuffle!, test: test, seconds: seconds, learningRate: optimizer.learningRate)
      progress?.finishEpoch(metrics)
      try appendMetrics(metrics)
      try saveCheckpoint()
    }
    return true
  }

  private func trainStep(_ batch: Batch) {
    let context = ForwardContext(training: true, rng: state.dropoutRNG)
    var logits = Tensor.zeros([0])
    var (loss, gradients) = valueWithGradients(of: model) {
      if let lossFunction {
        let result = lossFunction(model, batch, context)
        logits = result.logits
        return result.loss
      }
      logits = model.forward(batch.images, context)
      return crossEntropy(logits, labels: batch.labels, labelSmoothing: configuration.labelSmoothing)
    }
    state.dropoutRNG = context.rng
    transformGradients?(model, &gradients, state)
    if let c = configuration.clipNorm { gradients.clipNorm(c) }
    optimizer.update(model, with: gradients)
    let n = batch.labels.count
    state.epochLossSum += Double(loss) * Double(n)
    state.epochCorrect += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
    state.epochSeen += n
    state.batchInEpoch += 1
    state.globalStep += 1
  }

  private func finishEpoch(shuffleAfter: RandomGenerator, test: Dataset?, seconds: Double, learningRate: Float) -> EpochMetrics {
    let evaluation = test.map { evaluate(model, on: $0) }
    let metrics = EpochMetrics(
      epoch: state.epoch + 1, step: state.globalStep,
      trainLoss: Float(state.epochLossSum / Double(max(state.epochSeen, 1))),
      trainAccuracy: Float(state.epochCorrect) / Float(max(state.epochSeen, 1)),
      testLoss: evaluation?.loss, testAccuracy: evaluation?.accuracy, learningRate: learningRate,
      seconds: seconds, samplesPerSecond: Double(state.epochSeen) / max(seconds, 1e-9))
    history.append(metrics)
    state.epoch += 1
    state.batchInEpoch = 0
    state.epochShuffleRNG = shuffleAfter
    state.epochLossSum = 0
    state.epochCorrect = 0
    state.epochSeen = 0
    return metrics
  }

  public func saveCheckpoint() throws(FormatError) {
    guard let checkpointPath else { return }
    try Checkpoint(spec: spec, configuration: configuration, state: state, model: model, optimizer: optimizer)
      .write(path: checkpointPath)
  }

  private func appendMetrics(_ metrics: EpochMetrics) throws {
    guard let metricsPath else { return }
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = .sortedKeys
    var line = try encoder.encode(metrics)
    line.append(0x0A)
    if !FileManager.default.fileExists(atPath: metricsPath) {
      guard FileManager.default.createFile(atPath: metricsPath, contents: nil) else {
        throw FormatError.io(file: metricsPath, reason: "cannot create the metrics file")
      }
    }
    guard let handle = FileHandle(forWritingAtPath: metricsPath) else {
      throw FormatError.io(file: metricsPath, reason: "cannot open the metrics file for writing")
    }
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: line)
  }
}
