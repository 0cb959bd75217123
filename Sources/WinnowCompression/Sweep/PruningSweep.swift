import Foundation
import WinnowCore
import WinnowNN

/// Methods × sparsities on one model and data set, every method given the same budget and
/// shown next to its naive baselines (random pruning with the same layer sparsities, random
/// ERK, a small dense network trained from scratch).
///
/// Budget: the dense network trains for `dense.epochs`; every pruning method starts from it
/// and fine-tunes for `finetuneEpochs`; from-scratch baselines train for the sum.
public struct PruningSweep {
  public struct Result: Codable, Sendable, Hashable {
    public var method: String
    /// The sparsity asked for (fraction of prunable weights removed).
    public var targetSparsity: Double
    /// Non-zero parameters (all parameters, biases and norms included) and the total.
    public var nonZero: Int
    public var parameters: Int
    public var accuracy: Float
    /// Accuracy right after pruning, before fine-tuning (one-shot methods).
    public var accuracyBeforeFineTuning: Float?
    public var seconds: Double
    public var note: String?

    public init(method: String, targetSparsity: Double, nonZero: Int, parameters: Int, accuracy: Float,
                accuracyBeforeFineTuning: Float?, seconds: Double, note: String?) {
      (self.method, self.targetSparsity, self.nonZero, self.parameters) = (method, targetSparsity, nonZero, parameters)
      (self.accuracy, self.accuracyBeforeFineTuning, self.seconds, self.note) = (accuracy, accuracyBeforeFineTuning, seconds, note)
    }
  }

  public var spec: ModelSpec
  public var dense: TrainingConfiguration
  public var finetuneEpochs: Int
  public var finetuneLearningRate: Float
  public var methods: [SweepMethod]
  public var sparsities: [Double]
  /// Called with a one-line status before each run.
  public var progress: ((String) -> Void)?
  /// Forwarded to every training run.
  public var trainingProgress: ProgressReporter?

  public init(spec: ModelSpec, dense: TrainingConfiguration, finetuneEpochs: Int, finetuneLearningRate: Float,
              methods: [SweepMethod], sparsities: [Double]) throws(PruningError) {
    for s in sparsities where !(s > 0 && s < 1) { throw .impossibleSparsity(layer: "(sweep)", sparsity: s) }
    guard finetuneEpochs >= 1 else { throw .malformedPlan(reason: "a sweep needs at least one fine-tuning epoch") }
    guard !methods.isEmpty, !sparsities.isEmpty else { throw .malformedPlan(reason: "a sweep needs methods and sparsities") }
    self.spec = spec
    self.dense = dense
    self.finetuneEpochs = finetuneEpochs
    self.finetuneLearningRate = finetuneLearningRate
    self.methods = methods
    self.sparsities = sparsities
  }

  /// Trains the dense network (unless given), then runs every method at every sparsity.
  public func run(train: Dataset, test: Dataset, denseModel: Layer? = nil) throws -> [Result] {
    let start = Date()
    let base: Layer
    if let denseModel { base = denseModel } else {
      progress?("dense: training \(dense.epochs) epochs")
      let trainer = Trainer(spec: spec, configuration: dense)
      trainer.progress = trainingProgress
      try trainer.run(train: train, test: nil)
      base = trainer.model
    }
    var results = [record("dense", 0, base, test, before: nil, since: start, note: nil)]
    let total = methods.count * sparsities.count
    var done = 0
    for s in sparsities {
      for method in methods {
        done += 1
        progress?("[\(done)/\(total)] \(method.rawValue) at \(percent(s)) sparsity")
        let t0 = Date()
        if let r = try run(method, sparsity: s, base: base, train: train, test: test, since: t0) { results.append(r) }
      }
    }
    return results
  }

