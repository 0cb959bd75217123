import ArgumentParser
import Foundation
import Winnow

struct SAP: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sap",
    abstract: "Prune a trained checkpoint with SAP: rounds whose size the PQ Index of the survivors decides.",
    discussion: """
      Sparsity-informed adaptive pruning (Diao et al. 2023): every round prunes the smallest \
      surviving weights, as many as the PQ Index bound allows (a network whose magnitudes are \
      already spread out is pruned hard, a flat one gently), then the survivors are fine-tuned for \
      --finetune-epochs (or first rewound to the checkpoint's weights with --rewind). The loop \
      stops after --rounds or when a round can prune nothing. Prints one line per round.
      Example: winnow sap lenet.ckpt --data fashion-mnist --rounds 4 --finetune-epochs 1 --output lenet-sap.ckpt
      """)

  @Argument(help: "A trained checkpoint.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "At most this many pruning rounds.") var rounds: Int = 3
  @Option(help: "Epochs of fine-tuning after every round (0: prune only).") var finetuneEpochs: Int = 1
  @Option(name: .customLong("lr"), help: "Fine-tuning learning rate.") var learningRate: Float = 0.01
  @Option(help: "PQ Index norms p < q.") var p: Double = 0.5
  @Option(help: "PQ Index norms p < q.") var q: Double = 1
  @Option(help: "η_r ≥ 0: tolerance of the retained-weights bound (larger prunes more).") var etaR: Double = 0
  @Option(help: "γ > 0: scales the fraction pruned per round.") var gamma: Double = 1
  @Option(help: "β in (0, 1): the largest fraction of the survivors pruned in one round.") var beta: Double = 0.9
  @Option(help: "global (one PQ Index over all layers) or layerwise.") var scope: String = "global"
  @Flag(help: "Rewind the survivors to the checkpoint's weights after every round (lottery-ticket style).") var rewind = false
  @Option(help: "Seed of the fine-tuning.") var seed: UInt64 = 0
  @Option(help: "Write the pruned model here as a checkpoint.") var output: String?
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    guard finetuneEpochs >= 0 else { throw ValidationError("--finetune-epochs must not be negative") }
    guard let chosenScope = SparsityInformedAdaptivePruning.Scope(rawValue: scope) else {
      throw ValidationError("unknown --scope '\(scope)'; use global or layerwise")
    }
    let sap = try SparsityInformedAdaptivePruning(p: p, q: q, etaR: etaR, gamma: gamma, beta: beta, scope: chosenScope)
    let (saved, model, train, test) = try loadCheckpoint(checkpoint, for: dataOptions)
    say(String(format: "dense: accuracy %.2f%%  (%d parameters)", evaluate(model, on: test).accuracy * 100, model.parameterCount))
    var configuration = saved.configuration
    configuration.epochs = max(finetuneEpochs, 1)
    configuration.learningRate = learningRate
    configuration.warmupSteps = 0
    configuration.seed = seed
    configuration.sparseTraining = nil
    if let problem = configuration.problem { throw ValidationError(problem) }
    let names = prunableParameters(of: model).map(\.name)
    let prunable = names.count
    let initial = rewind ? parameterValues(of: model) : nil
    // Round t prunes what the previous fine-tuning left; the checkpoint itself is round 0's network.
    let history = try sap.run(model, names: names, rounds: rounds, rewindTo: initial) { model, round in
      guard round > 0, finetuneEpochs > 0 else { return }
      try Trainer(spec: saved.spec, configuration: configuration, model: model).run(train: train, test: nil)
    }
    for (t, r) in history.enumerated() {
      say(String(format: "round %d: PQ Index %.4f  survivors %d → %d (pruned %d of %d requested)%@", t + 1, r.globalPQIndex,
                 r.remainingBefore, r.remainingAfter, r.pruned, r.requested, r.stopped ? "  — stopped" : ""))
    }
    if finetuneEpochs > 0 {
      try Trainer(spec: saved.spec, configuration: configuration, model: model).run(train: train, test: nil)
    }
    let report = SparsityReport(model: model)
    say(String(format: "SAP: %d round(s) over %d layers, accuracy %.2f%%", history.count, prunable, evaluate(model, on: test).accuracy * 100))
    say(report.description)
    if let output {
      try Checkpoint(spec: saved.spec, configuration: configuration, state: TrainingState(seed: seed), model: model,
                     optimizer: configuration.makeOptimizer()).write(path: output)
      say("wrote \(output)")
    }
  }
}
