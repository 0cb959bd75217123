import Foundation

/// Named tensors and string metadata in the safetensors format, the format of Hugging Face
/// checkpoints and of `safetensors.torch.save_file`.
///
/// Layout (https://github.com/huggingface/safetensors):
///
///     8 bytes   N, the header length, unsigned little-endian
///     N bytes   UTF-8 JSON, padded with spaces to a multiple of 8 bytes:
///               {"__metadata__": {"format": "pt"},
///                "fc.bias":   {"dtype": "F32", "shape": [3],    "data_offsets": [0, 12]},
///                "fc.weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [12, 36]}}
///     the rest  the data section; offsets count from its first byte, values are little-endian
///
/// Reading accepts F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL and
/// converts every element to Float32, because ``Tensor`` is Float32 for now: F64 rounds,
/// integers beyond ±2²⁴ lose their low bits, BOOL becomes 0 or 1. Writing always writes F32.
///
/// Every header field is validated before any data is touched. Unlike the reference reader,
/// unused bytes between or after tensors are accepted; overlapping tensors are not.
public struct SafetensorsFile: Sendable {
  /// The tensors, by name.
  public var tensors: [String: Tensor]
  /// Free-form string pairs from the `__metadata__` header entry.
  public var metadata: [String: String]
  /// The file these tensors were read from, named in errors from ``tensor(named:shape:)``.
  public var source: String

  /// Largest header accepted, as in the reference implementation: a header is a few KB per
  /// thousand tensors, so anything bigger is damage or an attack.
  public static let headerLimit = 100_000_000

  public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:], source: String = "(in memory)") {
    self.tensors = tensors
    self.metadata = metadata
    self.source = source
  }

  /// Tensor names in the order ``encode()`` writes them: by UTF-8 bytes, as the reference
  /// writer orders tensors of one dtype.
  public var names: [String] {
    tensors.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  /// The tensor called `name`, checked against the shape the caller needs.
  ///
  /// - Throws: ``FormatError/missingTensor(file:tensor:)`` or
  ///   ``FormatError/shapeMismatch(file:tensor:expected:actual:)``, naming ``source``.
  public func tensor(named name: String, shape: [Int]? = nil) throws(FormatError) -> Tensor {
    guard let tensor = tensors[name] else { throw .missingTensor(file: source, tensor: name) }
    if let shape, shape != tensor.shape {
      throw .shapeMismatch(file: source, tensor: name, expected: shape, actual: tensor.shape)
    }
    return tensor
  }

  /// Reads and validates the safetensors file at `path`.
  public static func read(path: String) throws(FormatError) -> SafetensorsFile {
    try decode(readFileBytes(path), name: path)
  }

  /// Writes ``encode()`` to `path` atomically (see ``writeFileAtomically(_:to:)``).
  public func write(path: String) throws(FormatError) {
    try writeFileAtomically(encode(), to: path)
  }

  /// Parses and validates safetensors `bytes`; `name` identifies them in errors.
  public static func decode(_ bytes: [UInt8], name: String) throws(FormatError) -> SafetensorsFile {
    let (entries, metadata, headerEnd) = try validatedEntries(bytes, name: name)
    var tensors: [String: Tensor] = [:]
    bytes.withUnsafeBufferPointer { file in
      for entry in entries {
        let data = UnsafeBufferPointer(rebasing: file[(headerEnd + entry.begin)..<(headerEnd + entry.end)])
        tensors[entry.name] = Tensor(shape: entry.shape) { entry.dtype.convert(data, into: $0) }
      }
    }
    return SafetensorsFile(tensors: tensors, metadata: metadata, source: name)
  }

  /// The file's bytes: F32 tensors sorted by name, header padded with spaces to a multiple
  /// of 8 bytes so the data section stays aligned; byte-identical to what
  /// `safetensors.torch.save` writes for the same F32 tensors and at most one metadata key.
  public func encode() -> [UInt8] {
    precondition(tensors["__metadata__"] == nil, "'__metadata__' is reserved and cannot name a tensor")
    let ordered = names.compactMap { name in tensors[name].map { (name, $0) } }
    var fields: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
      let entries = pairs.map { jsonString($0) + ":" + jsonString($1) }
      fields.append(#""__metadata__":{"# + entries.joined(separator: ",") + "}")
    }
    var offset = 0
    for (name, tensor) in ordered {
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      let end = offset + tensor.count * 4
      fields.append(jsonString(name) + #":{"dtype":"F32","shape":[\#(shape)],"data_offsets":[\#(offset),\#(end)]}"#)
      offset = end
    }
    var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
    header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + header.count + offset)
    appendLittleEndian(UInt64(header.count), byteCount: 8, to: &bytes)
    bytes += header
    for (_, tensor) in ordered {
      tensor.withUnsafeBufferPointer { values in
        for value in values { appendLittleEndian(UInt64(value.bitPattern), byteCount: 4, to: &bytes) }
      }
    }
    return bytes
  }
}

