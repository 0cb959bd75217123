import ArgumentParser
import Winnow

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate a checkpoint on the test split of a data set.",
    discussion: "Example: winnow eval lenet.ckpt --data fashion-mnist")

  @Argument(help: "A checkpoint written by `winnow train --checkpoint`, or a .winnow program from `winnow compile`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    if checkpoint.hasSuffix(".winnow") {
      let program = try InferenceProgram.read(path: checkpoint)
      let (_, test) = try dataOptions.load()
      guard program.inputShape == test.imageShape else {
        throw ValidationError("\(checkpoint) expects \(program.inputShape) inputs; \(test.name) has \(test.imageShape)")
      }
      let result = try program.evaluate(on: test)
      say(String(format: "%@ (compiled) on %@: accuracy %.2f%%  loss %.4f  (%d examples)", checkpoint, test.name,
                 result.accuracy * 100, result.loss, result.examples))
      return
    }
    let (_, model, _, test) = try loadCheckpoint(checkpoint, for: dataOptions)
    let result = evaluate(model, on: test)
    say(String(format: "%@ on %@: accuracy %.2f%%  loss %.4f  (%d examples)", checkpoint, test.name,
                 result.accuracy * 100, result.loss, result.examples))
  }
}
