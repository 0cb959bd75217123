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
    // 2:4 exists only at 50%; everything else at both sparsities.
    #expect(results.count == 1 + SweepMethod.allCases.count * 2 - 1)
    for r in results where r.method != "dense" {
      #expect(r.nonZero < dense0.parameters, "\(r.method) at \(r.targetSparsity)")
    }
    // Unstructured methods keep the same number of weights at the same sparsity, up to the
    // rounding of one count per layer (3 prunable layers).
    for s in [0.5, 0.8] {
      let counts = results.filter { ["magnitude", "global-magnitude", "gradual", "random-same-layers", "random-erk"].contains($0.method) && $0.targetSparsity == s }.map(\.nonZero)
      #expect(counts.count == 5 && counts.max()! - counts.min()! <= 3, "non-zeros differ at \(s): \(counts)")
    }
    let report = SweepReport(title: "test", results: results)
    #expect(report.markdown.contains("| global-magnitude |"))
    #expect(report.svg.hasPrefix("<svg") && report.svg.contains("small-dense"))
    let decoded = try JSONSerialization.jsonObject(with: report.json) as? [[String: Any]]
    #expect(decoded?.count == results.count)
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
}
