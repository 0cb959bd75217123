import ArgumentParser
import Winnow

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate a checkpoint on the test split of a data set.",
    discussion: "Example: winnow eval lenet.ckpt --data fashion-mnist")

  @Argument(help: "A checkpoint written by `winnow train --checkpoint`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    let saved = try Checkpoint.read(path: checkpoint)
    let (train, test) = try dataOptions.load()
    guard saved.spec.inputShape == test.imageShape, saved.spec.classes == test.classes else {
      throw ValidationError("\(checkpoint) was trained on \(saved.spec.inputShape) images with \(saved.spec.classes) classes; \(test.name) has \(test.imageShape) and \(test.classes)")
    }
    _ = train
    let model = try loadModel(from: saved, file: checkpoint)
    let result = evaluate(model, on: test)
    say(String(format: "%@ on %@: accuracy %.2f%%  loss %.4f  (%d examples)", checkpoint, test.name,
                 result.accuracy * 100, result.loss, result.examples))
  }
}
