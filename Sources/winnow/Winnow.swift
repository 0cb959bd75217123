import ArgumentParser
import Foundation
import Winnow

@main
struct WinnowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "winnow",
    abstract: "Find, train, compress and run sparse sub-networks of neural networks on a CPU.",
    discussion: """
      Start with `winnow demo`: it trains a small CNN on the digits data built into Winnow \
      and prints its test accuracy. `winnow train --help` shows every training option.
      """,
    // One command per line, so concurrent additions merge cleanly.
    subcommands: [
      Demo.self,
      Train.self,
      Eval.self,
      Info.self,
      Prune.self,
      Sweep.self,
      SweepMerge.self,
      Lottery.self,
      Soup.self,
      SAP.self,
      Embed.self,
      EmbedStudy.self,
      Quantize.self,
      Sensitivity.self,
      Factorize.self,
      Import.self,
      Export.self,
      ONNXConformanceCommand.self,
      Compile.self,
      Bench.self,
    ],
    defaultSubcommand: nil)
}

/// Prints a result line and flushes at once, so results and the progress lines on stderr
/// appear in order even when stdout is a pipe.
func say(_ line: String) {
  print(line)
  fflush(nil)
}
