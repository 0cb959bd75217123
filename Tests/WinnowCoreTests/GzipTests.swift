import Testing
import WinnowCore

@Suite struct GzipTests {
  /// Bytes that are partly random and partly repetitive, so deflate has work of both kinds.
  static func sample(count: Int, seed: UInt64) -> [UInt8] {
    var rng = RandomGenerator(seed: seed)
    return (0..<count).map { i in i % 3 == 0 ? UInt8(i % 7) : UInt8(truncatingIfNeeded: rng.next()) }
  }

  /// Sizes around the 64 KiB chunk used inside `Gzip`, plus empty and tiny inputs.
  @Test(arguments: [0, 1, 100, 65_535, 65_536, 65_537, 300_000])
  func roundTrip(count: Int) throws {
    let data = Self.sample(count: count, seed: UInt64(count))
    let compressed = Gzip.compress(data)
    #expect(Gzip.isGzip(compressed))
    #expect(try Gzip.decompress(compressed, name: "sample.gz") == data)
  }

  @Test func isGzipLooksOnlyAtMagic() {
    #expect(Gzip.isGzip([0x1f, 0x8b]))
    #expect(!Gzip.isGzip([0x1f]))
    #expect(!Gzip.isGzip([0x00, 0x00, 0x08, 0x01]))
  }

  /// `cat a.gz b.gz > ab.gz` is a valid gzip file that `gzip -d` expands to both parts.
  @Test func concatenatedMembersDecompressToConcatenation() throws {
    let first = Self.sample(count: 1000, seed: 1)
    let second = Self.sample(count: 70_000, seed: 2)
    let joined = Gzip.compress(first) + Gzip.compress(second) + Gzip.compress([])
    #expect(try Gzip.decompress(joined, name: "ab.gz") == first + second)
  }

  /// Some tools pad gzip files with zeros to a block size; `gzip -d` ignores them.
  @Test func zeroPaddingAfterStreamIsIgnored() throws {
    let data = Self.sample(count: 500, seed: 3)
    let padded = Gzip.compress(data) + [UInt8](repeating: 0, count: 512)
    #expect(try Gzip.decompress(padded, name: "padded.gz") == data)
  }

  /// `zlib.compress(b"hello")` from Python: the zlib wrapper is detected as well as gzip.
  @Test func zlibStreamIsDetected() throws {
    let zlibHello: [UInt8] = [0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15]
    #expect(try Gzip.decompress(zlibHello, name: "hello.z") == Array("hello".utf8))
  }

  @Test func truncatedStreamThrows() {
    let compressed = Gzip.compress(Self.sample(count: 10_000, seed: 4))
    let cut = Array(compressed.dropLast(100))
    let error = #expect(throws: FormatError.self) { try Gzip.decompress(cut, name: "cut.gz") }
    guard case .corrupt(let file, let reason) = error else {
      Issue.record("expected .corrupt, got \(String(describing: error))")
      return
    }
    #expect(file == "cut.gz")
    #expect(reason.contains("truncated"))
    #expect(error?.description.hasPrefix("cut.gz: ") == true)
  }

  /// Only the 8-byte trailer missing: all data inflates but the stream never ends.
  @Test func missingTrailerThrows() {
    let compressed = Gzip.compress(Self.sample(count: 1000, seed: 5))
    #expect(throws: FormatError.self) { try Gzip.decompress(Array(compressed.dropLast(8)), name: "x.gz") }
  }

  @Test func garbageThrows() {
    let error = #expect(throws: FormatError.self) { try Gzip.decompress(Array("plain text".utf8), name: "notes.txt") }
    guard case .corrupt(file: "notes.txt", _) = error else {
      Issue.record("expected .corrupt naming notes.txt, got \(String(describing: error))")
      return
    }
  }

  @Test func emptyInputThrows() {
    let error = #expect(throws: FormatError.self) { try Gzip.decompress([], name: "empty.gz") }
    #expect(error?.file == "empty.gz")
  }

  @Test func bytesAfterStreamThrow() {
    let data = Gzip.compress(Self.sample(count: 100, seed: 6)) + Array("junk".utf8)
    let error = #expect(throws: FormatError.self) { try Gzip.decompress(data, name: "junk.gz") }
    guard case .corrupt(file: "junk.gz", let reason) = error else {
      Issue.record("expected .corrupt, got \(String(describing: error))")
      return
    }
    #expect(reason.contains("4 unexpected bytes"))
  }

  /// A megabyte of zeros compresses to about 1 KB: the output cap must stop it, not memory.
  @Test func outputLimitStopsBombs() {
    let bomb = Gzip.compress([UInt8](repeating: 0, count: 1 << 20))
    #expect(bomb.count < 2000)
    let error = #expect(throws: FormatError.self) { try Gzip.decompress(bomb, name: "bomb.gz", limit: 100_000) }
    guard case .limitExceeded(file: "bomb.gz", _, let size, limit: 100_000) = error else {
      Issue.record("expected .limitExceeded, got \(String(describing: error))")
      return
    }
    #expect(size > 100_000)
    #expect(error?.description.contains("bomb.gz") == true)
  }

  @Test func exactLimitIsAllowed() throws {
    let data = Self.sample(count: 4096, seed: 7)
    #expect(try Gzip.decompress(Gzip.compress(data), name: "x.gz", limit: 4096) == data)
  }
}
