import Foundation
import Testing
import WinnowCore

/// Decodes `bytes` under `name`, expecting a `FormatError` whose description starts with `name`.
private func decodeError(
  _ bytes: [UInt8], name: String = "bad-idx3-ubyte", sourceLocation: SourceLocation = #_sourceLocation
) -> FormatError? {
  let error = #expect(throws: FormatError.self, sourceLocation: sourceLocation) {
    try IDXArray.decode(bytes, name: name)
  }
  #expect(error?.description.hasPrefix(name + ": ") == true, sourceLocation: sourceLocation)
  return error
}

@Suite struct IDXTests {
  /// Two 2×3 "images" of bytes 0...11, as MNIST stores pixels.
  static let images = IDXArray(elementType: .uint8, shape: [2, 2, 3], values: (0..<12).map { Float($0 * 21) })

  /// The exact bytes MNIST's label files start with: magic, u8, rank 1, then the count.
  @Test func encodesMNISTLayout() {
    let labels = IDXArray(elementType: .uint8, shape: [3], values: [7, 2, 1])
    #expect(labels.encode() == [0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1])
  }

  @Test func uint8RoundTrip() throws {
    let read = try IDXArray.decode(Self.images.encode(), name: "images")
    #expect(read == Self.images)
    #expect(read.tensor.shape == [2, 2, 3])
    #expect(read.tensor[1, 1, 2] == 11 * 21)
  }

  @Test func float32RoundTripIsBitExact() throws {
    var rng = RandomGenerator(seed: 7)
    let values = (0..<24).map { _ in rng.nextNormal() } + [-0.0, .infinity]
    let array = IDXArray(elementType: .float32, shape: [2, 13], values: values)
    let bytes = array.encode()
    #expect(bytes.count == 4 + 2 * 4 + 26 * 4)
    #expect(Array(bytes[12..<16]) == withUnsafeBytes(of: values[0].bitPattern.bigEndian) { Array($0) }, "big-endian")
    #expect(try IDXArray.decode(bytes, name: "floats") == array)
  }

  @Test(arguments: [IDXArray.ElementType.int8, .int16, .int32, .float64])
  func otherTypesRoundTrip(type: IDXArray.ElementType) throws {
    let array = IDXArray(elementType: type, shape: [4, 1], values: [-100, 0, 1, 127])
    let read = try IDXArray.decode(array.encode(), name: "typed")
    #expect(read == array)
  }

  /// The reader gunzips by magic, whatever the file is called.
  @Test func readsPlainAndGzippedFiles() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-idx-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try writeFileAtomically(Self.images.encode(), to: directory + "/images-idx3-ubyte")
    try writeFileAtomically(Gzip.compress(Self.images.encode()), to: directory + "/images-idx3-ubyte.gz")
    try writeFileAtomically(Gzip.compress(Self.images.encode()), to: directory + "/no-extension")
    for name in ["images-idx3-ubyte", "images-idx3-ubyte.gz", "no-extension"] {
      #expect(try IDXArray.read(path: directory + "/" + name) == Self.images, "\(name)")
    }
  }

  // MARK: - Malformed files, one problem each

  @Test func truncatedData() {
    let bytes = Array(Self.images.encode().dropLast(5))
    #expect(decodeError(bytes) == .truncated(file: "bad-idx3-ubyte", expected: 28, actual: 23))
  }

  @Test func truncatedDimensions() {
    #expect(decodeError([0, 0, 0x08, 3, 0, 0, 0, 2]) == .truncated(file: "bad-idx3-ubyte", expected: 16, actual: 8))
  }

  @Test func badMagic() {
    var bytes = Self.images.encode()
    bytes[0] = 0x50  // e.g. a PNG or text file
    guard case .corrupt(file: "bad-idx3-ubyte", let reason) = decodeError(bytes) else {
      Issue.record("expected .corrupt"); return
    }
    #expect(reason.contains("0x50 0x00"))
  }

  @Test func unknownElementType() {
    guard case .corrupt = decodeError([0, 0, 0x07, 1, 0, 0, 0, 0]) else { Issue.record("expected .corrupt"); return }
  }

  @Test(arguments: [0, 9, 255])
  func unsupportedRank(rank: Int) {
    guard case .corrupt(_, let reason) = decodeError([0, 0, 0x08, UInt8(rank)] + Array(repeating: 0, count: 40))
    else { Issue.record("expected .corrupt"); return }
    #expect(reason.contains("rank \(rank)"))
  }

  /// 0xffffffff⁸ overflows Int; the reader must say so rather than trap.
  @Test func extentProductOverflow() {
    let bytes: [UInt8] = [0, 0, 0x0E, 8] + Array(repeating: 0xff, count: 32)
    guard case .corrupt = decodeError(bytes) else { Issue.record("expected .corrupt"); return }
  }

  @Test func trailingBytes() {
    let bytes = Self.images.encode() + [1, 2, 3]
    #expect(decodeError(bytes) == .trailingBytes(file: "bad-idx3-ubyte", expected: 28, actual: 31))
  }

  @Test func truncatedGzipFile() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-idx-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/train-images-idx3-ubyte.gz"
    let large = IDXArray(elementType: .uint8, shape: [100, 28, 28], values: (0..<78_400).map { Float($0 % 251) })
    try writeFileAtomically(Array(Gzip.compress(large.encode()).dropLast(50)), to: path)
    let error = #expect(throws: FormatError.self) { try IDXArray.read(path: path) }
    guard case .corrupt(file: path, let reason) = error else {
      Issue.record("expected .corrupt naming the path, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("truncated"))
    #expect(error?.description.hasPrefix(path) == true)
  }
}
