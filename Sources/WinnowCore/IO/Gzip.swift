import CZlib

/// gzip (RFC 1952) and zlib (RFC 1950) streams, through the system zlib.
///
/// Data sets such as MNIST ship as `.gz` files; ``decompress(_:name:limit:)`` accepts either
/// wrapper, several gzip members one after another (what `cat a.gz b.gz` makes), and zero
/// padding after the last member (which `gzip -d` also tolerates). It refuses to produce more
/// than `limit` bytes, so a small hostile file ("zip bomb") cannot exhaust memory.
public enum Gzip {
  /// The default cap on decompressed size: 4 GiB, far above any data set Winnow reads.
  public static let defaultOutputLimit = 1 << 32

  /// Whether `data` starts with the gzip magic bytes `1f 8b`.
  public static func isGzip(_ data: [UInt8]) -> Bool {
    data.count >= 2 && data[0] == 0x1f && data[1] == 0x8b
  }

  /// The bytes compressed in `data`, a gzip or zlib stream (detected from its header).
  ///
  /// - Parameters:
  ///   - name: the file the data came from, for error messages.
  ///   - limit: the most bytes to produce.
  /// - Throws: ``FormatError/corrupt(file:reason:)`` for a damaged, truncated or unknown
  ///   stream; ``FormatError/limitExceeded(file:what:size:limit:)`` past `limit`.
  public static func decompress(
    _ data: [UInt8], name: String, limit: Int = defaultOutputLimit
  ) throws(FormatError) -> [UInt8] {
    guard !data.isEmpty else { throw .corrupt(file: name, reason: "empty file, not a gzip stream") }
    let result = data.withUnsafeBufferPointer { input in
      Result { () throws(FormatError) -> [UInt8] in try inflateAll(input, name: name, limit: limit) }
    }
    return try result.get()
  }

  /// `data` as a single gzip member at zlib's default level (6).
  public static func compress(_ data: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    let status = deflateInit2_(
      &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
      zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    precondition(status == Z_OK, "zlib deflateInit2 failed with status \(status)")
    defer { deflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    data.withUnsafeBufferPointer { input in
      var position = 0
      var status = Z_OK
      while status != Z_STREAM_END {
        feed(input, at: &position, into: &stream)
        let flush = position == input.count ? Z_FINISH : Z_NO_FLUSH
        status = run(&stream, into: &chunk) { deflate(&$0, flush) }
        precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR,
                     "zlib deflate failed with status \(status)")
        output.append(contentsOf: chunk[..<(chunk.count - Int(stream.avail_out))])
      }
    }
    return output
  }

  /// Inflates every member of `input` into one array.
  private static func inflateAll(
    _ input: UnsafeBufferPointer<UInt8>, name: String, limit: Int
  ) throws(FormatError) -> [UInt8] {
    var stream = z_stream()
    // windowBits 15 + 32: largest window, and detect a gzip or zlib header automatically.
    guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw .corrupt(file: name, reason: "zlib could not start decompressing") }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    output.reserveCapacity(sizeHint(input, limit: limit))
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var position = 0
    while true {
      feed(input, at: &position, into: &stream)
      let status = run(&stream, into: &chunk) { inflate(&$0, Z_NO_FLUSH) }
      let produced = chunk.count - Int(stream.avail_out)
      guard output.count + produced <= limit else {
        throw .limitExceeded(
          file: name, what: "decompressed data", size: output.count + produced, limit: limit)
      }
      output.append(contentsOf: chunk[..<produced])
      switch status {
      case Z_OK:
        continue
      case Z_STREAM_END:
        let rest = input.count - position + Int(stream.avail_in)
        let next = input[(input.count - rest)...]
        if next.allSatisfy({ $0 == 0 }) { return output }
        guard next.starts(with: [0x1f, 0x8b]) else {
          throw .corrupt(file: name, reason: "\(rest) unexpected bytes after the end of the gzip stream")
        }
        inflateReset(&stream)  // keeps next_in, so the next member starts where this one ended
      case Z_BUF_ERROR:
        // No progress with fresh output space means the input ran out mid-stream.
        throw .corrupt(
          file: name, reason: "compressed stream is truncated (ends after \(input.count) bytes)")
      default:
        let detail = stream.msg.map { ": " + String(cString: $0) } ?? ""
        throw .corrupt(file: name, reason: "not a valid gzip or zlib stream\(detail)")
      }
    }
  }

  /// Points the stream at the next piece of `input` once it has used up the last one.
  /// Pieces are at most `UInt32.max` bytes because `avail_in` is 32 bits wide.
  private static func feed(
    _ input: UnsafeBufferPointer<UInt8>, at position: inout Int, into stream: inout z_stream
  ) {
    guard stream.avail_in == 0, position < input.count, let base = input.baseAddress else { return }
    let count = min(input.count - position, Int(UInt32.max))
    stream.next_in = UnsafeMutablePointer(mutating: base + position)  // zlib never writes input
    stream.avail_in = UInt32(count)
    position += count
  }

  /// Runs one zlib step with all of `chunk` as output space.
  private static func run(
    _ stream: inout z_stream, into chunk: inout [UInt8], _ step: (inout z_stream) -> Int32
  ) -> Int32 {
    chunk.withUnsafeMutableBufferPointer { out in
      stream.next_out = out.baseAddress
      stream.avail_out = UInt32(out.count)
      return step(&stream)
    }
  }

  /// A capacity to reserve: the gzip trailer's size field (the size modulo 2³²), trusted no
  /// further than deflate's maximum ratio of about 1032:1 and never beyond `limit`.
  private static func sizeHint(_ input: UnsafeBufferPointer<UInt8>, limit: Int) -> Int {
    guard input.count >= 18, input[0] == 0x1f, input[1] == 0x8b else { return 0 }
    let trailer = input.count - 4
    let stated = (0..<4).reduce(0) { $0 | Int(input[trailer + $1]) << (8 * $1) }
    let ratioBound = input.count.multipliedReportingOverflow(by: 1032)
    return max(0, min(stated, ratioBound.overflow ? limit : ratioBound.partialValue, limit))
  }
}
