import Foundation
import Testing
import WinnowCore
import WinnowNN

/// `winnow quantize` and `winnow sensitivity` as a user runs them: results, files, and
/// clear failures on bad input.
@Suite(.serialized) struct QuantizeCLITests {
  /// The shared runner of the CLI tests (CLITests.swift).
  func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try winnow(arguments) }

  private func path(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-quantize-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }

  private func trainedCheckpoint() throws -> String {
    let checkpoint = path("mlp.ckpt")
    if !FileManager.default.fileExists(atPath: checkpoint) {
      let r = try run(["train", "--model", "mlp", "--epochs", "1", "--checkpoint", checkpoint, "--limit", "400"])
      #expect(r.status == 0, "\(r.stderr)")
    }
    return checkpoint
  }

  @Test func int8PTQWritesCodesPlanAndALoadableCheckpoint() throws {
    let (out, codes, plan) = (path("q.ckpt"), path("q.safetensors"), path("q.json"))
    let r = try run(["quantize", try trainedCheckpoint(), "--scheme", "int8-sym-channel", "--activations", "int8-asym-tensor",
                     "--calibration-batches", "1", "--calibration", "entropy", "--output", out, "--codes", codes, "--save-plan", plan])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("float32: accuracy") && r.stdout.contains("ptq:     accuracy") && r.stdout.contains("size:"))
    #expect(try run(["eval", out]).status == 0)
    let file = try SafetensorsFile.read(path: codes)
    #expect(file.tensors["fc1.weight.codes"]?.shape == [128, 64] && file.tensors["fc1.weight.scales"]?.shape == [128])
    #expect(try run(["quantize", try trainedCheckpoint(), "--plan", plan, "--qat-epochs", "1", "--estimator", "lsq"]).status == 0)
  }

  @Test func outWritesMarkdownJSONAndPlot() throws {
    let dir = path("report")
    let r = try run(["quantize", try trainedCheckpoint(), "--scheme", "int4-g32", "--calibration-batches", "1",
                     "--out", dir, "--name", "q4"])
    #expect(r.status == 0, "\(r.stderr)")
    let markdown = try String(contentsOfFile: dir + "/q4.md", encoding: .utf8)
    #expect(markdown.contains("| post-training quantization |") && markdown.contains("| fc1.weight | int4"))
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/q4.json"))) as? [String: Any]
    let float32Bytes = json?["float32_bytes"] as? Double ?? 0, bytes = json?["bytes"] as? Double ?? 0
    #expect(float32Bytes > 4 * bytes, "int4 weights should make the model more than 4× smaller: \(float32Bytes) → \(bytes)")
    #expect(try String(contentsOfFile: dir + "/q4.svg", encoding: .utf8).contains("<svg"))
  }

  @Test(arguments: [["--scheme", "int9-sym-channel"], ["--scheme", "int4-g48"], ["--scheme", "float16"],
                    ["--activations", "int8-sym-channel"], ["--calibration", "median"], ["--estimator", "adam"],
                    ["--plan", "/nonexistent/plan.json"], ["--calibration-batches", "0"], ["--scheme", "fp8-e4m3", "--qat-epochs", "1", "--estimator", "lsq"]])
  func badRequestsFailWithAMessage(arguments: [String]) throws {
    let r = try run(["quantize", try trainedCheckpoint()] + arguments)
    #expect(r.status != 0, "\(arguments) succeeded")
    #expect(!r.stderr.isEmpty)
  }

  @Test func planNamingAnUnknownLayerIsRejectedByName() throws {
    let plan = path("bad-plan.json")
    try "{\"layers\": {\"fc9\": \"int8-sym-channel\"}}".write(toFile: plan, atomically: true, encoding: .utf8)
    let r = try run(["quantize", try trainedCheckpoint(), "--plan", plan])
    #expect(r.status != 0 && r.stderr.contains("fc9"))
  }

  @Test func sensitivityWritesReportAndMixedPlan() throws {
    let (dir, plan) = (path("sens"), path("mixed.json"))
    let r = try run(["sensitivity", try trainedCheckpoint(), "--schemes", "int8-sym-channel,int2-sym-channel", "--sparsities", "0.9",
                     "--test-limit", "100", "--out", dir, "--name", "s", "--budget-bits", "5", "--save-plan", plan,
                     "--assignment", "greedy"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("mixed precision (greedy)") && r.stdout.contains("mixed precision (dp)"))
    #expect(FileManager.default.fileExists(atPath: dir + "/s-bits.svg") && FileManager.default.fileExists(atPath: plan))
    #expect(FileManager.default.fileExists(atPath: dir + "/s-rank.svg") && r.stdout.contains("| rank-25% |"))
    let bad = try run(["sensitivity", try trainedCheckpoint(), "--sparsities", "1.5"])
    #expect(bad.status != 0 && !bad.stderr.isEmpty)
    let badRank = try run(["sensitivity", try trainedCheckpoint(), "--ranks", "0"])
    #expect(badRank.status != 0 && badRank.stderr.contains("rank"))
    let badMethod = try run(["sensitivity", try trainedCheckpoint(), "--assignment", "best"])
    #expect(badMethod.status != 0 && badMethod.stderr.contains("--assignment"))
    let tooSmall = try run(["sensitivity", try trainedCheckpoint(), "--schemes", "int8-sym-channel", "--sparsities", "", "--test-limit", "50", "--out", dir, "--budget-bits", "1"])
    #expect(tooSmall.status != 0 && tooSmall.stderr.contains("budget"))
  }
}
