import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowRuntime
import WinnowTestSupport

/// Programs with int8 layers: close to the float model, exact through the file, and clear
/// about schemes the runtime cannot run.
@Suite struct QuantizedProgramTests {
  @Test func int8ProgramStaysCloseToTheModel() throws {
    for (name, model, shape) in CompilerTests.models() {
      CompilerTests.perturbBuffers(model)
      let program = try Compiler.compile(model, inputShape: shape, options: CompileOptions(quantizeAll: .int8()))
      #expect(program.layers.allSatisfy { $0.format == .int8 })
      let x = randomTensor([4] + shape, seed: 2)
      let expected = model.forward(x, ForwardContext(training: false))
      let y = try program.run(x)
      // 8-bit weights (per channel) and 8-bit activations (per token) through every layer:
      // a few percent of the output range at most on these small random models.
      let scale = expected.scalars.map(abs).max() ?? 1
      let worst = zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(worst <= 0.05 * scale, "\(name): max difference \(worst) for outputs up to \(scale)")
    }
  }

  @Test func int8FileRoundTripIsExactAndSmall() throws {
    var rng = RandomGenerator(seed: 1)
    let model = Models.lenet5(inputSize: 16, rng: &rng)
    let program = try Compiler.compile(model, inputShape: [1, 16, 16], options: CompileOptions(quantizeAll: .int8()))
    let dense = try Compiler.compile(model, inputShape: [1, 16, 16], options: CompileOptions(choice: .fixed(.dense)))
    let path = PackedModelFileTests.temporaryPath("int8"), densePath = PackedModelFileTests.temporaryPath("f32")
    defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: densePath) }
    try program.write(to: path)
    try dense.write(to: densePath)
    let loaded = try InferenceProgram.read(path: path)
    let x = randomTensor([2, 1, 16, 16], seed: 3)
    #expect(try loaded.run(x) == program.run(x))
    let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
    let denseBytes = try FileManager.default.attributesOfItem(atPath: densePath)[.size] as! Int
    // One byte per weight instead of four, plus scales, biases and the header.
    #expect(Double(bytes) < 0.32 * Double(denseBytes), "int8 \(bytes) B vs fp32 \(denseBytes) B")
  }

  @Test func sparseInt8ProgramIsCloseAndItsFileIsSmall() throws {
    var rng = RandomGenerator(seed: 4)
    let model = Models.lenet5(inputSize: 16, rng: &rng)
    _ = try Pruning.magnitude(model, sparsity: 0.9, global: false)
    let program = try Compiler.compile(
      model, inputShape: [1, 16, 16], options: CompileOptions(formats: [:], choice: .fixed(.dense), quantizeAll: .int8()))
    // A fixed choice takes the sparse int8 format for layers at most 30% dense.
    #expect(program.layers.allSatisfy { $0.format == .csrInt8 }, "\(program.layers.map(\.format))")
    let x = randomTensor([3, 1, 16, 16], seed: 5)
    let expected = model.forward(x, ForwardContext(training: false))
    let y = try program.run(x)
    // Weight-only int8 (activations stay Float32): within 2% of the output range.
    let scale = expected.scalars.map(abs).max() ?? 1
    #expect(zip(y.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= 0.02 * scale })
    let roundTrip = PackedModelFileTests.temporaryPath("csr8-lenet")
    defer { try? FileManager.default.removeItem(atPath: roundTrip) }
    try program.write(to: roundTrip)
    #expect(try InferenceProgram.read(path: roundTrip).run(x) == y)
    // File size on a model large enough that the header does not dominate (~100k weights).
    let mlp = Models.mlp(inputs: 256, hidden: [256, 128], classes: 10, rng: &rng)
    _ = try Pruning.magnitude(mlp, sparsity: 0.9, global: false)
    let sparseMLP = try Compiler.compile(mlp, inputShape: [256], options: CompileOptions(choice: .fixed(.dense), quantizeAll: .int8()))
    let dense = try Compiler.compile(mlp, inputShape: [256], options: CompileOptions(choice: .fixed(.dense)))
    let path = PackedModelFileTests.temporaryPath("csr8"), densePath = PackedModelFileTests.temporaryPath("d")
    defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: densePath) }
    try sparseMLP.write(to: path)
    try dense.write(to: densePath)
    let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
    let denseBytes = try FileManager.default.attributesOfItem(atPath: densePath)[.size] as! Int
    // 10% of the weights at 3 bytes (code + 2-byte index) instead of 4: under 12% of the file.
    #expect(Double(bytes) < 0.12 * Double(denseBytes), "sparse int8 \(bytes) B vs fp32 \(denseBytes) B")
  }

  @Test func schemesWithoutAKernelAreRejectedByLayer() throws {
    var rng = RandomGenerator(seed: 2)
    let model = Models.mlp(inputs: 8, hidden: [4], classes: 2, rng: &rng)
    #expect(throws: RuntimeError.self) {
      try Compiler.compile(model, inputShape: [8], options: CompileOptions(quantization: ["fc1": .fp8(.e4m3fn)]))
    }
    do {
      _ = try Compiler.compile(model, inputShape: [8], options: CompileOptions(quantization: ["fc2": .int8(symmetric: false)]))
      Issue.record("asymmetric int8 weights compiled")
    } catch let error as RuntimeError {
      #expect(error.description.contains("fc2"))
    }
    #expect(throws: RuntimeError.unknownLayer("fc7", known: ["fc1", "fc2"])) {
      try Compiler.compile(model, inputShape: [8], options: CompileOptions(quantization: ["fc7": .int8()]))
    }
  }
}
