import ArgumentParser
import Foundation
import Winnow

struct Factorize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Replace Linear and Conv2d layers of a checkpoint by low-rank factorizations (truncated SVD), optionally after Trained Rank Pruning, and fine-tune.",
    discussion: """
      Each chosen layer W (N×K; convolutions as N×(C·kH·kW)) becomes two thin layers of rank r: \
      --energy E keeps the smallest r with at least E of Σσ² (layers where r saves nothing stay dense); \
      --compression C takes r = ⌊N·K / (C·(N+K))⌋, C times fewer weights per layer. \
      --trp-epochs N first trains N epochs with Trained Rank Pruning (Xu et al.): every --trp-period \
      steps each weight is replaced by its truncation, and the nuclear-norm sub-gradient \
      (--nuclear-weight) is added to its gradient. --distill-from fine-tunes from a teacher.
      Example: winnow factorize lenet.ckpt --data fashion-mnist --energy 0.9 --finetune-epochs 1 --output lenet-lr.ckpt
      """)

  @Argument(help: "A checkpoint written by `winnow train`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Keep at least this fraction of each layer's Σσ², in (0, 1].") var energy: Double?
  @Option(help: "Per-layer parameter ratio (> 1): the rank keeps 1/C of the layer's weights.") var compression: Double?
  @Option(help: "Comma-separated layers to factorize (default: every Linear and Conv2d in a Sequential).") var layers: String?
  @Option(name: [.customLong("finetune-epochs"), .customLong("fine-tune-epochs")], help: "Epochs of fine-tuning after factorizing.")
  var finetuneEpochs: Int = 0
  @Option(help: "Epochs of Trained Rank Pruning before factorizing (0: factorize the checkpoint as it is).") var trpEpochs: Int = 0
  @Option(help: "Steps between TRP truncations.") var trpPeriod: Int = 20
  @Option(help: "λ of TRP's nuclear-norm regulariser.") var nuclearWeight: Float = 1e-3
  @Option(help: "Steps between recomputations of TRP's sub-gradient U·Vᵀ (1: every step, exact but one SVD per layer per step).")
  var subgradientInterval: Int = 10
  @Option(name: .customLong("lr"), help: "Learning rate of TRP and fine-tuning.") var learningRate: Float = 0.01
  @Option(help: "Seed for fine-tuning.") var seed: UInt64 = 0
  @Option(help: "Write the factorized model here as a checkpoint.") var output: String?
  @Option(help: "Write the per-layer report and accuracies here as JSON.") var report: String?
  @Option(help: "Write <name>.md, <name>.json and <name>.svg (retained energy by rank per layer) into this directory.")
  var out: String?
  @Option(help: "File name stem for --out.") var name: String = "factorize"
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?
  @OptionGroup var distillationOptions: DistillationOptions

  func run() throws {
    applyThreads(threads)
    let selection = try rankSelection()
    guard finetuneEpochs >= 0, trpEpochs >= 0 else { throw ValidationError("--finetune-epochs and --trp-epochs must not be negative") }
    try distillationOptions.validate(training: finetuneEpochs > 0 || trpEpochs > 0)
    let (saved, model, train, test) = try loadCheckpoint(checkpoint, for: dataOptions)
    let chosen = layers.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
    var summary = FactorizeSummary(checkpoint: checkpoint, parametersBefore: model.parameterCount)
    summary.denseAccuracy = evaluate(model, on: test).accuracy
    say(String(format: "dense:      accuracy %.2f%%  (%d parameters)", summary.denseAccuracy * 100, summary.parametersBefore))

    var configuration = saved.configuration
    configuration.learningRate = learningRate
    configuration.warmupSteps = 0
    configuration.seed = seed
    configuration.sparseTraining = nil
    if trpEpochs > 0 {
      configuration.epochs = trpEpochs
      let trp = try TrainedRankPruning(model: model, layers: chosen, selection: selection, period: trpPeriod, nuclearWeight: nuclearWeight,
                                      subgradientInterval: subgradientInterval)
      let trainer = try distillationOptions.trainer(for: model, spec: saved.spec, configuration: configuration)
      trp.install(on: trainer)
      say("trp:        \(trpEpochs) epoch(s), truncation every \(trpPeriod) steps, λ = \(nuclearWeight), \(trp.layers.count) layer(s)")
      try trainer.run(train: train, test: nil)
      summary.trpAccuracy = evaluate(model, on: test).accuracy
      say(String(format: "trp:        accuracy %.2f%% (weights dense, low rank in effect)", summary.trpAccuracy! * 100))
    }
    var files = FactorizeFiles()
    if out != nil { files.recordSpectra(of: model, layers: chosen ?? LowRankFactorization.eligibleLayers(of: model)) }
    summary.layers = try LowRankFactorization.factorize(model, selection: selection, layers: chosen)
    for entry in summary.layers { say(describe(entry)) }
    summary.parametersAfter = model.parameterCount
    summary.factorizedAccuracy = evaluate(model, on: test).accuracy
    say(String(format: "factorized: accuracy %.2f%%  (%d parameters, %.2f× fewer)", summary.factorizedAccuracy * 100,
               summary.parametersAfter, Double(summary.parametersBefore) / Double(summary.parametersAfter)))
    configuration.epochs = max(finetuneEpochs, 1)
    var state = TrainingState(seed: seed), optimizer = configuration.makeOptimizer()
    if finetuneEpochs > 0 {
      let trainer = try distillationOptions.trainer(for: model, spec: saved.spec, configuration: configuration)
      try trainer.run(train: train, test: nil)
      (state, optimizer) = (trainer.state, trainer.optimizer)
      summary.fineTunedAccuracy = evaluate(model, on: test).accuracy
      say(String(format: "fine-tuned %d epoch(s): accuracy %.2f%%", finetuneEpochs, summary.fineTunedAccuracy! * 100))
    }
    if let report { try summary.write(path: report) }
    if let out {
      try files.write(summary, directory: out, name: name)
      say("wrote \(out)/\(name).md, .json, .svg")
    }
    if let output {
      try Checkpoint(spec: saved.spec, configuration: configuration, state: state, model: model, optimizer: optimizer).write(path: output)
      say("wrote \(output)")
    }
  }

  func rankSelection() throws -> RankSelection {
    let selection: RankSelection
    switch (energy, compression) {
    case (let e?, nil): selection = .energy(e)
    case (nil, let c?): selection = .compression(c)
    default: throw ValidationError("give exactly one of --energy E (fraction of Σσ² to keep) or --compression C (parameter ratio)")
    }
    try selection.validate()
    return selection
  }

  func describe(_ e: FactorizationEntry) -> String {
    let shape = e.matrixShape.map(String.init).joined(separator: "×")
    let what = e.factorized ? "rank \(e.rank) of \(e.maximumRank)" : "kept dense (rank \(e.rank) of \(e.maximumRank) saves nothing)"
    func padded(_ s: String, _ width: Int) -> String { s.padding(toLength: max(width, s.count), withPad: " ", startingAt: 0) }
    return "  " + padded(e.layer, 12) + padded(e.kind, 8) + padded(shape, 10) + what
      + String(format: ", energy %.4f, parameters %d → %d", e.energy, e.parametersBefore, e.parametersAfter)
  }
}

/// What `winnow factorize` measured, written with `--report` as JSON.
struct FactorizeSummary: Codable {
  var checkpoint: String
  var parametersBefore: Int
  var parametersAfter = 0
  var denseAccuracy: Float = 0
  var trpAccuracy: Float?
  var factorizedAccuracy: Float = 0
  var fineTunedAccuracy: Float?
  var layers: [FactorizationEntry] = []

  init(checkpoint: String, parametersBefore: Int) {
    self.checkpoint = checkpoint
    self.parametersBefore = parametersBefore
  }

  func write(path: String) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
  }
}
