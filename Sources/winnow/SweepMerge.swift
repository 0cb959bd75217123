import ArgumentParser
import Foundation
import Winnow

struct SweepMerge: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sweep-merge",
    abstract: "Merge the JSON files of several sweeps from the same dense checkpoint into one table, JSON and plot.",
    discussion: """
      Long sweeps run one sparsity or one group of methods per invocation so that finished parts \
      survive; this joins their NAME.json files into one NAME.md, NAME.json and NAME.svg with the \
      same baseline marks (↓) as `winnow sweep`. Every file must start from the same dense network \
      (equal 'dense' rows), and a method run twice at one sparsity must have the same result.
      Example: winnow sweep-merge results/resnet8-*.json --title "resnet8 on fashion-mnist" \
      --out results --name resnet8-all
      """)

  @Argument(help: "Sweep JSON files written by `winnow sweep`.") var files: [String]
  @Option(help: "Title of the merged table and plot.") var title: String = "merged sweep"
  @Option(help: "Directory for the report files.") var out: String = "sweep"
  @Option(help: "Base name of the report files.") var name: String = "sweep-merged"

  func run() throws {
    guard !files.isEmpty else { throw ValidationError("give at least one sweep JSON file") }
    let report = try SweepReport.merging(files: files, title: title)
    try report.write(to: out, name: name)
    say(report.markdown)
    say("merged \(files.count) file(s), \(report.results.count - 1) result(s) into \(out)/\(name).md, .json, .svg")
  }
}
