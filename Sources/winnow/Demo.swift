import ArgumentParser
import Foundation
import Winnow

struct Demo: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "The main job: train a small CNN on the built-in digits data and report its test accuracy.")

  @Option(help: "Passes over the training data.") var epochs: Int = 15
  @Option(help: "Seed for initialisation and shuffling.") var seed: UInt64 = 0

  func run() throws {
    applyThreads(nil)
    let (rawTrain, rawTest) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
    let stats = rawTrain.pixelStatistics
    let train = rawTrain.normalized(mean: stats.mean, standardDeviation: stats.standardDeviation)
    let test = rawTest.normalized(mean: stats.mean, standardDeviation: stats.standardDeviation)
    var configuration = TrainingConfiguration()
    configuration.epochs = epochs
    configuration.batchSize = 32
    configuration.learningRate = 0.05
    configuration.seed = seed
    if let problem = configuration.problem { throw ValidationError(problem) }
    let trainer = Trainer(spec: ModelSpec(.smallcnn, inputShape: train.imageShape, classes: 10), configuration: configuration)
    trainer.progress = ProgressReporter(batchSize: configuration.batchSize, interval: 5)
    say("Winnow demo: small CNN (\(trainer.model.parameterCount) parameters) on the UCI digits, \(train.count) train / \(test.count) test images")
    let started = Date()
    try trainer.run(train: train, test: test)
    let result = evaluate(trainer.model, on: test)
    say(String(format: "test accuracy %.2f%% (%d of %d) after %d epochs in %.1f s",
                 result.accuracy * 100, Int((result.accuracy * Float(result.examples)).rounded()), result.examples,
                 epochs, Date().timeIntervalSince(started)))
  }
}