// MARK: - Header

extension SafetensorsFile {
  /// One validated header entry; `begin..<end` is relative to the data section.
  private struct Entry {
    var name: String
    var dtype: DType
    var shape: [Int]
    var begin: Int
    var end: Int
  }

  /// The header's entries, each checked against the data section, its metadata, and where
  /// the data section starts: everything validated before any tensor byte is read.
  private static func validatedEntries(
    _ bytes: [UInt8], name: String
  ) throws(FormatError) -> ([Entry], [String: String], headerEnd: Int) {
    let headerEnd = try headerEnd(of: bytes, name: name)
    let (entries, metadata) = try parseHeader(Data(bytes[8..<headerEnd]), name: name)
    let dataSize = bytes.count - headerEnd
    for entry in entries where entry.end > dataSize {
      throw .offsetsOutOfBounds(
        file: name, tensor: entry.name, begin: entry.begin, end: entry.end, dataSize: dataSize)
    }
    try checkOverlaps(entries, name: name)
    return (entries, metadata, headerEnd)
  }

  /// The offset of the data section, after checking the header length against the file.
  private static func headerEnd(of bytes: [UInt8], name: String) throws(FormatError) -> Int {
    guard bytes.count >= 8 else { throw .truncated(file: name, expected: 8, actual: bytes.count) }
    let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
    guard length <= UInt64(headerLimit) else {
      throw .limitExceeded(file: name, what: "header", size: Int(clamping: length), limit: headerLimit)
    }
    guard 8 + Int(length) <= bytes.count else {
      throw .truncated(file: name, expected: 8 + Int(length), actual: bytes.count)
    }
    return 8 + Int(length)
  }

  /// The tensor entries (sorted by name, so errors are deterministic) and the metadata.
  private static func parseHeader(
    _ json: Data, name: String
  ) throws(FormatError) -> ([Entry], [String: String]) {
    guard let parsed = try? JSONSerialization.jsonObject(with: json) else {
      throw .corrupt(file: name, reason: "header is not valid JSON")
    }
    guard let object = parsed as? [String: Any] else {
      throw .corrupt(file: name, reason: "header is not a JSON object")
    }
    var entries: [Entry] = []
    var metadata: [String: String] = [:]
    for (key, value) in object.sorted(by: { $0.key < $1.key }) {
      if key == "__metadata__" {
        metadata = try parseMetadata(value, name: name)
      } else {
        entries.append(try parseEntry(key, value, name: name))
      }
    }
    return (entries, metadata)
  }

  private static func parseMetadata(_ value: Any, name: String) throws(FormatError) -> [String: String] {
    if value is NSNull { return [:] }
    guard let object = value as? [String: Any] else {
      throw .corrupt(file: name, reason: "__metadata__ is not a JSON object")
    }
    var metadata: [String: String] = [:]
    for (key, value) in object.sorted(by: { $0.key < $1.key }) {
      guard let string = value as? String else {
        throw .corrupt(file: name, reason: "__metadata__ entry '\(key)' is not a string")
      }
      metadata[key] = string
    }
    return metadata
  }

