import WinnowCore
import WinnowKernels
import WinnowNN

extension InferenceProgram {
  /// Accuracy and mean cross-entropy of the program on `data`, as `evaluate(_:on:)` reports
  /// them for a model.
  public func evaluate(on data: Dataset, batchSize: Int = 256) throws -> EvaluationResult {
    var lossSum: Double = 0
    var correct = 0
    for batch in data.batches(size: batchSize) {
      let logits = try run(batch.images)
      lossSum += Double(crossEntropy(logits, labels: batch.labels).scalar) * Double(batch.labels.count)
      correct += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
    }
    let n = max(data.count, 1)
    return EvaluationResult(loss: Float(lossSum / Double(n)), accuracy: Float(correct) / Float(n), examples: data.count)
  }

  /// The same program with every layer's weights dense: the baseline a compressed program is
  /// timed against. Nil when some layer's format cannot give back its weights.
  public func densified() -> InferenceProgram? {
    var copy = self
    for i in copy.layers.indices {
      guard let values = denseValues(of: copy.layers[i].weights) else { return nil }
      copy.layers[i].format = .dense
      copy.layers[i].weights = DenseLinearWeights(
        values: values, outputFeatures: copy.layers[i].weights.outputFeatures, inputFeatures: copy.layers[i].weights.inputFeatures)
      copy.layers[i].timings = []
    }
    return copy
  }
}

/// The `N×K` row-major weights a packed format holds, when it can say.
func denseValues(of weights: any PackedLinearWeights) -> [Float]? {
  switch weights {
  case let w as DenseLinearWeights: w.values
  case let w as CSRMatrix: w.dense()
  case let w as BSRMatrix: w.dense()
  case let w as Int8LinearWeights: w.dequantized()
  case let w as CSRInt8Matrix: w.dense()
  case let w as NMSparseMatrix: w.dense()
  case let w as Int4LinearWeights: w.dequantized()
  case let w as BinaryLinearWeights: w.dense()  // α·(±1); its activations are not binarised
  default: nil
  }
}

/// Measured latency of a program, per layer and in total, beside its dense twin.
public struct ProgramBenchmark: Sendable {
  public struct Row: Sendable {
    public var name: String
    public var format: String
    public var kernel: String
    public var seconds: Double
    /// Seconds of the same layer in the dense program, when measured.
    public var denseSeconds: Double?
    public var share: Double
    public var speedup: Double? { denseSeconds.map { $0 / seconds } }
  }
  public var batch: Int
  public var rows: [Row]
  /// Median seconds of one whole run.
  public var totalSeconds: Double
  public var denseTotalSeconds: Double?

  /// Times `program` (and `dense`, when given) on `batch` random inputs: `repetitions` runs
  /// after one warm-up; per-layer times and totals are medians.
  public static func measure(_ program: InferenceProgram, dense: InferenceProgram?, batch: Int, repetitions: Int = 20) throws -> ProgramBenchmark {
    var rng = RandomGenerator(seed: 1)
    let x = Tensor.randomNormal([batch] + program.inputShape, using: &rng)
    func profile(_ p: InferenceProgram) throws -> (total: Double, steps: [String: Double]) {
      _ = try p.run(x)
      var totals: [Double] = []
      var perStep: [String: [Double]] = [:]
      for _ in 0..<repetitions {
        var steps: [String: Double] = [:]
        let t0 = monotonicSeconds()
        _ = try p.runTimed(x, into: &steps)
        totals.append(monotonicSeconds() - t0)
        for (k, v) in steps { perStep[k, default: []].append(v) }
      }
      // Medians: other processes on the machine add outliers, not a constant.
      return (median(totals), perStep.mapValues(median))
    }
    let (total, steps) = try profile(program)
    let denseProfile = try dense.map(profile)
    let layerNames = Set(program.layers.map(\.name))
    var rows = program.layers.map { layer in
      Row(name: layer.name, format: layer.format.description, kernel: layer.weights.kernelName,
          seconds: steps[layer.name] ?? 0, denseSeconds: denseProfile?.steps[layer.name], share: 0)
    }
    let others = steps.filter { !layerNames.contains($0.key) }.reduce(0) { $0 + $1.value }
    let denseOthers = denseProfile.map { p in p.steps.filter { !layerNames.contains($0.key) }.reduce(0) { $0 + $1.value } }
    rows.append(Row(name: "(other ops)", format: "-", kernel: "-", seconds: others, denseSeconds: denseOthers, share: 0))
    let sum = rows.reduce(0) { $0 + $1.seconds }
    for i in rows.indices { rows[i].share = rows[i].seconds / max(sum, 1e-12) }
    return ProgramBenchmark(batch: batch, rows: rows, totalSeconds: total, denseTotalSeconds: denseProfile?.total)
  }

  /// A fixed-width table for the terminal.
  public var table: String {
    func ms(_ s: Double?) -> String { s.map { String(format: "%9.3f", $0 * 1000) } ?? "        -" }
    var lines = ["layer                format    kernel                              ms    share   dense ms  speedup"]
    for r in rows {
      let speedup = r.speedup.map { String(format: "%7.2f×", $0) } ?? "       -"
      lines.append(String(format: "%-20@ %-9@ %-30@ %@ %6.1f%% %@ %@", r.name.padded(20), r.format.padded(9), r.kernel.padded(30),
                          ms(r.seconds), r.share * 100, ms(r.denseSeconds), speedup))
    }
    let total = denseTotalSeconds.map { String(format: "   dense %.3f ms → %.2f×", $0 * 1000, $0 / totalSeconds) } ?? ""
    lines.append(String(format: "total (median of runs, batch %d): %.3f ms%@", batch, totalSeconds * 1000, total))
    return lines.joined(separator: "\n")
  }
}

extension String {
  func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
