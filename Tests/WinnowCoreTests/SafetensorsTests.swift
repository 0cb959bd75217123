import Foundation
import Testing
import WinnowCore

/// A safetensors file from a literal JSON header and data section, for malformed input.
private func safetensors(header: String, data: [UInt8] = []) -> [UInt8] {
  let json = Array(header.utf8)
  return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) } + json + data
}

/// Little-endian bytes of Float32 values.
private func float32Bytes(_ values: [Float]) -> [UInt8] {
  values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
}

/// Same shape and the same bits (so -0 differs from 0), except that any NaN matches any NaN.
private func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

/// Decodes `bytes` under `name`, expecting a `FormatError` whose description starts with `name`.
private func decodeError(
  _ bytes: [UInt8], name: String = "bad.safetensors", sourceLocation: SourceLocation = #_sourceLocation
) -> FormatError? {
  let error = #expect(throws: FormatError.self, sourceLocation: sourceLocation) {
    try SafetensorsFile.decode(bytes, name: name)
  }
  #expect(error?.description.hasPrefix(name + ": ") == true, sourceLocation: sourceLocation)
  return error
}

@Suite struct SafetensorsTests {
  /// Several tensors, including rank 0, zero-size and special values, plus metadata that
  /// needs JSON escaping.
  static func sampleFile() -> SafetensorsFile {
    var rng = RandomGenerator(seed: 42)
    return SafetensorsFile(
      tensors: [
        "fc1.weight": .randomNormal([3, 4], using: &rng),
        "fc1.bias": Tensor([0.5, -0.0, .infinity, -.leastNonzeroMagnitude]),
        "scale": Tensor(7.25),
        "empty": Tensor(shape: [0, 5], scalars: []),
        "also.empty": Tensor(shape: [2, 0, 3], scalars: []),
        "nan": Tensor([.nan, 1]),
      ],
      metadata: ["format": "pt", "note": "ünïcode \"quoted\"\n\t\u{1}"])
  }

  static func expectSameContents(_ read: SafetensorsFile, _ written: SafetensorsFile) {
    #expect(read.metadata == written.metadata)
    #expect(Set(read.tensors.keys) == Set(written.tensors.keys))
    for (name, tensor) in written.tensors {
      #expect(read.tensors[name]?.shape == tensor.shape, "shape of \(name)")
      #expect(sameBits(read.tensors[name]?.scalars ?? [], tensor.scalars), "values of \(name)")
    }
  }

  @Test func roundTripInMemoryIsBitExact() throws {
    let file = Self.sampleFile()
    let read = try SafetensorsFile.decode(file.encode(), name: "memory.safetensors")
    Self.expectSameContents(read, file)
    #expect(read.source == "memory.safetensors")
  }

  @Test func encodingIsDeterministicAndAligned() throws {
    let bytes = Self.sampleFile().encode()
    #expect(bytes == Self.sampleFile().encode())
    let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
    #expect(headerLength % 8 == 0, "data section must start 8-byte aligned")
    #expect(Self.sampleFile().names == ["also.empty", "empty", "fc1.bias", "fc1.weight", "nan", "scale"])
  }

