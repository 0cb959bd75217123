import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN

@Suite struct SweepTests {
  @Test func everyMethodReportsAtEverySparsity() throws {
    let (train, test) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
    var dense = TrainingConfiguration()
    dense.epochs = 1
    dense.batchSize = 64
    let sweep = try PruningSweep(spec: ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10), dense: dense, finetuneEpochs: 1,
                                 finetuneLearningRate: 0.01, methods: SweepMethod.allCases, sparsities: [0.5, 0.8])
    let results = try sweep.run(train: train.subset(Array(0..<256)), test: test.subset(Array(0..<64)))
    let dense0 = results[0]
    #expect(dense0.method == "dense" && dense0.nonZero == dense0.parameters)
    // 2:4 (one-shot and SR-STE) exists only at 50%; everything else at both sparsities.
    #expect(results.count == 1 + SweepMethod.allCases.count * 2 - 2)
    for r in results where r.method != "dense" {
      #expect(r.nonZero < dense0.parameters, "\(r.method) at \(r.targetSparsity)")
    }
    // Unstructured methods keep the same number of weights at the same sparsity, up to the
    // rounding of one count per layer (3 prunable layers).
    for s in [0.5, 0.8] {
      let counts = results.filter { ["magnitude", "global-magnitude", "gradual", "random-same-layers", "random-erk"].contains($0.method) && $0.targetSparsity == s }.map(\.nonZero)
      #expect(counts.count == 5 && counts.max()! - counts.min()! <= 3, "non-zeros differ at \(s): \(counts)")
    }
    func row(_ method: String, _ s: Double) -> PruningSweep.Result? {
      results.first { $0.method == method && $0.targetSparsity == s }
    }
    for s in [0.5, 0.8] {
      // The ticket and its re-initialised control share one mask; the structured baseline is
      // exactly channel pruning's architecture; the soup keeps its ingredients' mask.
      #expect(row("lottery", s)?.nonZero == row("lottery-reinit", s)?.nonZero, "lottery masks differ at \(s)")
      #expect(row("channels-scratch", s)?.parameters == row("channels", s)?.parameters, "architectures differ at \(s)")
      #expect(row("soup", s)?.nonZero == row("global-magnitude", s)?.nonZero, "soup sparsity differs at \(s)")
      // Dynamic sparse training keeps ERK's connection count; connections it grows start at 0 and
      // stay 0 when their input never fires (the digits' blank border), so ≤ rather than =.
      for method in ["set", "rigl"] {
        #expect(row(method, s)!.nonZero <= row("random-erk-init", s)!.nonZero, "\(method) at \(s)")
        #expect(row(method, s)!.nonZero > row("random-erk-init", s)!.nonZero * 8 / 10, "\(method) at \(s)")
      }
    }
    #expect(row("srste 2:4", 0.5)?.nonZero == row("2:4", 0.5)?.nonZero)
    let report = SweepReport(title: "test", results: results)
    #expect(report.markdown.contains("| global-magnitude |"))
    #expect(report.svg.hasPrefix("<svg") && report.svg.contains("small-dense"))
    let decoded = try JSONSerialization.jsonObject(with: report.json) as? [[String: Any]]
    #expect(decoded?.count == results.count)
  }

  /// Each method is marked ↓ against its own baseline: channels against the same architecture
  /// from scratch, the ticket against its re-initialised mask, the rest against random pruning.
  @Test func methodsLosingToTheirBaselineAreMarked() {
    func result(_ method: String, _ accuracy: Float) -> PruningSweep.Result {
      PruningSweep.Result(method: method, targetSparsity: 0.9, nonZero: 10, parameters: 100, accuracy: accuracy,
                          accuracyBeforeFineTuning: nil, seconds: 0, note: nil)
    }
    let rows = [result("channels", 0.80), result("channels-scratch", 0.85), result("lottery", 0.90), result("lottery-reinit", 0.88),
                result("global-magnitude", 0.70), result("random-same-layers", 0.75), result("srste 2:4", 0.78)]
    let markdown = SweepReport(title: "t", results: rows).markdown
    #expect(markdown.contains("| channels | 80.00% ↓ (10) |"))
    #expect(markdown.contains("| lottery | 90.00% (10) |"))
    #expect(markdown.contains("| global-magnitude | 70.00% ↓ (10) |"))
    #expect(markdown.contains("| srste 2:4 | 78.00% (10) |"))
    #expect(markdown.contains("| channels-scratch | 85.00% (10) |"))
  }

  @Test func invalidSweepsAreRejected() {
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    #expect(throws: PruningError.self) {
      try PruningSweep(spec: spec, dense: TrainingConfiguration(), finetuneEpochs: 1, finetuneLearningRate: 0.01, methods: [.magnitude], sparsities: [1.0])
    }
    #expect(throws: PruningError.self) {
      try PruningSweep(spec: spec, dense: TrainingConfiguration(), finetuneEpochs: 0, finetuneLearningRate: 0.01, methods: [.magnitude], sparsities: [0.5])
    }
  }

  /// Sweeps run in parts (one sparsity or one method group per invocation) merge into one
  /// report only when they started from the same dense network and never disagree.
  @Test func sweepFilesMergeIntoOneOrderedReport() throws {
    func result(_ method: String, _ s: Double, _ accuracy: Float, parameters: Int = 100) -> PruningSweep.Result {
      PruningSweep.Result(method: method, targetSparsity: s, nonZero: method == "dense" ? parameters : 10, parameters: parameters,
                          accuracy: accuracy, accuracyBeforeFineTuning: nil, seconds: 1, note: nil)
    }
    let dense = result("dense", 0, 0.9)
    let a = [dense, result("random-same-layers", 0.9, 0.80), result("soup", 0.9, 0.70)]
    let b = [dense, result("srste 2:4", 0.5, 0.86), result("global-magnitude", 0.9, 0.85), result("global-magnitude", 0.5, 0.88),
             result("random-same-layers", 0.9, 0.80)]
    let merged = try SweepReport.merge([("a.json", a), ("b.json", b)])
    // Dense first, then SweepMethod order (global-magnitude, random-same-layers, srste, soup), sparsity ascending;
    // the identical random-same-layers row of b is kept once.
    #expect(merged.map(\.method) == ["dense", "global-magnitude", "global-magnitude", "random-same-layers", "srste 2:4", "soup"])
    #expect(merged[1].targetSparsity == 0.5 && merged[2].targetSparsity == 0.9)
    // Baselines are looked up across files: soup (a) loses to random-same-layers (a), global magnitude (b) does not.
    let markdown = SweepReport(title: "t", results: merged).markdown
    #expect(markdown.contains("| soup | — | 70.00% ↓ (10) |") && markdown.contains("| global-magnitude | 88.00% (10) | 85.00% (10) |"))

    #expect(throws: SweepMergeError.conflictingResult(file: "c.json", method: "random-same-layers", sparsity: 0.9)) {
      try SweepReport.merge([("a.json", a), ("c.json", [dense, result("random-same-layers", 0.9, 0.81)])])
    }
    #expect(throws: SweepMergeError.differentDense(file: "d.json", accuracy: 0.9, parameters: 99, expectedAccuracy: 0.9, expectedParameters: 100)) {
      try SweepReport.merge([("a.json", a), ("d.json", [result("dense", 0, 0.9, parameters: 99)])])
    }
    #expect(throws: SweepMergeError.noDenseRow(file: "e.json")) { try SweepReport.merge([("a.json", a), ("e.json", [result("soup", 0.5, 0.7)])]) }
    #expect(throws: SweepMergeError.noFiles) { try SweepReport.merge([]) }

    // Round trip through the files `winnow sweep` writes; a missing file is named.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-merge-\(getpid())").path
    try SweepReport(title: "a", results: a).write(to: directory, name: "a")
    try SweepReport(title: "b", results: b).write(to: directory, name: "b")
    let report = try SweepReport.merging(files: [directory + "/a.json", directory + "/b.json"], title: "both")
    #expect(report.results == merged)
    #expect(throws: SweepMergeError.self) { try SweepReport.merging(files: [directory + "/a.json", directory + "/missing.json"], title: "x") }
    do {
      _ = try SweepReport.merging(files: [directory + "/missing.json"], title: "x")
    } catch {
      #expect(error.description.contains("missing.json"))
    }
  }
}
