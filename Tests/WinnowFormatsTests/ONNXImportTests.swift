import Foundation
import Testing
import WinnowCore
import WinnowTestSupport
import WinnowNN
import WinnowFormats

func fixturePath(_ name: String) -> String? {
  Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")?.path
}

@Suite struct ONNXImportTests {
  /// Committed cases of the ONNX node suite (onnx==1.23.2), each run against its stored outputs.
  @Test func committedConformanceCasesPass() throws {
    let directory = try #require(fixturePath("onnx-node"))
    let cases = try ONNXConformance.run(directory: directory)
    #expect(cases.count >= 30)
    for c in cases { #expect(c.outcome == .passed, "\(c.name): \(c.outcome)") }
  }

  /// The whole suite, when `WINNOW_ONNX_NODE_SUITE` points at it (skipped otherwise: ~20 s).
  @Test func fullSuiteHasNoFailures() throws {
    guard let directory = ProcessInfo.processInfo.environment["WINNOW_ONNX_NODE_SUITE"] else { return }
    let cases = try ONNXConformance.run(directory: directory)
    let failed = cases.filter { if case .failed = $0.outcome { return true } else { return false } }
    #expect(failed.isEmpty, "\(failed.map(\.name))")
  }

  @Test func importedMLPMatchesTheDirectComputation() throws {
    let model = try ONNXModel(bytes: smallMLPModel().serializedBytes(), file: "mlp.onnx")
    let x = randomTensor([2, 4], seed: 9)
    var weights: [String: Tensor] = [:]
    model.visitParameters { name, p in weights[name] = p.value }
    let hidden = (x.matmul(weights["fc1.weight"]!, transposeB: true) + weights["fc1.bias"]!).relu()
    let expected = hidden.matmul(weights["fc2.weight"]!, transposeB: true) * 0.5
    #expect(allClose(model(x), expected, rtol: 1e-6, atol: 1e-6))
    #expect(model.parameterShapes.map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight"])
  }

  @Test func importedModelTrainsThroughAutodiff() throws {
    let model = try ONNXModel(bytes: smallMLPModel().serializedBytes(), file: "mlp.onnx")
    let x = randomTensor([2, 4], seed: 3)
    let (_, gradients) = valueWithGradients(of: model) { model(x).squared().sum() }
    #expect(Set(gradients.byName.keys) == ["fc1.weight", "fc1.bias", "fc2.weight"])
    // Finite differences on fc2.weight (the loss is quadratic in it, so central differences are exact up to rounding).
    var weight = Tensor.zeros([1])
    model.visitParameters { name, p in if name == "fc2.weight" { weight = p.value } }
    let numeric = numericGradient(of: { w in
      model.visitParameters { name, p in if name == "fc2.weight" { p.value = w } }
      return model(x).squared().sum().scalar
    }, at: weight)
    #expect(allClose(gradients["fc2.weight"]!, numeric, rtol: 1e-2, atol: 1e-3), "\(differenceReport(gradients["fc2.weight"]!, numeric))")
  }

  @Test func unsupportedOperatorIsNamed() throws {
    var model = smallMLPModel()
    model.graph!.node[1].opType = "FancyActivation"
    #expect {
      try ONNXModel(bytes: model.serializedBytes(), file: "fancy.onnx")
    } throws: { error in
      let text = "\(error)"
      return text.contains("fancy.onnx") && text.contains("FancyActivation") && text.contains("Relu_1")
    }
  }

  @Test func oldOpsetsAreRejectedClearly() throws {
    var model = smallMLPModel()
    model.opsetImport[0].version = 7
    // Gemm changed in opsets 9 and 11, so an opset-7 Gemm is refused by name.
    #expect { try ONNXModel(bytes: model.serializedBytes(), file: "old.onnx") } throws: { error in
      "\(error)".contains("old.onnx") && "\(error)".contains("(Gemm)") && "\(error)".contains("opset 9")
    }
    model.opsetImport[0].version = 0
    #expect(throws: ONNXError.unsupportedOpset(file: "old.onnx", domain: "", version: 0)) {
      try ONNXModel(bytes: model.serializedBytes(), file: "old.onnx")
    }
  }

  @Test func missingExternalDataNamesTheFile() throws {
    var model = smallMLPModel()
    var weight = model.graph!.initializer[0]
    weight.rawData = []
    weight.dataLocation = TensorProto.DataLocation.external.rawValue
    var location = StringStringEntryProto()
    location.key = "location"
    location.value = "weights.bin"
    weight.externalData = [location]
    model.graph!.initializer[0] = weight
    let directory = FileManager.default.temporaryDirectory.path
    #expect {
      try ONNXModel(bytes: model.serializedBytes(), file: "external.onnx", directory: directory)
    } throws: { error in
      guard case .missingExternalData(let file, let tensor, let path, _) = error as? ONNXError else { return false }
      return file == "external.onnx" && tensor == "fc1.weight" && path == "weights.bin"
    }
  }

  @Test func danglingInputsAndWrongShapesAreErrors() throws {
    var model = smallMLPModel()
    model.graph!.node[1].input = ["nowhere"]
    #expect(throws: ONNXError.self) { try ONNXModel(bytes: model.serializedBytes(), file: "dangling.onnx") }
    let good = try ONNXModel(bytes: smallMLPModel().serializedBytes(), file: "mlp.onnx")
    #expect {
      try good.run(Tensor.zeros([2, 5]))
    } throws: { error in "\(error)".contains("input 'input'") && "\(error)".contains("[2, 5]") }
  }

  @Test func truncatedTensorDataIsAnError() throws {
    var model = smallMLPModel()
    model.graph!.initializer[1].rawData.removeLast()
    #expect {
      try ONNXModel(bytes: model.serializedBytes(), file: "short.onnx")
    } throws: { error in "\(error)".contains("fc1.bias") && "\(error)".contains("short.onnx") }
  }
}
