import Testing
import WinnowCompression
import WinnowCore
import WinnowFormats
import WinnowNN
import WinnowRuntime
import WinnowTestSupport

/// An imported ONNX model compiles into a packed program like a native one.
@Suite struct ONNXRuntimeTests {
  @Test(arguments: ["lenet5", "resnet8", "mlp"]) func importedModelCompilesAndRunsPacked(architecture: String) throws {
    let arch = try #require(ModelSpec.Architecture(rawValue: architecture))
    let side = arch == .lenet5 ? 16 : 8
    let native = ModelSpec(arch, inputShape: [1, side, side], classes: 10).build(seed: 3)
    _ = try Pruning.magnitude(native, sparsity: 0.8, global: false)
    let proto = try ONNXExport.model(native, inputShape: [2, 1, side, side])
    let imported = try ONNXModel(bytes: proto.serializedBytes(), file: "\(architecture).onnx")
    #expect(imported.fixedBatchSize == 2)
    let program = try Compiler.compile(imported, inputShape: [1, side, side], options: CompileOptions(choice: .fixed(.csr)))
    #expect(!program.layers.isEmpty)
    let x = randomTensor([2, 1, side, side], seed: 4)
    let expected = native.forward(x, ForwardContext(training: false))
    // Export, import and packing each reorder Float32 sums only.
    #expect(allClose(try program.run(x), expected, rtol: 1e-4, atol: 1e-5))
    #expect(throws: RuntimeError.self) { try program.run(randomTensor([3, 1, side, side], seed: 5)) }
  }
}
