import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowRuntime
import WinnowTestSupport

/// The packed model file: round trips, shrinks with sparsity, and rejects damage.
@Suite struct PackedModelFileTests {
  static func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("winnow-\(name)-\(UInt64.random(in: 0...UInt64.max)).winnow").path
  }

  static func compiledLeNet(sparsity: Double, format: WeightFormat) throws -> (Layer, InferenceProgram) {
    var rng = RandomGenerator(seed: 8)
    let model = Models.lenet5(inputSize: 16, rng: &rng)
    if sparsity > 0 { _ = try Pruning.magnitude(model, sparsity: sparsity, global: false) }
    return (model, try Compiler.compile(model, inputShape: [1, 16, 16], options: CompileOptions(choice: .fixed(format))))
  }

  @Test(arguments: ["dense", "csr", "bsr4x1"])
  func roundTripGivesTheSameOutputs(format: String) throws {
    let (_, program) = try Self.compiledLeNet(sparsity: 0.8, format: try WeightFormat(parsing: format))
    let path = Self.temporaryPath(format)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try program.write(to: path)
    let loaded = try InferenceProgram.read(path: path)
    #expect(loaded.layers.map(\.name) == program.layers.map(\.name))
    #expect(loaded.layers.map(\.format) == program.layers.map(\.format))
    let x = randomTensor([3, 1, 16, 16], seed: 4)
    // Same arrays, same kernels: bit-identical.
    #expect(try loaded.run(x) == program.run(x))
  }

  @Test func sparseFileIsSmallerByAboutItsDensity() throws {
    let (_, dense) = try Self.compiledLeNet(sparsity: 0, format: .dense)
    let (_, sparse) = try Self.compiledLeNet(sparsity: 0.9, format: .csr)
    let densePath = Self.temporaryPath("dense"), sparsePath = Self.temporaryPath("sparse")
    defer { try? FileManager.default.removeItem(atPath: densePath); try? FileManager.default.removeItem(atPath: sparsePath) }
    try dense.write(to: densePath)
    try sparse.write(to: sparsePath)
    let denseBytes = try FileManager.default.attributesOfItem(atPath: densePath)[.size] as! Int
    let sparseBytes = try FileManager.default.attributesOfItem(atPath: sparsePath)[.size] as! Int
    // 10% of the weights at 6 bytes each (value + 2-byte index) instead of 4, plus offsets,
    // biases and the header: well under a quarter of the dense file.
    #expect(Double(sparseBytes) < 0.25 * Double(denseBytes), "sparse \(sparseBytes) B vs dense \(denseBytes) B")
  }

  @Test func truncatedOrDamagedFilesAreRejectedWithTheirPath() throws {
    let (_, program) = try Self.compiledLeNet(sparsity: 0.5, format: .csr)
    let path = Self.temporaryPath("good")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try program.write(to: path)
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let bad = Self.temporaryPath("bad")
    defer { try? FileManager.default.removeItem(atPath: bad) }
    // Every cut in the length prefix, then a spread of cuts through the header and the data.
    let cuts = Array(0..<16) + stride(from: 16, to: bytes.count, by: max(1, bytes.count / 80))
    for cut in cuts {
      try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: bad))
      #expect(throws: (any Error).self, "truncated at \(cut)") { try InferenceProgram.read(path: bad) }
    }
  }

  @Test func hostileProgramsAreRejected() throws {
    let (_, program) = try Self.compiledLeNet(sparsity: 0.5, format: .csr)
    let path = Self.temporaryPath("edit")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try program.write(to: path)
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
    let data = Array(bytes[(8 + length)...])
    // Each edit breaks one promise of the program JSON (escaped inside the metadata string).
    let edits: [(String, String)] = [
      (#"\"outputSlot\":"#, #"\"outputSlot\":9"#),  // a slot that is never written
      (#"\"inputFeatures\":"#, #"\"inputFeatures\":1"#),  // weights that do not fit the geometry
      (#"\"format\":\"csr\""#, #"\"format\":\"bsr4x1\""#),  // arrays of another format
      (#"\"perBatch\":["#, #"\"perBatch\":[7,"#),  // a reshape that no longer fits
      (#"\"layer\":1"#, #"\"layer\":99"#),  // a layer that does not exist
    ]
    for (find, replace) in edits {
      #expect(header.contains(find), "the header has no \(find)")
      let edited = Array(header.replacingOccurrences(of: find, with: replace).utf8)
      var damaged: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: edited.count >> (8 * $0)) }
      damaged += edited + data
      try Data(damaged).write(to: URL(fileURLWithPath: path))
      #expect(throws: RuntimeError.self, "edit \(replace)") { try InferenceProgram.read(path: path) }
    }
  }

  @Test func wrongFormatTagIsRejected() throws {
    let path = Self.temporaryPath("plain")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try SafetensorsFile(tensors: ["w": Tensor.zeros([2])]).write(path: path)
    #expect(throws: RuntimeError.self) { try InferenceProgram.read(path: path) }
  }
}