  /// Also writes the file for `make_safetensors_fixture.py --check` when
  /// `WINNOW_SAFETENSORS_OUT` names a path.
  @Test func roundTripThroughFile() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-safetensors-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/model.safetensors"
    let file = Self.sampleFile()
    try file.write(path: path)
    try file.write(path: path)  // replacing an existing file works too
    Self.expectSameContents(try SafetensorsFile.read(path: path), file)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"],
            "the temporary file is renamed, not left behind")

    if let out = ProcessInfo.processInfo.environment["WINNOW_SAFETENSORS_OUT"] {
      var reference = file
      reference.tensors["nan"] = nil  // keep the printout comparable by eye
      // One key, since the reference writer orders several arbitrarily; escapes as in JSON.
      reference.metadata = ["note": "ünïcode \"quoted\" back\\slash\n\t\u{1}"]
      reference.tensors["name \"with\" ünïcode"] = Tensor([1, 2])
      try reference.write(path: out)
    }
  }

  @Test func readingMissingFileNamesIt() {
    let error = #expect(throws: FormatError.self) { try SafetensorsFile.read(path: "/nonexistent/dir/x.safetensors") }
    guard case .io(file: "/nonexistent/dir/x.safetensors", let reason) = error else {
      Issue.record("expected .io, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("No such file"))
  }

  @Test func writingIntoMissingDirectoryFails() {
    let error = #expect(throws: FormatError.self) {
      try SafetensorsFile().write(path: "/nonexistent/dir/x.safetensors")
    }
    #expect(error?.file == "/nonexistent/dir/x.safetensors")
  }

  /// Oracle: `tensor.float()` in PyTorch on a file written by `safetensors.torch.save_file`
  /// (generated by Utilities/Reference/make_safetensors_fixture.py). Conversions are exact,
  /// so bits must match.
  @Test func readsFileWrittenByPyTorch() throws {
    let file = try SafetensorsFile.decode(TorchWrittenSafetensors.bytes, name: "torch_written.safetensors")
    #expect(file.metadata == TorchWrittenSafetensors.metadata)
    #expect(Set(file.tensors.keys) == Set(TorchWrittenSafetensors.expected.keys))
    for (name, expected) in TorchWrittenSafetensors.expected {
      let tensor = try file.tensor(named: name, shape: expected.shape)
      #expect(sameBits(tensor.scalars, expected.values), "\(name): \(tensor.scalars) vs \(expected.values)")
    }
  }

  /// Hand-built bytes for the dtypes the PyTorch fixture lacks, at an unaligned offset.
  @Test func convertsOtherDTypes() throws {
    let header = """
      {"u8":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},
       "f64":{"dtype":"F64","shape":[1],"data_offsets":[2,10]},
       "i8":{"dtype":"I8","shape":[2],"data_offsets":[10,12]},
       "i32":{"dtype":"I32","shape":[1],"data_offsets":[12,16]},
       "flag":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]}}
      """
    let f64: [UInt8] = [0, 0, 0, 0, 0, 0, 0xf8, 0xbf]  // -1.5
    let data: [UInt8] = [0, 255] + f64 + [0x80, 0x7f] + [0xfe, 0xff, 0xff, 0xff] + [0, 1, 1]
    let file = try SafetensorsFile.decode(safetensors(header: header, data: data), name: "types")
    #expect(file.tensors["u8"]?.scalars == [0, 255])
    #expect(file.tensors["f64"]?.scalars == [-1.5])
    #expect(file.tensors["i8"]?.scalars == [-128, 127])
    #expect(file.tensors["i32"]?.scalars == [-2])
    #expect(file.tensors["flag"]?.scalars == [0, 1, 1])
  }

  @Test func lookupChecksNameAndShape() throws {
    let file = Self.sampleFile()
    #expect(try file.tensor(named: "fc1.weight", shape: [3, 4]).shape == [3, 4])
    #expect(throws: FormatError.missingTensor(file: "(in memory)", tensor: "fc2.weight")) {
      try file.tensor(named: "fc2.weight")
    }
    let wrongShape = FormatError.shapeMismatch(
      file: "(in memory)", tensor: "fc1.weight", expected: [4, 3], actual: [3, 4])
    #expect(throws: wrongShape) {
      try file.tensor(named: "fc1.weight", shape: [4, 3])
    }
  }

  @Test func descriptionIsOneReadableLine() {
    let error = FormatError.offsetsOutOfBounds(
      file: "model.safetensors", tensor: "fc1.weight", begin: 0, end: 4096, dataSize: 2048)
    #expect(error.description
      == "model.safetensors: tensor 'fc1.weight' has byte range 0..<4096 past the end of the data (2048 bytes)")
  }

  // MARK: - Malformed files, one problem each

  @Test func fileShorterThanLengthField() {
    #expect(decodeError([1, 0, 0]) == .truncated(file: "bad.safetensors", expected: 8, actual: 3))
  }

  @Test func headerLengthPastEndOfFile() {
    var bytes = safetensors(header: "{}", data: Array(repeating: 0, count: 10))
    bytes[0] = 100
    #expect(decodeError(bytes) == .truncated(file: "bad.safetensors", expected: 108, actual: 20))
  }

  @Test func absurdHeaderLength() {
    let bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x80] + Array("{}".utf8)
    guard case .limitExceeded(file: "bad.safetensors", what: "header", _, limit: 100_000_000) = decodeError(bytes)
    else { Issue.record("expected .limitExceeded"); return }
  }

  @Test func offsetsPastEndOfData() {
    let bytes = safetensors(
      header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0])
    #expect(decodeError(bytes)
      == .offsetsOutOfBounds(file: "bad.safetensors", tensor: "w", begin: 0, end: 8, dataSize: 4))
  }

  @Test func unknownDType() {
    let bytes = safetensors(header: #"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0])
    #expect(decodeError(bytes) == .unsupportedDType(file: "bad.safetensors", tensor: "w", dtype: "F8_E4M3"))
  }

  @Test func overlappingTensors() {
    let header = """
      {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
       "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
      """
    let bytes = safetensors(header: header, data: float32Bytes([1, 2, 3]))
    #expect(decodeError(bytes) == .overlappingTensors(file: "bad.safetensors", first: "a", second: "b"))
  }

  /// Empty tensors own no bytes, so one inside another's range is not an overlap.
  @Test func emptyTensorInsideAnotherIsFine() throws {
    let header = """
      {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
       "e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}
      """
    let file = try SafetensorsFile.decode(safetensors(header: header, data: float32Bytes([1, 2])), name: "ok")
    #expect(file.tensors["e"]?.shape == [0])
  }

  @Test func headerIsNotJSON() {
    let bytes = safetensors(header: #"{"w": {"dtype": "F32", "#)
    #expect(decodeError(bytes) == .corrupt(file: "bad.safetensors", reason: "header is not valid JSON"))
  }

  @Test func headerIsNotAnObject() {
    #expect(decodeError(safetensors(header: "[1, 2]"))
      == .corrupt(file: "bad.safetensors", reason: "header is not a JSON object"))
  }

  @Test func byteLengthDoesNotMatchShape() {
    let bytes = safetensors(
      header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: float32Bytes([1, 2]))
    #expect(decodeError(bytes) == .byteCountMismatch(file: "bad.safetensors", tensor: "w", expected: 12, actual: 8))
  }

  @Test(arguments: [
    #""not an object""#,
    #"{"shape":[1],"data_offsets":[0,4]}"#,
    #"{"dtype":4,"shape":[1],"data_offsets":[0,4]}"#,
    #"{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}"#,
    #"{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}"#,
    #"{"dtype":"F32","shape":[true],"data_offsets":[0,4]}"#,
    #"{"dtype":"F32","shape":"1","data_offsets":[0,4]}"#,
    #"{"dtype":"F32","shape":[1]}"#,
    #"{"dtype":"F32","shape":[1],"data_offsets":[4,0]}"#,
    #"{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}"#,
    #"{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}"#,
    #"{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}"#,
  ])
  func malformedEntryNamesTensor(entry: String) {
    let error = decodeError(safetensors(header: #"{"layer.w":"# + entry + "}", data: [0, 0, 0, 0]))
    guard case .invalidTensorEntry(file: "bad.safetensors", tensor: "layer.w", _) = error else {
      Issue.record("expected .invalidTensorEntry for \(entry), got \(String(describing: error))")
      return
    }
  }

  @Test func metadataValueMustBeString() {
    let bytes = safetensors(header: #"{"__metadata__":{"epoch":3}}"#)
    guard case .corrupt(file: "bad.safetensors", let reason) = decodeError(bytes) else {
      Issue.record("expected .corrupt"); return
    }
    #expect(reason.contains("epoch"))
  }
}
