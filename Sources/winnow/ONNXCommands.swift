import ArgumentParser
import Foundation
import Winnow

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Import an ONNX model: print its inputs, outputs, operators and parameters; optionally save its weights.",
    discussion: "Example: winnow import model.onnx --save model.safetensors")

  @Argument(help: "An .onnx file (external data is read from its directory).") var model: String
  @Option(help: "Write the imported parameters (ONNX initializer names) to this .safetensors file.") var save: String?

  func run() throws {
    let imported = try ONNXModel(file: model)
    say("\(model): ONNX opset \(imported.opset), producer \(imported.producer)")
    for input in imported.inputs {
      let shape = input.shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ")
      say("  input  \(input.name)  [\(shape)]")
    }
    for name in imported.outputNames { say("  output \(name)") }
    var counts: [String: Int] = [:]
    for node in imported.nodes { counts[node.opType, default: 0] += 1 }
    say("\(imported.nodes.count) nodes: " + counts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
    say("\(imported.parameterShapes.count) parameters, \(imported.parameterCount) elements")
    for (name, shape) in imported.parameterShapes.prefix(50) { say("  \(name)  \(shape)") }
    if imported.parameterShapes.count > 50 { say("  … \(imported.parameterShapes.count - 50) more") }
    if let save {
      try SafetensorsFile(tensors: stateDictionary(of: imported), metadata: ["source": model]).write(path: save)
      say("wrote \(save)")
    }
  }
}

struct ONNXConformanceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "onnx-conformance",
    abstract: "Run the ONNX backend node test suite and print per-operator passed/failed/unsupported counts.",
    discussion: """
      The suite is generated from the onnx wheel (PyPI onnx==1.23.2); see docs/ONNX.md. \
      Example: winnow onnx-conformance ~/.cache/winnow-assets/onnx-node/node
      """)

  @Argument(help: "Directory holding test_*/model.onnx case directories.") var directory: String
  @Option(help: "Only cases whose directory name contains this text.") var filter: String?
  @Flag(help: "List every failed case with its reason.") var verbose = false
  @Flag(help: "Print each case's name on stderr before running it.") var progress = false

  func run() throws {
    let cases = try ONNXConformance.run(directory: directory, filter: filter) { name in
      if progress { FileHandle.standardError.write(Data((name + "\n").utf8)) }
    }
    guard !cases.isEmpty else { throw ValidationError("\(directory) holds no test_* case directories") }
    say(ONNXConformance.markdownReport(cases))
    if verbose {
      for c in cases {
        switch c.outcome {
        case .failed(let why): say("FAILED \(c.name): \(why)")
        case .unsupported(let why): say("unsupported \(c.name): \(why)")
        case .passed: break
        }
      }
    }
  }
}
