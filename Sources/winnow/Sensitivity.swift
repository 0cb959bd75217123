import ArgumentParser
import Foundation
import Winnow

struct Sensitivity: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure each layer's sensitivity to quantization, pruning and low rank, and assign mixed precision under a size budget.",
    discussion: """
      For every Linear and Conv2d layer, compresses only that layer — weight-only quantization with each \
      of --schemes, magnitude pruning at each of --sparsities, truncated SVD at each of --ranks (fractions \
      of the layer's full rank) — and evaluates on the first --test-limit test examples. Writes NAME.md, \
      NAME.json, NAME-bits.svg, NAME-sparsity.svg and NAME-rank.svg into --out. With \
      --budget-bits (average bits per weight, scales included), assigns a scheme per layer that minimises the \
      summed measured loss increase within the budget (--assignment dp: exact dynamic programming over the \
      multiple-choice knapsack; greedy: least loss increase per bit saved), prints both methods' plans for \
      comparison and saves the chosen one with --save-plan for `winnow quantize --plan`.
      Example: winnow sensitivity lenet.ckpt --data fashion-mnist --budget-bits 4 --save-plan mixed.json
      """)

  @Argument(help: "A checkpoint written by `winnow train`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Comma-separated weight schemes.") var schemes: String = "int8-sym-channel,int6-sym-channel,int4-sym-channel,int3-sym-channel,int2-sym-channel"
  @Option(help: "Comma-separated sparsities in [0, 1) (empty for none).") var sparsities: String = "0.5,0.8,0.9,0.95"
  @Option(help: "Comma-separated fractions of each layer's full rank in (0, 1] (empty for none).") var ranks: String = "0.5,0.25,0.1"
  @Option(help: "Evaluate on the first N test examples.") var testLimit: Int = 2000
  @Option(help: "Average bits per weight for a mixed-precision plan.") var budgetBits: Double?
  @Option(help: "Mixed-precision method: dp (exact) or greedy.") var assignment: String = "dp"
  @Option(help: "Write the mixed-precision plan as JSON.") var savePlan: String?
  @Option(help: "Directory for the report files.") var out: String = "sensitivity"
  @Option(help: "Base name of the report files.") var name: String = "sensitivity"
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    guard testLimit > 0 else { throw ValidationError("--test-limit must be positive") }
    if let budgetBits { guard budgetBits > 0 else { throw ValidationError("--budget-bits must be positive") } }
    guard let method = MixedPrecision.Method(rawValue: assignment) else {
      throw ValidationError("unknown --assignment '\(assignment)'; use dp or greedy")
    }
    let parsedSchemes = try schemes.split(separator: ",").map { try QuantizationScheme(parsing: $0.trimmingCharacters(in: .whitespaces)) }
    let levels = try sparsities.split(separator: ",").map { part -> Double in
      guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v >= 0, v < 1 else {
        throw ValidationError("bad sparsity '\(part)': use numbers in [0, 1)")
      }
      return v
    }
    let rankFractions = try ranks.split(separator: ",").map { part -> Double in
      guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v > 0, v <= 1 else {
        throw ValidationError("bad rank fraction '\(part)': use numbers in (0, 1]")
      }
      return v
    }
    let (_, model, _, fullTest) = try loadCheckpoint(checkpoint, for: dataOptions)
    for layer in quantizableLayers(of: model) {
      for scheme in parsedSchemes { _ = try scheme.blockSize(for: layer.weightShape, layer: layer.name) }
    }
    let test = fullTest.subset(Array(0..<min(testLimit, fullTest.count)))
    let analysis = SensitivityAnalysis(compressions: parsedSchemes.map { .quantization($0) } + levels.map { .pruning(sparsity: $0) }
                                         + rankFractions.map { .rank(fraction: $0) })
    let report = try analysis.run(model: model, evaluate: { m in let r = evaluate(m, on: test); return (r.accuracy, r.loss) },
                                  progress: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
    say(report.markdown)
    try report.write(to: out, name: name)
    say("wrote \(out)/\(name).md, .json and plots")
    guard let budgetBits else { return }
    let weights = quantizableLayers(of: model).reduce(0) { $0 + $1.weightShape.reduce(1, *) }
    var chosen: MixedPrecision.Assignment?
    for candidate in [method] + MixedPrecision.Method.allCases.filter({ $0 != method }) {
      let result = try MixedPrecision.assign(report: report, model: model, budgetBits: Int(budgetBits * Double(weights)),
                                             method: candidate)
      say(String(format: "mixed precision (%@) for %.2f bits/weight: %.4f bits/weight, predicted loss %.4f (baseline %.4f)",
                 candidate.rawValue, budgetBits, Double(result.bits) / Double(weights), result.predictedLoss, report.baselineLoss))
      say(result.plan.description.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
      chosen = chosen ?? result
    }
    if let savePlan, let chosen {
      try chosen.plan.jsonData().write(to: URL(fileURLWithPath: savePlan))
      say("wrote \(savePlan) (\(method.rawValue))")
    }
  }
}
