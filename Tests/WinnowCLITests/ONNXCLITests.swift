import Foundation
import Testing
import WinnowCore
import WinnowFormats

// `winnow(_:)` and `scratch(_:)` are shared with the other CLI tests (CLITests.swift).

/// Linear(4→3) + Relu as ONNX.
private func tinyModel(activation: String = "Relu") -> ModelProto {
  var graph = ONNXGraphBuilder(name: "tiny")
  let x = graph.addInput("input", shape: [1, 4])
  let w = graph.addInitializer("fc.weight", .float(Tensor(shape: [3, 4], repeating: 0.5)))
  let y = graph.addNode("Gemm", [x, w], attributes: [.int("transB", 1)])[0]
  let z = graph.addNode(activation, [y])[0]
  graph.addOutput(z, shape: [1, 3])
  return graph.model()
}

@Suite(.serialized) struct ONNXCLITests {
  @Test func importPrintsTheGraphAndSavesWeights() throws {
    let path = scratch("tiny.onnx"), saved = scratch("tiny.safetensors")
    try writeFileAtomically(tinyModel().serializedBytes(), to: path)
    let r = try winnow(["import", path, "--save", saved])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("input  input  [1, 4]") && r.stdout.contains("Gemm×1") && r.stdout.contains("fc.weight"))
    #expect(try SafetensorsFile.read(path: saved).tensors["fc.weight"]?.shape == [3, 4])
  }

  @Test func importOfAMissingFileNamesIt() throws {
    let r = try winnow(["import", "/nonexistent/model.onnx"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("/nonexistent/model.onnx"))
  }

  @Test func importOfATruncatedFileFailsCleanly() throws {
    let path = scratch("truncated.onnx")
    let bytes = tinyModel().serializedBytes()
    try writeFileAtomically(Array(bytes.prefix(bytes.count / 2)), to: path)
    let r = try winnow(["import", path])
    #expect(r.status != 0)
    #expect(r.stderr.contains(path) && r.stderr.contains("not a valid ONNX protobuf"))
  }

  @Test func importNamesAnUnsupportedOperator() throws {
    let path = scratch("unsupported.onnx")
    try writeFileAtomically(tinyModel(activation: "Mish2").serializedBytes(), to: path)
    let r = try winnow(["import", path])
    #expect(r.status != 0)
    #expect(r.stderr.contains("Mish2"))
  }

  @Test func conformanceOnAnEmptyDirectoryFails() throws {
    let directory = scratch("empty-suite")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let r = try winnow(["onnx-conformance", directory])
    #expect(r.status != 0)
    #expect(r.stderr.contains("no test_"))
  }

  @Test func exportWritesAModelThatImportsBack() throws {
    let path = scratch("smallcnn-int8.onnx")
    let r = try winnow(["export", "--model", "smallcnn", "--seed", "3", "--int8", path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("int8 weights"))
    let imported = try winnow(["import", path])
    #expect(imported.status == 0, "\(imported.stderr)")
    #expect(imported.stdout.contains("DequantizeLinear") && imported.stdout.contains("Conv×2"))
  }

  @Test func exportRejectsBadArguments() throws {
    let unknown = try winnow(["export", "--model", "alexnet", scratch("x.onnx")])
    #expect(unknown.status != 0 && unknown.stderr.contains("alexnet"))
    let missing = try winnow(["export", "/nonexistent/run.ckpt", scratch("y.onnx")])
    #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/run.ckpt"))
    let badShape = try winnow(["export", "--model", "lenet5", "--input-shape", "1,8,8", scratch("z.onnx")])
    #expect(badShape.status != 0 && badShape.stderr.contains("lenet5"))
  }
}
