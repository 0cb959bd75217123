import ArgumentParser
import Foundation
import Winnow

struct Lottery: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Find a lottery ticket by iterative magnitude pruning with rewinding, and test it against random re-initialisation.",
    discussion: """
      Each round trains the masked network, prunes --fraction of the surviving weights (global \
      magnitude) and rewinds the survivors to their values at --rewind-step (0 = initialisation). \
      Finally the same mask is trained from a fresh random initialisation: a winning ticket beats it.
      Example: winnow lottery --model lenet5 --data fashion-mnist --epochs 2 --rounds 3 --fraction 0.5 --rewind-step 200
      """)

  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Network.") var model: String = "lenet5"
  @Option(help: "Training epochs per round.") var epochs: Int = 2
  @Option(help: "Pruning rounds; final sparsity is 1 − (1 − fraction)^rounds.") var rounds: Int = 3
  @Option(help: "Fraction of the surviving weights pruned each round.") var fraction: Double = 0.5
  @Option(help: "Rewind to the weights at this step (0 = initialisation).") var rewindStep: Int = 0
  @Option(name: .customLong("lr"), help: "Learning rate.") var learningRate: Float = 0.05
  @Option(help: "Examples per step.") var batchSize: Int = 64
  @Option(help: "Seed of the ticket's initialisation and training.") var seed: UInt64 = 0
  @Option(help: "Write the ticket (mask + rewound weights) here as a checkpoint.") var output: String?
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    let (train, test) = try dataOptions.load()
    guard let architecture = ModelSpec.Architecture(rawValue: model) else { throw ValidationError("unknown model '\(model)'") }
    let spec = ModelSpec(architecture, inputShape: train.imageShape, classes: train.classes)
    if let problem = spec.problem { throw ValidationError(problem) }
    var configuration = TrainingConfiguration()
    configuration.epochs = epochs
    configuration.learningRate = learningRate
    configuration.batchSize = batchSize
    configuration.seed = seed
    if let problem = configuration.problem { throw ValidationError(problem) }
    var search = try LotteryTicketSearch(spec: spec, configuration: configuration, rounds: rounds, fractionPerRound: fraction, rewindStep: rewindStep)
    search.progress = ProgressReporter(batchSize: batchSize, interval: 30)
    let (results, ticket, rewind) = try search.run(train: train, test: test)
    for r in results {
      say(String(format: "round %d: sparsity %.1f%%  test accuracy %.2f%%", r.round, r.sparsity * 100, r.testAccuracy * 100))
    }
    let control = try search.trainRandomReinitialisation(ticket: ticket, seed: seed &+ 1000, train: train, test: test)
    let ticketAccuracy = results.last!.testAccuracy
    say(String(format: "ticket %.2f%% vs same mask, random re-initialisation %.2f%% (%@)", ticketAccuracy * 100, control * 100,
               ticketAccuracy > control ? "the ticket wins" : "the ticket does not win"))
    if let output {
      let model = spec.build(seed: seed)
      try rewindParameters(of: model, to: rewind)
      try ticket.apply(to: model)
      try Checkpoint(spec: spec, configuration: configuration, state: TrainingState(seed: seed), model: model,
                     optimizer: configuration.makeOptimizer()).write(path: output)
      say("wrote the ticket to \(output)")
    }
  }
}
