import ArgumentParser
import Foundation
import Winnow

struct EmbedStudy: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "embed-study",
    abstract: "One-shot pruning of a sentence embedder (magnitude, 2:4, Wanda, heads): cosine to the dense model.",
    discussion: """
      Evaluation and calibration sentences are generated from Winnow's built-in templates \
      (different seeds), so the study needs no data set. Prints a Markdown table.
      """)

  @Option(name: .long, help: "The model directory (as for `winnow embed`).") var modelDir: String
  @Option(name: .long, help: "Evaluation sentences.") var sentences = 256
  @Option(name: .long, help: "Calibration sentences for Wanda and head scores.") var calibration = 64
  @Option(name: .long, help: "Threads (default: all cores).") var threads: Int?

  func validate() throws {
    guard sentences >= 1, calibration >= 1 else { throw ValidationError("--sentences and --calibration must be at least 1") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    applyThreads(threads)
    let embedder = try SentenceEmbedder.load(directory: modelDir)
    let evaluation = EvaluationSentences.generate(count: sentences, seed: 1)
    let calibrationText = EvaluationSentences.generate(count: calibration, seed: 2)
    say("\(sentences) evaluation sentences (seed 1), \(calibration) calibration sentences (seed 2)\n")
    let rows = try EmbeddingFidelityStudy.run(embedder, evaluation: evaluation, calibration: calibrationText) { row in
      FileHandle.standardError.write(Data("  \(row.name): mean cosine \(row.meanCosine)\n".utf8))
    }
    say(EmbeddingFidelityStudy.markdown(rows))
  }
}
