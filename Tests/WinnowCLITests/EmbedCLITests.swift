import Foundation
import Testing

/// `winnow embed`: errors for bad model directories always; real vectors when the MiniLM
/// asset is present (`$WINNOW_ASSETS/minilm` or `~/.cache/winnow-assets/minilm`).
@Suite struct EmbedCLITests {
  /// The shared runner of the CLI tests (CLITests.swift).
  func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try winnow(arguments) }

  @Test func missingModelDirectoryIsReported() throws {
    let r = try run(["embed", "--model-dir", "/nonexistent/minilm", "hello"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("/nonexistent/minilm: model directory does not exist"), "\(r.stderr)")
  }

  @Test func embedsSentencesWithMiniLM() throws {
    var roots = [FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/winnow-assets"]
    if let root = ProcessInfo.processInfo.environment["WINNOW_ASSETS"], !root.isEmpty { roots.insert(root, at: 0) }
    guard let directory = roots.map({ $0 + "/minilm" })
      .first(where: { FileManager.default.fileExists(atPath: $0 + "/model.safetensors") })
    else { return }  // asset absent: skip
    let r = try run(["embed", "--model-dir", directory, "--threads", "1", "A man is eating food.", "Héllo wörld"])
    #expect(r.status == 0, "\(r.stderr)")
    let rows = r.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
    #expect(rows.count == 2 && rows.allSatisfy { $0.count == 384 })
    for row in rows { #expect(abs(row.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4, "unit length") }
  }
}
