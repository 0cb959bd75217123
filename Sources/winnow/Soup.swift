import ArgumentParser
import Foundation
import Winnow

struct Soup: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make a sparse model soup: retrain copies of a pruned checkpoint with different seeds and average them.",
    discussion: """
      Every ingredient keeps the checkpoint's masks, so the average has exactly the same \
      sparsity (Zimmer et al., "Sparse Model Soups"). Batch-norm statistics are recomputed on \
      part of the training data. Example: winnow soup lenet-90.ckpt --data fashion-mnist --ingredients 3 --epochs 1
      """)

  @Argument(help: "A pruned checkpoint (masks inside), e.g. from `winnow prune --output`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "How many retrained copies to average.") var ingredients: Int = 3
  @Option(help: "Retraining epochs per ingredient.") var epochs: Int = 1
  @Option(name: .customLong("lr"), help: "Retraining learning rate.") var learningRate: Float = 0.01
  @Option(help: "Seed of the first ingredient; the others use the following seeds.") var seed: UInt64 = 1
  @Option(help: "Write the soup here as a checkpoint.") var output: String?
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    guard ingredients >= 1 else { throw ValidationError("--ingredients must be at least 1") }
    let (saved, model, train, test) = try loadCheckpoint(checkpoint, for: dataOptions)
    let configurations = (0..<ingredients).map { i -> TrainingConfiguration in
      var c = saved.configuration
      c.epochs = epochs
      c.learningRate = learningRate
      c.warmupSteps = 0
      c.seed = seed &+ UInt64(i)
      c.sparseTraining = nil
      return c
    }
    let result = try SparseModelSoup.run(base: .init(spec: saved.spec, model: model), ingredients: configurations, train: train, test: test)
    for (i, a) in result.ingredientAccuracies.enumerated() { say(String(format: "ingredient %d (seed %d): %.2f%%", i + 1, Int(seed) + i, a * 100)) }
    say(String(format: "soup: %.2f%%  (best ingredient %.2f%%)", result.soupAccuracy * 100, (result.ingredientAccuracies.max() ?? 0) * 100))
    say(SparsityReport(model: result.model).description)
    if let output {
      try Checkpoint(spec: saved.spec, configuration: configurations[0], state: TrainingState(seed: seed), model: result.model,
                     optimizer: configurations[0].makeOptimizer()).write(path: output)
      say("wrote \(output)")
    }
  }
}