  /// Checks one entry's JSON types, its dtype and that its byte range fits its shape.
  private static func parseEntry(_ tensor: String, _ value: Any, name: String) throws(FormatError) -> Entry {
    func invalid(_ reason: String) -> FormatError {
      .invalidTensorEntry(file: name, tensor: tensor, reason: reason)
    }
    guard let fields = value as? [String: Any] else { throw invalid("entry is not a JSON object") }
    guard let dtypeName = fields["dtype"] as? String else { throw invalid(#"missing or non-string "dtype""#) }
    guard let shape = (fields["shape"] as? [Any]).flatMap(nonNegativeIntegers) else {
      throw invalid(#""shape" is missing or not an array of non-negative integers"#)
    }
    guard let offsets = (fields["data_offsets"] as? [Any]).flatMap(nonNegativeIntegers), offsets.count == 2
    else { throw invalid(#""data_offsets" is missing or not two non-negative integers"#) }
    guard offsets[0] <= offsets[1] else {
      throw invalid("data_offsets [\(offsets[0]), \(offsets[1])] end before they begin")
    }
    guard let dtype = DType(rawValue: dtypeName) else {
      throw .unsupportedDType(file: name, tensor: tensor, dtype: dtypeName)
    }
    guard let count = elementCount(shape),
      case (let byteCount, false) = count.multipliedReportingOverflow(by: dtype.size)
    else { throw invalid("shape \(shape) has too many elements") }
    guard offsets[1] - offsets[0] == byteCount else {
      throw .byteCountMismatch(file: name, tensor: tensor, expected: byteCount, actual: offsets[1] - offsets[0])
    }
    return Entry(name: tensor, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
  }

  /// Throws if two non-empty byte ranges share a byte. Sorting by start makes it one pass:
  /// each range only needs comparing with the furthest-reaching range before it.
  private static func checkOverlaps(_ entries: [Entry], name: String) throws(FormatError) {
    let ranges = entries.filter { $0.begin < $0.end }.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var furthest: Entry?
    for entry in ranges {
      if let previous = furthest, entry.begin < previous.end {
        throw .overlappingTensors(file: name, first: previous.name, second: entry.name)
      }
      if entry.end > furthest?.end ?? -1 { furthest = entry }
    }
  }

  /// The product of `shape`, or nil on overflow. Multiplied in axis order, as ``Tensor``
  /// computes its count, so a shape accepted here cannot overflow there either.
  private static func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for extent in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: extent)
      if overflow { return nil }
      count = product
    }
    return count
  }

  /// The values as `Int`s if every one is a JSON integer ≥ 0 that fits; nil otherwise.
  /// JSON booleans also bridge to `NSNumber` (type code "c") and are rejected, as are
  /// numbers written with a fraction or exponent (type codes "d" and "f").
  private static func nonNegativeIntegers(_ values: [Any]) -> [Int]? {
    var result: [Int] = []
    for value in values {
      guard let number = value as? NSNumber, !["c", "d", "f"].contains(String(cString: number.objCType)),
        let integer = value as? Int, integer >= 0
      else { return nil }
      result.append(integer)
    }
    return result
  }
}

// MARK: - Element types

extension SafetensorsFile {
  /// The element types this reader converts to Float32, named as in the header.
  private enum DType: String {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

    var size: Int {
      switch self {
      case .f64, .i64, .u64: 8
      case .f32, .i32, .u32: 4
      case .f16, .bf16, .i16, .u16: 2
      case .i8, .u8, .bool: 1
      }
    }

    /// Converts `bytes` (exactly `size` bytes per element of `values`) to Float32,
    /// assembling each element from its bytes, since data offsets need not be aligned.
    func convert(_ bytes: UnsafeBufferPointer<UInt8>, into values: UnsafeMutableBufferPointer<Float>) {
      for i in values.indices {
        var bits: UInt64 = 0
        for j in 0..<size { bits |= UInt64(bytes[i * size + j]) << (8 * UInt64(j)) }
        values[i] = value(of: bits)
      }
    }

    private func value(of bits: UInt64) -> Float {
      switch self {
      case .f64: Float(Double(bitPattern: bits))
      case .f32: Float(bitPattern: UInt32(truncatingIfNeeded: bits))
      case .f16: floatFromHalf(UInt16(truncatingIfNeeded: bits))
      case .bf16: Float(bitPattern: UInt32(truncatingIfNeeded: bits) << 16)
      case .i64: Float(Int64(bitPattern: bits))
      case .i32: Float(Int32(truncatingIfNeeded: bits))
      case .i16: Float(Int16(truncatingIfNeeded: bits))
      case .i8: Float(Int8(truncatingIfNeeded: bits))
      case .u64, .u32, .u16, .u8: Float(bits)
      case .bool: bits == 0 ? 0 : 1
      }
    }
  }
}

/// IEEE binary16 to binary32, exactly (every half value is a float value). Written out
/// because Swift's `Float16` is unavailable on Intel Macs.
///
///     sign | 5-bit exponent (bias 15) | 10-bit mantissa
///     exponent 0: ±mantissa × 2⁻²⁴ (zero, subnormal); 31: infinity or NaN (payload kept)
private func floatFromHalf(_ half: UInt16) -> Float {
  let sign = UInt32(half & 0x8000) << 16
  let exponent = UInt32(half >> 10 & 0x1f)
  let mantissa = UInt32(half & 0x3ff)
  switch exponent {
  case 0:
    let magnitude = Float(mantissa) * 0x1p-24
    return sign == 0 ? magnitude : -magnitude
  case 31:
    return Float(bitPattern: sign | 0x7f80_0000 | mantissa << 13)
  default:
    return Float(bitPattern: sign | (exponent + 127 - 15) << 23 | mantissa << 13)
  }
}

/// `string` as a JSON string literal, escaped as serde_json (the reference writer) does.
private func jsonString(_ string: String) -> String {
  var out = "\""
  for scalar in string.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\u{8}": out += "\\b"
    case "\u{c}": out += "\\f"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case _ where scalar.value < 0x20:
      let hex = String(scalar.value, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}

/// Appends the low `byteCount` bytes of `value`, least significant first.
private func appendLittleEndian(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
  for i in 0..<byteCount { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
}

// MARK: - Raw typed arrays

/// One tensor of a safetensors file as stored: element type name (`"I8"`, `"F32"`…), shape
/// and little-endian bytes. For formats whose arrays are not Float32 (packed weights).
public struct RawTensor: Sendable, Equatable {
  public var dtype: String
  public var shape: [Int]
  public var bytes: [UInt8]

  public init(dtype: String, shape: [Int], bytes: [UInt8]) {
    self.dtype = dtype
    self.shape = shape
    self.bytes = bytes
  }
}

extension SafetensorsFile {
  /// Parses and validates `bytes` like ``decode(_:name:)`` but keeps every tensor's bytes
  /// as stored instead of converting to Float32.
  public static func decodeRaw(
    _ bytes: [UInt8], name: String
  ) throws(FormatError) -> (tensors: [String: RawTensor], metadata: [String: String]) {
    let (entries, metadata, headerEnd) = try validatedEntries(bytes, name: name)
    var tensors: [String: RawTensor] = [:]
    for entry in entries {
      let data = Array(bytes[(headerEnd + entry.begin)..<(headerEnd + entry.end)])
      tensors[entry.name] = RawTensor(dtype: entry.dtype.rawValue, shape: entry.shape, bytes: data)
    }
    return (tensors, metadata)
  }

  /// A safetensors file of raw tensors (sorted by name) and string metadata. Each tensor's
  /// byte count must match its shape and dtype.
  public static func encodeRaw(_ tensors: [String: RawTensor], metadata: [String: String]) -> [UInt8] {
    let ordered = tensors.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    var fields: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
      fields.append(#""__metadata__":{"# + pairs.map { jsonString($0) + ":" + jsonString($1) }.joined(separator: ",") + "}")
    }
    var offset = 0
    for (name, tensor) in ordered {
      let size = DType(rawValue: tensor.dtype)?.size
      precondition(size.map { tensor.shape.reduce(1, *) * $0 == tensor.bytes.count } ?? false,
                   "raw tensor \(name): \(tensor.bytes.count) bytes for \(tensor.dtype) \(tensor.shape)")
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      let end = offset + tensor.bytes.count
      fields.append(jsonString(name) + #":{"dtype":"\#(tensor.dtype)","shape":[\#(shape)],"data_offsets":[\#(offset),\#(end)]}"#)
      offset = end
    }
    var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
    header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + header.count + offset)
    appendLittleEndian(UInt64(header.count), byteCount: 8, to: &bytes)
    bytes += header
    for (_, tensor) in ordered { bytes += tensor.bytes }
    return bytes
  }
}
