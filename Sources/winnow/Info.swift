import ArgumentParser
import Winnow

struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Describe a checkpoint or a safetensors file: tensors, shapes, sizes and training state.")

  @Argument(help: "A .safetensors file or a Winnow checkpoint.") var file: String

  func run() throws {
    let contents = try SafetensorsFile.read(path: file)
    if contents.metadata["format"] == Checkpoint.format {
      let checkpoint = try Checkpoint.read(path: file)
      say("Winnow checkpoint: \(checkpoint.spec.architecture.rawValue), input \(checkpoint.spec.inputShape), \(checkpoint.spec.classes) classes")
      say("  epochs done \(checkpoint.state.epoch)/\(checkpoint.configuration.epochs), step \(checkpoint.state.globalStep), optimizer \(checkpoint.configuration.optimizer.rawValue)")
      let model = try loadModel(from: checkpoint, file: file)
      say(SparsityReport(model: model).description)
      // PQ Index (Diao et al.): how compressible each layer still is (0 = flat magnitudes).
      say(try PQIndex.report(for: model).description)
    } else if !contents.metadata.isEmpty {
      say("metadata: " + contents.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
    }
    var total = 0
    let names = contents.tensors.keys.sorted()
    let width = min(names.map(\.count).max() ?? 0, 60)
    for name in names {
      let t = contents.tensors[name]!
      total += t.count
      say("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(t.shape)  \(t.count)")
    }
    say("\(names.count) tensors, \(total) elements")
  }
}
