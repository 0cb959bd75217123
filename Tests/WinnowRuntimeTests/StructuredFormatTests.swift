import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowRuntime
import WinnowTestSupport

/// N:M, int4 and binary layers in compiled programs.
@Suite struct StructuredFormatTests {
  static func mlp(seed: UInt64) -> Layer {
    var rng = RandomGenerator(seed: seed)
    return Models.mlp(inputs: 64, hidden: [64, 32], classes: 10, rng: &rng)
  }

  static func roundTrip(_ program: InferenceProgram, _ x: Tensor, name: String) throws {
    let path = PackedModelFileTests.temporaryPath(name)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try program.write(to: path)
    #expect(try InferenceProgram.read(path: path).run(x) == program.run(x), "\(name) round trip")
  }

  @Test func twoFourProgramEqualsTheModelAndIsChosenByMeasurement() throws {
    let model = Self.mlp(seed: 1)
    _ = try Pruning.apply(.nm(n: 2, m: 4, names: ["fc1.weight", "fc2.weight", "fc3.weight"]), to: model)
    let program = try Compiler.compile(model, inputShape: [64], options: CompileOptions(choice: .fixed(.nm(n: 2, m: 4))))
    let x = randomTensor([5, 64], seed: 2)
    let expected = model.forward(x, ForwardContext(training: false))
    #expect(allClose(try program.run(x), expected, rtol: 1e-4, atol: 1e-5))
    try Self.roundTrip(program, x, name: "nm")
    let measured = try Compiler.compile(model, inputShape: [64], options: CompileOptions(choice: .fastest(batch: 4)))
    #expect(measured.layers.allSatisfy { $0.timings.contains { $0.format == .nm(n: 2, m: 4) } }, "2:4 was not among the candidates")
  }

  @Test func nmFormatRefusesWeightsThatBreakThePattern() throws {
    let model = Self.mlp(seed: 3)
    do {
      _ = try Compiler.compile(model, inputShape: [64], options: CompileOptions(formats: ["fc2": .nm(n: 2, m: 4)]))
      Issue.record("dense weights packed as 2:4")
    } catch let error as RuntimeError {
      #expect(error.description.contains("fc2"), "\(error)")
    }
  }

  @Test func int4ProgramIsCloseToTheModel() throws {
    let model = Self.mlp(seed: 4)
    let program = try Compiler.compile(model, inputShape: [64], options: CompileOptions(quantizeAll: .grouped(bits: 4, groupSize: 32)))
    #expect(program.layers.allSatisfy { $0.format == .int4(groupSize: 32) })
    let x = randomTensor([3, 64], seed: 5)
    let expected = model.forward(x, ForwardContext(training: false))
    let y = try program.run(x)
    // 4-bit weights in groups of 32 (activations exact): within 15% of the output range.
    let scale = expected.scalars.map(abs).max() ?? 1
    #expect(zip(y.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= 0.15 * scale })
    try Self.roundTrip(program, x, name: "int4")
    // The group must divide the rows: 10 inputs cannot form groups of 32.
    var rng = RandomGenerator(seed: 6)
    let small = Models.mlp(inputs: 10, hidden: [4], classes: 2, rng: &rng)
    #expect(throws: RuntimeError.self) {
      try Compiler.compile(small, inputShape: [10], options: CompileOptions(quantizeAll: .grouped(bits: 4, groupSize: 32)))
    }
  }

  @Test func binaryProgramRunsAndRoundTrips() throws {
    let model = Self.mlp(seed: 7)
    let program = try Compiler.compile(model, inputShape: [64], options: CompileOptions(quantization: ["fc2": .binary]))
    #expect(program.layers.map(\.format) == [.dense, .binary, .dense] || program.layers[1].format == .binary)
    let x = randomTensor([4, 64], seed: 8)
    #expect(try program.run(x).shape == [4, 10])
    try Self.roundTrip(program, x, name: "binary")
    #expect(program.densified() != nil)
  }
}
