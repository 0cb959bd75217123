import Foundation
import Testing
import WinnowCore
import WinnowNN

@Suite struct CheckpointTests {
  private func path(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-ckpt-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }

  private func savedCheckpoint(_ name: String) throws -> (String, Trainer) {
    let trainer = Trainer(spec: ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10), configuration: TrainingConfiguration())
    let file = path(name)
    trainer.checkpointPath = file
    try trainer.saveCheckpoint()
    return (file, trainer)
  }

  @Test func roundTripKeepsWeightsMasksAndBuffers() throws {
    let model = ModelSpec(.resnet8, inputShape: [1, 8, 8], classes: 10).build(seed: 3)
    var maskCount = 0
    model.visitParameters { name, p in
      if name == "fc.weight" {
        p.mask = Tensor(shape: p.shape) { m in for i in m.indices { m[i] = i % 2 == 0 ? 1 : 0 } }
        p.applyMask()
        maskCount += 1
      }
    }
    #expect(maskCount == 1)
    let checkpoint = Checkpoint(spec: ModelSpec(.resnet8, inputShape: [1, 8, 8], classes: 10), configuration: TrainingConfiguration(),
                                state: TrainingState(seed: 0), model: model, optimizer: SGD(learningRate: 0.1))
    let file = path("roundtrip.ckpt")
    try checkpoint.write(path: file)
    let loaded = ModelSpec(.resnet8, inputShape: [1, 8, 8], classes: 10).build(seed: 99)
    try Checkpoint.read(path: file).restore(into: loaded, file: file)
    #expect(stateDictionary(of: loaded) == stateDictionary(of: model))
    var restoredMask: Tensor?
    loaded.visitParameters { name, p in if name == "fc.weight" { restoredMask = p.mask } }
    #expect(restoredMask?.scalars.prefix(4) == [1, 0, 1, 0])
  }

  @Test func wrongShapeNamesTheParameterAndBothShapes() throws {
    let (file, trainer) = try savedCheckpoint("shape.ckpt")
    var tensors = try SafetensorsFile.read(path: file)
    tensors.tensors["model.fc1.weight"] = Tensor.zeros([120, 399])
    try tensors.write(path: file)
    let model = trainer.spec.build(seed: 0)
    #expect(throws: FormatError.shapeMismatch(file: file, tensor: "model.fc1.weight", expected: [120, 400], actual: [120, 399])) {
      try Checkpoint.read(path: file).restore(into: model, file: file)
    }
    let message = "\(FormatError.shapeMismatch(file: file, tensor: "model.fc1.weight", expected: [120, 400], actual: [120, 399]))"
    #expect(message.contains("fc1.weight") && message.contains("400") && message.contains("399"))
  }

  @Test func missingParameterIsNamed() throws {
    let (file, trainer) = try savedCheckpoint("missing.ckpt")
    var tensors = try SafetensorsFile.read(path: file)
    tensors.tensors["model.conv2.bias"] = nil
    try tensors.write(path: file)
    #expect(throws: FormatError.missingTensor(file: file, tensor: "model.conv2.bias")) {
      try Checkpoint.read(path: file).restore(into: trainer.spec.build(seed: 0), file: file)
    }
  }

  @Test func plainSafetensorsIsNotACheckpoint() throws {
    let file = path("plain.safetensors")
    try SafetensorsFile(tensors: ["w": Tensor([1, 2])]).write(path: file)
    #expect(throws: FormatError.self) { try Checkpoint.read(path: file) }
  }

  @Test func corruptMetadataIsRejected() throws {
    let (file, _) = try savedCheckpoint("metadata.ckpt")
    var contents = try SafetensorsFile.read(path: file)
    contents.metadata["model"] = "{\"architecture\": \"nonsense\"}"
    try contents.write(path: file)
    #expect(throws: FormatError.self) { try Checkpoint.read(path: file) }
  }

  @Test func truncatedCheckpointIsRejected() throws {
    let (file, _) = try savedCheckpoint("truncated.ckpt")
    let bytes = try readFileBytes(file)
    try writeFileAtomically(Array(bytes.prefix(bytes.count / 2)), to: file)
    #expect(throws: FormatError.self) { try Checkpoint.read(path: file) }
  }
}