  private func run(_ method: SweepMethod, sparsity s: Double, base: Layer, train: Dataset, test: Dataset, since t0: Date) throws -> Result? {
    let names = prunableParameters(of: base).map(\.name)
    let model = try clone(base)
    switch method {
    case .magnitude, .globalMagnitude:
      try Pruning.magnitude(model, sparsity: s, global: method == .globalMagnitude, names: names)
    case .gradual:
      let trainer = finetuner(model)
      let steps = stepsPerEpoch(train) * finetuneEpochs
      let frequency = max(1, steps / 20)
      GradualPruner(schedule: try GradualSchedule(finalSparsity: s, pruningSteps: max(1, steps * 3 / 4 / frequency), frequency: frequency),
                    names: names, global: true).install(on: trainer)
      try trainer.run(train: train, test: nil)
      return record(method.rawValue, s, model, test, before: nil, since: t0, note: nil)
    case .nm:
      guard let (n, m) = SweepMethod.pattern(for: s) else { return nil }
      let fitting = names.filter { name in
        let shape = model.parameterShapes.first { $0.name == name }!.shape
        return shape.dropFirst().reduce(1, *) % m == 0
      }
      try Pruning.apply(.nm(n: n, m: m, names: fitting), to: model)
      let skipped = names.count - fitting.count
      let before = evaluate(model, on: test).accuracy
      try finetuner(model).run(train: train, test: nil)
      return record("\(n):\(m)", s, model, test, before: before, since: t0,
                    note: skipped > 0 ? "\(skipped) layer(s) whose rows are not a multiple of \(m) left dense" : nil)
    case .lamp:
      try Pruning.lamp(model, sparsity: s, names: names)
    case .rateDistortion:
      let calibration = train.subset(Array(0..<min(256, train.count))).images
      let plan = try RateDistortionAllocation().plan(for: model, sparsity: s, calibration: calibration, names: names)
      try Pruning.apply(plan, to: model)
    case .snip, .grasp, .synflow:
      let fresh = spec.build(seed: dense.seed)
      let saliency: SaliencyMethod = method == .snip ? .snip : method == .grasp ? .grasp : .synflow
      try Pruning.atInitialisation(fresh, method: saliency, sparsity: s, data: Array(train.batches(size: dense.batchSize).prefix(4)), names: names)
      let epochs = try trainFromScratch(fresh, train)
      return record(method.rawValue, s, fresh, test, before: nil, since: t0, note: "pruned at initialisation, trained from scratch for \(epochs) epochs")
    case .randomERKInit:
      let fresh = spec.build(seed: dense.seed)
      try Pruning.random(fresh, sparsity: s, allocation: .erdosRenyiKernel, seed: dense.seed &+ 404)
      let epochs = try trainFromScratch(fresh, train)
      return record(method.rawValue, s, fresh, test, before: nil, since: t0, note: "pruned at initialisation, trained from scratch for \(epochs) epochs")
    case .randomSameLayers:
      let reference = try clone(base)
      let masks = try Pruning.magnitude(reference, sparsity: s, global: true, names: names)
      try MaskSelection.sameCounts(as: masks, scores: ImportanceScores.random(of: model, names: names, seed: dense.seed &+ 101))
        .apply(to: model)
    case .randomERK:
      try Pruning.random(model, sparsity: s, allocation: .erdosRenyiKernel, seed: dense.seed &+ 202)
    case .channels:
      let (graph, removed) = try channelRemoval(model, sparsity: s, names: names)
      StructuredPruning.apply(graph, removing: removed, to: model)
    case .smallDense:
      let fresh = spec.build(seed: dense.seed &+ 303)
      let (graph, removed) = try channelRemoval(fresh, sparsity: s, names: names)
      StructuredPruning.apply(graph, removing: removed, to: fresh)
      let epochs = try trainFromScratch(fresh, train)
      return record(method.rawValue, s, fresh, test, before: nil, since: t0, note: "trained from scratch for \(epochs) epochs")
    case .channelsScratch, .srste, .set, .rigl, .lottery, .lotteryReinit, .soup:
      return try runTrainingMethod(method, sparsity: s, base: base, names: names, train: train, test: test, since: t0)
    }
    let before = evaluate(model, on: test).accuracy
    try finetuner(model).run(train: train, test: nil)
    return record(method.rawValue, s, model, test, before: before, since: t0, note: nil)
  }

  /// The channel removal whose pruned network keeps about as many parameters as unstructured
  /// pruning at sparsity `s` keeps non-zeros (bisection on the per-layer channel ratio).
  func channelRemoval(_ model: Layer, sparsity s: Double, names: [String]) throws -> (DependencyGraph, Set<Int>) {
    let graph = DependencyGraph(tracing: model, inputShape: spec.inputShape)
    let prunable = names.reduce(0) { n, name in n + graph.parameterShapes[name]!.reduce(1, *) }
    let target = model.parameterCount - pruneCount(sparsity: s, count: prunable)
    let scores = StructuredPruning.scores(graph, model: model, importance: .l2)
    var (lo, hi) = (0.0, 0.999)
    for _ in 0..<30 {
      let mid = (lo + hi) / 2
      let count = StructuredPruning.predictedParameterCount(graph, removing: try StructuredPruning.select(graph, scores: scores, ratio: mid))
      if count > target { lo = mid } else { hi = mid }
    }
    return (graph, try StructuredPruning.select(graph, scores: scores, ratio: hi))
  }

  /// Trains a freshly initialised (pruned) network for the whole budget; returns the epochs.
  func trainFromScratch(_ model: Layer, _ train: Dataset) throws -> Int {
    let trainer = scratchTrainer(model)
    try trainer.run(train: train, test: nil)
    return trainer.configuration.epochs
  }

  func finetuner(_ model: Layer) -> Trainer {
    var configuration = dense
    configuration.epochs = finetuneEpochs
    configuration.learningRate = finetuneLearningRate
    configuration.warmupSteps = 0
    let trainer = Trainer(spec: spec, configuration: configuration, model: model)
    trainer.progress = trainingProgress
    return trainer
  }

  func stepsPerEpoch(_ data: Dataset) -> Int { (data.count + dense.batchSize - 1) / dense.batchSize }

  func clone(_ model: Layer) throws -> Layer {
    let copy = spec.build(seed: 0)
    var state = stateDictionary(of: model)
    model.visitBuffers { name, t in state[name] = t }
    try loadStateDictionary(state, into: copy, file: "(sweep copy)")
    return copy
  }

  func record(_ method: String, _ s: Double, _ model: Layer, _ test: Dataset, before: Float?, since t0: Date, note: String?) -> Result {
    let report = SparsityReport(model: model)
    return Result(method: method, targetSparsity: s, nonZero: report.totalNonZero, parameters: model.parameterCount,
                  accuracy: evaluate(model, on: test).accuracy, accuracyBeforeFineTuning: before,
                  seconds: Date().timeIntervalSince(t0), note: note)
  }
}
