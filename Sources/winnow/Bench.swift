import ArgumentParser
import Foundation
import Winnow

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Time a compiled program layer by layer against its dense twin.",
    discussion: """
      Takes a .winnow file from `winnow compile`, or a checkpoint (compiled here with \
      --format). Prints, per layer, the format, the time, its share of the total and the \
      speedup over the same layer with dense weights, then the whole program against the dense \
      program and against the model's own (training-framework) forward pass.
      With several models, a last table compares every model's total with the first one's,       all measured in this run.
      Example: winnow bench lenet.winnow lenet-90.winnow --batch 1 --threads 1
      """)

  @Argument(help: "One or more .winnow programs or checkpoints.") var models: [String]
  @Option(help: "Batch size of the timed runs (repeatable: --batch 1 --batch 64).") var batch: [Int] = [1]
  @Option(help: "Runs per measurement.") var repetitions: Int = 50
  @Option(help: "For a checkpoint: weight format (auto, dense, csr, bsrRxC).") var format: String = "auto"
  @Option(help: "Threads for Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    guard !models.isEmpty else { throw ValidationError("name at least one model") }
    guard batch.allSatisfy({ $0 > 0 }), repetitions > 0 else { throw ValidationError("--batch and --repetitions must be positive") }
    var totals: [[Double]] = []
    for model in models {
      let (program, reference) = try loadProgram(model)
      guard let dense = program.densified() else { throw ValidationError("\(model): a layer's format cannot be densified for comparison") }
      say("\(model): \(program.layers.count) packed layers, \(program.steps.count) steps, \(program.weightBytes) bytes of weights")
      var row: [Double] = []
      for b in batch {
        let report = try ProgramBenchmark.measure(program, dense: dense, batch: b, repetitions: repetitions)
        say(report.table)
        row.append(report.totalSeconds)
        if let reference {
          let seconds = modelForwardSeconds(reference, inputShape: program.inputShape, batch: b)
          say(String(format: "model forward (autodiff framework path): %.3f ms → program %.2f× faster", seconds * 1000, seconds / report.totalSeconds))
        }
        say("")
      }
      totals.append(row)
    }
    if models.count > 1 { say(comparison(totals)) }
  }

  /// Every model's total latency per batch size and its speedup over the first model.
  private func comparison(_ totals: [[Double]]) -> String {
    var lines = ["model" + batch.map { String(format: " | batch %d ms (speedup vs %@)", $0, models[0]) }.joined()]
    for (model, row) in zip(models, totals) {
      lines.append(model + zip(row, totals[0]).map { String(format: " | %.3f (%.2f×)", $0 * 1000, $1 / $0) }.joined())
    }
    return lines.joined(separator: "\n")
  }

  private func loadProgram(_ model: String) throws -> (InferenceProgram, Layer?) {
    if let program = try? InferenceProgram.read(path: model) { return (program, nil) }
    let saved: Checkpoint
    do { saved = try Checkpoint.read(path: model) } catch {
      // Neither format: report why the packed reader refused it too.
      do { _ = try InferenceProgram.read(path: model) } catch let packed { throw ValidationError("\(packed)\nnor a checkpoint: \(error)") }
      throw error
    }
    let layer = try loadModel(from: saved, file: model)
    let program = try Compiler.compile(layer, inputShape: saved.spec.inputShape, options: CompileOptions(choice: parseChoice(format, tuneBatch: batch[0])))
    say(layerTable(program))
    return (program, layer)
  }

  private func modelForwardSeconds(_ model: Layer, inputShape: [Int], batch: Int) -> Double {
    var rng = RandomGenerator(seed: 1)
    let x = Tensor.randomNormal([batch] + inputShape, using: &rng)
    _ = model.forward(x, ForwardContext(training: false))
    var samples: [Double] = []
    for _ in 0..<repetitions {
      let t0 = DispatchTime.now().uptimeNanoseconds
      _ = model.forward(x, ForwardContext(training: false))
      samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }
    return samples.sorted()[samples.count / 2]
  }
}
