/// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), read and
/// written by hand so that Winnow needs no protobuf dependency.
///
/// A message is a sequence of `tag = field << 3 | wireType` varints, each followed by its
/// value: wire type 0 a varint, 1 eight little-endian bytes, 2 a varint length and that many
/// bytes (strings, bytes, nested messages, packed repeated scalars), 5 four bytes.
///
///     08 96 01            field 1, varint 150
///     12 03 61 62 63      field 2, length 3, "abc"
///
/// The reader trusts nothing: every length is checked against the bytes that remain in the
/// enclosing message, nesting is limited to ``ProtoReader/maximumDepth``, and every failure
/// is a ``ProtobufError`` carrying the byte offset.

/// Why bytes are not a well-formed protobuf message.
public struct ProtobufError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Byte offset in the outermost buffer where the problem was found.
  public var offset: Int
  public var reason: String

  public init(offset: Int, _ reason: String) {
    self.offset = offset
    self.reason = reason
  }

  public var description: String { "at byte \(offset): \(reason)" }
}

/// A message that the generated code can decode from and encode to the wire format.
public protocol ProtoMessage: Sendable {
  init()
  init(decoding reader: inout ProtoReader) throws(ProtobufError)
  func encode(to writer: inout ProtoWriter)
}

extension ProtoMessage {
  /// Decodes a whole buffer as one message.
  public init(serializedBytes bytes: [UInt8]) throws(ProtobufError) {
    var reader = ProtoReader(bytes)
    try self.init(decoding: &reader)
  }

  /// The message in wire format.
  public func serializedBytes() -> [UInt8] {
    var writer = ProtoWriter()
    encode(to: &writer)
    return writer.bytes
  }
}

/// Immutable storage for a singular message field, so recursive messages (a graph inside an
/// attribute inside a node inside a graph) can be value types.
public final class ProtoBox<Value: Sendable & Equatable>: Sendable, Equatable {
  public let value: Value
  public init(_ value: Value) { self.value = value }
  public static func == (a: ProtoBox, b: ProtoBox) -> Bool { a.value == b.value }
}

/// The wire types a tag can announce.
public enum WireType: UInt8, Sendable {
  case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// Reads one message (or nested message) out of a byte buffer, never past its end.
public struct ProtoReader {
  /// Deep enough for any real ONNX model (graphs inside attributes nest a few levels).
  public static let maximumDepth = 64

  let buffer: [UInt8]
  /// Next byte to read; `end` is the end of this (sub)message.
  private(set) var position: Int
  let end: Int
  let depth: Int

  public init(_ bytes: [UInt8]) {
    self.init(buffer: bytes, position: 0, end: bytes.count, depth: 0)
  }

  init(buffer: [UInt8], position: Int, end: Int, depth: Int) {
    self.buffer = buffer
    self.position = position
    self.end = end
    self.depth = depth
  }

  var remaining: Int { end - position }

  func error(_ reason: String) -> ProtobufError { ProtobufError(offset: position, reason) }

  /// The next field number and wire type, or nil at the end of the message.
  public mutating func nextTag() throws(ProtobufError) -> (field: Int, wire: WireType)? {
    guard position < end else { return nil }
    let start = position
    let tag = try readVarint()
    let field = tag >> 3
    guard field >= 1 && field <= 536_870_911 else {
      throw ProtobufError(offset: start, "invalid field number \(field)")
    }
    guard let wire = WireType(rawValue: UInt8(tag & 7)) else {
      throw ProtobufError(offset: start, "invalid wire type \(tag & 7) for field \(field)")
    }
    return (Int(field), wire)
  }

  /// A base-128 varint of at most ten bytes.
  mutating func readVarint() throws(ProtobufError) -> UInt64 {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard position < end else { throw error("varint runs past the end of the message") }
      let byte = buffer[position]
      position += 1
      guard shift < 64 else { throw error("varint longer than ten bytes") }
      result |= UInt64(byte & 0x7f) << shift
      if byte & 0x80 == 0 { return result }
      shift += 7
    }
  }

  func expect(_ wire: WireType, _ wanted: WireType, _ what: String) throws(ProtobufError) {
    guard wire == wanted else { throw error("\(what) field has wire type \(wire) instead of \(wanted)") }
  }

  mutating func readFixed(_ size: Int) throws(ProtobufError) -> UInt64 {
    guard remaining >= size else { throw error("\(size)-byte value runs past the end of the message") }
    var value: UInt64 = 0
    for i in 0..<size { value |= UInt64(buffer[position + i]) << (8 * UInt64(i)) }
    position += size
    return value
  }

  /// The extent of a length-delimited value, checked against what remains.
  mutating func readLength() throws(ProtobufError) -> Int {
    let length = try readVarint()
    guard length <= UInt64(remaining) else {
      throw error("length \(length) exceeds the \(remaining) bytes left in the message")
    }
    return Int(length)
  }

  public mutating func readInt64(_ wire: WireType) throws(ProtobufError) -> Int64 {
    try expect(wire, .varint, "int64")
    return Int64(bitPattern: try readVarint())
  }

  public mutating func readUInt64(_ wire: WireType) throws(ProtobufError) -> UInt64 {
    try expect(wire, .varint, "uint64")
    return try readVarint()
  }

  public mutating func readInt32(_ wire: WireType) throws(ProtobufError) -> Int32 {
    try expect(wire, .varint, "int32")
    return Int32(truncatingIfNeeded: try readVarint())
  }

  public mutating func readBool(_ wire: WireType) throws(ProtobufError) -> Bool {
    try expect(wire, .varint, "bool")
    return try readVarint() != 0
  }

