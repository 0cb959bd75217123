import ArgumentParser
import Foundation
import Winnow

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile a checkpoint into a packed inference program and write it as a .winnow file.",
    discussion: """
      Each Linear and convolution is packed in the format given by --format (dense, csr, \
      bsrRxC) or, with --format auto, in the fastest one measured on the layer's real shape. \
      Bias, inference-mode batch norm and ReLU are folded into the layers. The file stores the \
      packed arrays, so a sparse model's file is smaller; `winnow eval` and `winnow bench` run it.
      Example: winnow compile lenet-90.ckpt --output lenet-90.winnow --format auto --tune-batch 1
      """)

  @Argument(help: "A checkpoint written by `winnow train` or `winnow prune`.") var checkpoint: String
  @Option(help: "Where to write the packed program.") var output: String
  @Option(help: "Weight format for every layer: auto (fastest measured), smallest (fewest bytes), dense, csr, bsrRxC (e.g. bsr4x1), int8 or csr-int8.")
  var format: String = "auto"
  @Option(name: .customLong("layer"), help: "Format for one layer, as name=format (repeatable), e.g. --layer fc1=csr.")
  var layerFormats: [String] = []
  @Option(help: "Quantize every layer's weights with this scheme (int8-channel runs on the int8 kernel).")
  var quantize: String?
  @Option(help: "A quantization plan (JSON, from `winnow quantize --save-plan`): per-layer schemes.")
  var quantizationPlan: String?
  @Option(help: "Batch size the auto choice is timed at.") var tuneBatch: Int = 1
  @Option(help: "Threads for Winnow's kernels (default: all cores).") var threads: Int?

  func run() throws {
    applyThreads(threads)
    guard tuneBatch > 0 else { throw ValidationError("--tune-batch must be positive") }
    let saved = try Checkpoint.read(path: checkpoint)
    let model = try loadModel(from: saved, file: checkpoint)
    var options = try CompileOptions(formats: parseLayerFormats(layerFormats), choice: parseChoice(format, tuneBatch: tuneBatch))
    if let quantize { options.quantizeAll = try QuantizationScheme(parsing: quantize) }
    if let quantizationPlan {
      let plan = try QuantizationPlan.read(path: quantizationPlan)
      options.quantization = plan.layers
    }
    let program = try Compiler.compile(model, inputShape: saved.spec.inputShape, options: options)
    say(layerTable(program))
    try checkAgreement(program, model: model, inputShape: saved.spec.inputShape)
    try program.write(to: output)
    let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
    let denseBytes = program.layers.reduce(0) { $0 + $1.weightCount * 4 }
    say(String(format: "wrote %@: %d bytes (layer weights as dense fp32 would take %d bytes)", output, bytes, denseBytes))
  }

  /// Runs model and program on the same random batch; a difference beyond rounding is a bug
  /// in the compiler, so say so loudly rather than write a wrong program.
  func checkAgreement(_ program: InferenceProgram, model: Layer, inputShape: [Int]) throws {
    var rng = RandomGenerator(seed: 0)
    let x = Tensor.randomNormal([4] + inputShape, using: &rng)
    let expected = model.forward(x, ForwardContext(training: false))
    let y = try program.run(x)
    let worst = zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
    let scale = expected.scalars.map(abs).max() ?? 1
    say(String(format: "program vs model on a random batch: max |difference| %.2e (outputs up to %.2e)", worst, scale))
    // Quantized layers change the numbers on purpose: `winnow eval` measures what that costs.
    guard program.layers.contains(where: \.format.isQuantized) || worst <= 1e-3 * max(scale, 1) else {
      throw ValidationError("the compiled program disagrees with the model (max difference \(worst)); please report this")
    }
  }
}

func parseChoice(_ text: String, tuneBatch: Int) throws -> FormatChoice {
  switch text {
  case "auto": .fastest(batch: tuneBatch)
  case "smallest": .smallest
  default: .fixed(try WeightFormat(parsing: text))
  }
}

func parseLayerFormats(_ items: [String]) throws -> [String: WeightFormat] {
  var formats: [String: WeightFormat] = [:]
  for item in items {
    let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
    guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--layer takes name=format, got '\(item)'") }
    formats[parts[0]] = try WeightFormat(parsing: parts[1])
  }
  return formats
}

/// One line per packed layer: shape, density, format and what the choice measured.
func layerTable(_ program: InferenceProgram) -> String {
  var lines = ["layer                shape          density  format    kernel"]
  for layer in program.layers {
    let shape = "\(layer.weights.outputFeatures)×\(layer.weights.inputFeatures)"
    let density = Double(layer.nonZeros) / Double(max(1, layer.weightCount))
    var line = String(format: "%@ %@ %6.1f%%  %@ %@", layer.name.padding(toLength: 20, withPad: " ", startingAt: 0),
                      shape.padding(toLength: 14, withPad: " ", startingAt: 0), density * 100,
                      layer.format.description.padding(toLength: 9, withPad: " ", startingAt: 0), layer.weights.kernelName)
    if !layer.timings.isEmpty {
      line += "   measured: " + layer.timings.map { String(format: "%@ %.1f µs", $0.format.description, $0.seconds * 1e6) }.joined(separator: ", ")
    }
    lines.append(line)
  }
  return lines.joined(separator: "\n")
}
