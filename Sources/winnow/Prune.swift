import ArgumentParser
import Foundation
import Winnow

struct Prune: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Prune a trained checkpoint, optionally fine-tune it, and report accuracy and sparsity.",
    discussion: """
      Methods: magnitude (layer-wise, or --global), lamp (layer-adaptive magnitude), \
      rate-distortion (per-layer sparsity by dynamic programming on measured output distortion), random (uniform or --allocation erk), nm \
      (--pattern 2:4, one-shot by magnitude), gradual (cubic schedule of Zhu & Gupta over the \
      fine-tuning; needs --finetune-epochs), channels (structured: removes --ratio of the \
      channels/neurons/heads of every prunable layer, found through the dependency graph; \
      the result is a smaller dense model). --plan applies a saved per-layer plan instead.
      Example: winnow prune lenet.ckpt --data fashion-mnist --method magnitude --global \
      --sparsity 0.9 --finetune-epochs 2 --output lenet-90.ckpt
      """)

  @Argument(help: "A checkpoint written by `winnow train`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "magnitude, lamp, rate-distortion, random, nm, gradual or channels.") var method: String = "magnitude"
  @Option(help: "Fraction of the channels of every prunable layer to remove, for --method channels.") var ratio: Double = 0.5
  @Option(help: "Fraction of the prunable weights to remove, in [0, 1).") var sparsity: Double = 0.9
  @Flag(help: "Rank all layers together (magnitude, gradual).") var global = false
  @Option(help: "Per-layer sparsities for random pruning: uniform or erk.") var allocation: String = "uniform"
  @Option(help: "N:M pattern for --method nm, e.g. 2:4.") var pattern: String = "2:4"
  @Option(help: "Apply this JSON pruning plan (per-layer sparsity or N:M) by magnitude.") var plan: String?
  @Option(help: "Write the realised per-layer plan as JSON.") var savePlan: String?
  @Option(help: "Epochs of fine-tuning after pruning (masks stay fixed, or grow for gradual).") var finetuneEpochs: Int = 0
  @Option(name: .customLong("lr"), help: "Fine-tuning learning rate.") var learningRate: Float = 0.01
  @Option(help: "Seed for random pruning and fine-tuning.") var seed: UInt64 = 0
  @Option(help: "Write the pruned (and fine-tuned) model here as a checkpoint.") var output: String?
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?
  @OptionGroup var distillationOptions: DistillationOptions

  func run() throws {
    applyThreads(threads)
    try distillationOptions.validate(training: finetuneEpochs > 0)
    let (saved, loaded, train, test) = try loadCheckpoint(checkpoint, for: dataOptions)
    var model = loaded
    say(String(format: "dense:   accuracy %.2f%%  (%d parameters)", evaluate(model, on: test).accuracy * 100, model.parameterCount))

    var configuration = saved.configuration
    configuration.epochs = max(finetuneEpochs, 1)
    configuration.learningRate = learningRate
    configuration.warmupSteps = 0
    configuration.seed = seed
    if let problem = configuration.problem { throw ValidationError(problem) }
    if method == "channels" {
      model = try pruneChannels(model, spec: saved.spec, test: test)
    }
    let trainer = try distillationOptions.trainer(for: model, spec: saved.spec, configuration: configuration)
    let names = prunableParameters(of: model).map(\.name)

    if method == "gradual" {
      guard finetuneEpochs > 0 else { throw ValidationError("--method gradual prunes during fine-tuning: give --finetune-epochs") }
      let steps = (train.count + configuration.batchSize - 1) / configuration.batchSize * finetuneEpochs
      let frequency = max(1, steps / 20)
      let schedule = try GradualSchedule(finalSparsity: sparsity, startStep: 0, pruningSteps: max(1, (steps * 3 / 4) / frequency), frequency: frequency)
      GradualPruner(schedule: schedule, names: names, global: global).install(on: trainer)
      say("gradual: to \(sparsity) over \(schedule.endStep) of \(steps) fine-tuning steps, every \(frequency) steps")
    } else if method != "channels" {
      try pruneOnce(model, names: names, train: train)
      say(String(format: "pruned:  accuracy %.2f%%  (%@)", evaluate(model, on: test).accuracy * 100, describe()))
    }
    if finetuneEpochs > 0 {
      try trainer.run(train: train, test: nil)
      say(String(format: "fine-tuned %d epoch(s): accuracy %.2f%%", finetuneEpochs, evaluate(model, on: test).accuracy * 100))
    }
    let report = SparsityReport(model: model)
    say(report.description)
    if let savePlan {
      try PruningPlan(realizing: MaskSet(of: model)).jsonData().write(to: URL(fileURLWithPath: savePlan))
    }
    if let output {
      try Checkpoint(spec: saved.spec, configuration: configuration, state: trainer.state, model: model, optimizer: trainer.optimizer)
        .write(path: output)
      say("wrote \(output)")
    }
  }

  /// Removes `ratio` of every family's channel groups (lowest L2 group norm) and reports the
  /// parameter count and the measured forward time before and after.
  func pruneChannels(_ model: Layer, spec: ModelSpec, test: Dataset) throws -> Layer {
    let graph = DependencyGraph(tracing: model, inputShape: spec.inputShape)
    let scores = StructuredPruning.scores(graph, model: model, importance: .l2)
    let removed = try StructuredPruning.select(graph, scores: scores, ratio: ratio)
    let batch = test.subset(Array(0..<min(128, test.count))).images
    let before = (count: model.parameterCount, time: medianForwardTime(model, input: batch))
    StructuredPruning.apply(graph, removing: removed, to: model)
    let after = (count: model.parameterCount, time: medianForwardTime(model, input: batch))
    say(String(format: "channels: removed %d of %d groups; parameters %d → %d (%.1f%%); forward of %d images %.2f ms → %.2f ms (%.2f×)",
               removed.count, graph.groups.count, before.count, after.count, 100 * Double(after.count) / Double(before.count),
               batch.shape[0], before.time * 1e3, after.time * 1e3, before.time / after.time))
    say(String(format: "pruned:  accuracy %.2f%%", evaluate(model, on: test).accuracy * 100))
    return model
  }

  func describe() -> String {
    if plan != nil { return "plan \(plan!)" }
    switch method {
    case "nm": return "\(pattern) by magnitude"
    case "random": return "random, \(allocation), sparsity \(sparsity)"
    case "magnitude": return "magnitude, \(global ? "global" : "layer-wise"), sparsity \(sparsity)"
    default: return "\(method), sparsity \(sparsity)"
    }
  }

  func pruneOnce(_ model: Layer, names: [String], train: Dataset) throws {
    if let plan {
      try Pruning.apply(try PruningPlan.read(path: plan), to: model)
      return
    }
    switch method {
    case "magnitude":
      try Pruning.magnitude(model, sparsity: sparsity, global: global, names: names)
    case "lamp":
      try Pruning.lamp(model, sparsity: sparsity, names: names)
    case "rate-distortion":
      let images = train.subset(Array(0..<min(256, train.count))).images
      try Pruning.apply(try RateDistortionAllocation().plan(for: model, sparsity: sparsity, calibration: images, names: names), to: model)
    case "random":
      guard let a = LayerAllocation(rawValue: allocation == "erk" ? "erdosRenyiKernel" : allocation) else {
        throw ValidationError("unknown allocation '\(allocation)'; use uniform or erk")
      }
      try Pruning.random(model, sparsity: sparsity, allocation: a, seed: seed)
    case "nm":
      let parts = pattern.split(separator: ":").compactMap { Int($0) }
      guard parts.count == 2 else { throw ValidationError("--pattern must look like 2:4, got '\(pattern)'") }
      try Pruning.apply(.nm(n: parts[0], m: parts[1], names: names), to: model)
    default:
      throw ValidationError("unknown method '\(method)'; use magnitude, lamp, rate-distortion, random, nm, gradual or channels")
    }
  }
}
