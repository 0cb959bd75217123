import ArgumentParser
import Foundation
import Winnow

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Export a Winnow checkpoint (or a freshly initialised model) to ONNX: dense fp32, masked weights as zeros, or int8 QDQ.",
    discussion: """
      Examples: winnow export lenet.ckpt lenet.onnx --int8
                winnow export --model smallcnn --seed 1 smallcnn.onnx
      """)

  @Argument(help: "A checkpoint written by `winnow train --checkpoint`, then the .onnx file to write; or only the .onnx file with --model.")
  var files: [String]
  @Option(help: "Export a freshly initialised model of this architecture instead of a checkpoint (\(ModelSpec.Architecture.allCases.map(\.rawValue).joined(separator: ", "))).")
  var model: String?
  @Option(help: "Seed of the fresh model's weights (with --model).") var seed: UInt64 = 0
  @Option(help: "Input image shape C,H,W of the fresh model (with --model).") var inputShape: String = "1,8,8"
  @Option(help: "Classes of the fresh model (with --model).") var classes: Int = 10
  @Option(help: "Batch size of the exported input.") var batch: Int = 1
  @Flag(help: "Store linear and convolution weights as int8 codes with per-channel scales (QDQ).") var int8 = false

  func run() throws {
    guard batch > 0 else { throw ValidationError("--batch must be positive") }
    let (layer, spec, output) = try source()
    let proto = try ONNXExport.model(layer, inputShape: [batch] + spec.inputShape, weights: int8 ? .int8 : .float32,
                                     name: spec.architecture.rawValue)
    try writeFileAtomically(proto.serializedBytes(), to: output)
    let nodes = proto.graph?.node.count ?? 0, initializers = proto.graph?.initializer.count ?? 0
    say("wrote \(output): \(spec.architecture.rawValue), input [\(([batch] + spec.inputShape).map(String.init).joined(separator: ", "))], \(nodes) nodes, \(initializers) initializers\(int8 ? ", int8 weights" : "")")
  }

  /// The model to export, its spec and the output path.
  private func source() throws -> (Layer, ModelSpec, String) {
    if let model {
      guard files.count == 1 else { throw ValidationError("with --model give only the output .onnx file") }
      guard let architecture = ModelSpec.Architecture(rawValue: model) else {
        throw ValidationError("unknown model '\(model)'; use one of \(ModelSpec.Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      let shape = inputShape.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
      let spec = ModelSpec(architecture, inputShape: shape, classes: classes)
      if let problem = spec.problem { throw ValidationError(problem) }
      return (spec.build(seed: seed), spec, files[0])
    }
    guard files.count == 2 else { throw ValidationError("give a checkpoint and the .onnx file to write (or --model and the .onnx file)") }
    let checkpoint = try Checkpoint.read(path: files[0])
    return (try loadModel(from: checkpoint, file: files[0]), checkpoint.spec, files[1])
  }
}