  public mutating func readFloat(_ wire: WireType) throws(ProtobufError) -> Float {
    try expect(wire, .fixed32, "float")
    return Float(bitPattern: UInt32(try readFixed(4)))
  }

  public mutating func readDouble(_ wire: WireType) throws(ProtobufError) -> Double {
    try expect(wire, .fixed64, "double")
    return Double(bitPattern: try readFixed(8))
  }

  public mutating func readBytes(_ wire: WireType) throws(ProtobufError) -> [UInt8] {
    try expect(wire, .lengthDelimited, "bytes")
    let length = try readLength()
    defer { position += length }
    return Array(buffer[position..<(position + length)])
  }

  public mutating func readString(_ wire: WireType) throws(ProtobufError) -> String {
    try expect(wire, .lengthDelimited, "string")
    let start = position
    let bytes = try readBytes(wire)
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ProtobufError(offset: start, "string is not valid UTF-8")
    }
    return text
  }

  /// A nested message, decoded from exactly its announced length.
  public mutating func readMessage<M: ProtoMessage>(_ wire: WireType, as type: M.Type) throws(ProtobufError) -> M {
    try expect(wire, .lengthDelimited, "message")
    guard depth < Self.maximumDepth else { throw error("messages nested deeper than \(Self.maximumDepth) levels") }
    let length = try readLength()
    var nested = ProtoReader(buffer: buffer, position: position, end: position + length, depth: depth + 1)
    let message = try M(decoding: &nested)
    position += length
    return message
  }

  /// Appends one element (unpacked encoding) or a packed run of them (length-delimited) of
  /// elements with wire type `element`.
  public mutating func readRepeated<T>(
    _ wire: WireType, into values: inout [T], element: WireType,
    _ read: (inout ProtoReader, WireType) throws(ProtobufError) -> T
  ) throws(ProtobufError) {
    guard wire == .lengthDelimited else {
      values.append(try read(&self, wire))
      return
    }
    let length = try readLength()
    if element != .varint {
      let size = element == .fixed32 ? 4 : 8
      guard length % size == 0 else { throw error("packed field of \(length) bytes is not a multiple of \(size)") }
      values.reserveCapacity(values.count + length / size)
    }
    var packed = ProtoReader(buffer: buffer, position: position, end: position + length, depth: depth)
    while packed.remaining > 0 { values.append(try read(&packed, element)) }
    position += length
  }

  /// Skips a field this reader does not know.
  public mutating func skip(_ wire: WireType) throws(ProtobufError) {
    switch wire {
    case .varint: _ = try readVarint()
    case .fixed64: _ = try readFixed(8)
    case .fixed32: _ = try readFixed(4)
    case .lengthDelimited: position += try readLength()
    case .startGroup, .endGroup: throw error("groups (wire types 3 and 4) are not supported")
    }
  }
}

/// Appends fields in wire format.
public struct ProtoWriter {
  public private(set) var bytes: [UInt8] = []

  public init() {}

  mutating func writeVarint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7f) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  mutating func writeTag(_ field: Int, _ wire: WireType) { writeVarint(UInt64(field) << 3 | UInt64(wire.rawValue)) }

  mutating func writeFixed(_ value: UInt64, size: Int) {
    for i in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
  }

  public mutating func writeInt64(_ field: Int, _ value: Int64) { writeTag(field, .varint); writeVarint(UInt64(bitPattern: value)) }
  public mutating func writeUInt64(_ field: Int, _ value: UInt64) { writeTag(field, .varint); writeVarint(value) }
  /// Negative int32 values take ten bytes, sign-extended, as the protobuf specification says.
  public mutating func writeInt32(_ field: Int, _ value: Int32) { writeInt64(field, Int64(value)) }
  public mutating func writeBool(_ field: Int, _ value: Bool) { writeTag(field, .varint); writeVarint(value ? 1 : 0) }
  public mutating func writeFloat(_ field: Int, _ value: Float) { writeTag(field, .fixed32); writeFixed(UInt64(value.bitPattern), size: 4) }
  public mutating func writeDouble(_ field: Int, _ value: Double) { writeTag(field, .fixed64); writeFixed(value.bitPattern, size: 8) }

  public mutating func writeBytes(_ field: Int, _ value: [UInt8]) {
    writeTag(field, .lengthDelimited)
    writeVarint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  public mutating func writeString(_ field: Int, _ value: String) { writeBytes(field, Array(value.utf8)) }

  public mutating func writeMessage<M: ProtoMessage>(_ field: Int, _ message: M) {
    var nested = ProtoWriter()
    message.encode(to: &nested)
    writeBytes(field, nested.bytes)
  }

  /// Repeated scalars packed into one length-delimited field; `write` writes one bare value.
  public mutating func writePacked<T>(_ field: Int, _ values: [T], _ write: (inout ProtoWriter, T) -> Void) {
    guard !values.isEmpty else { return }
    var payload = ProtoWriter()
    for value in values { write(&payload, value) }
    writeBytes(field, payload.bytes)
  }

  // Bare values (no tag), for packed runs.
  public mutating func writeVarintValue(_ value: Int64) { writeVarint(UInt64(bitPattern: value)) }
  public mutating func writeVarintValue(_ value: Int32) { writeVarint(UInt64(bitPattern: Int64(value))) }
  public mutating func writeVarintValue(_ value: UInt64) { writeVarint(value) }
  public mutating func writeVarintValue(_ value: Bool) { writeVarint(value ? 1 : 0) }
  public mutating func writeFixedValue(_ value: Float) { writeFixed(UInt64(value.bitPattern), size: 4) }
  public mutating func writeFixedValue(_ value: Double) { writeFixed(value.bitPattern, size: 8) }
}
