/// An n-dimensional array in the IDX format of MNIST and Fashion-MNIST.
///
/// Layout (http://yann.lecun.com/exdb/mnist/), every number big-endian:
///
///     2 bytes       0x00 0x00, the magic
///     1 byte        element type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
///     1 byte        rank r
///     r × 4 bytes   the extents, unsigned
///     the rest      the elements in row-major order
///
/// For example the MNIST training labels begin `00 00 08 01  00 00 ea 60`: u8, rank 1,
/// 60000 (0xea60) labels, then exactly 60000 bytes.
///
/// Elements are held as Float32, like ``Tensor``: i32 values beyond ±2²⁴ and f64 values
/// round; the other types convert exactly.
public struct IDXArray: Equatable, Sendable {
  /// How each element is stored in the file.
  public enum ElementType: UInt8, Sendable {
    case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

    /// Bytes per element.
    public var size: Int {
      switch self {
      case .uint8, .int8: 1
      case .int16: 2
      case .int32, .float32: 4
      case .float64: 8
      }
    }
  }

  /// Ranks accepted when reading: MNIST uses 1 (labels) and 3 (images); 8 leaves room
  /// while catching a corrupt rank byte early.
  public static let ranks = 1...8

  public var elementType: ElementType
  /// Extent of each axis.
  public var shape: [Int]
  /// All elements in row-major order.
  public var values: [Float]

  public init(elementType: ElementType, shape: [Int], values: [Float]) {
    precondition(
      shape.reduce(1, *) == values.count,
      "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
    self.elementType = elementType
    self.shape = shape
    self.values = values
  }

  /// The elements as a tensor of ``shape``.
  public var tensor: Tensor { Tensor(shape: shape, scalars: values) }

  /// Reads the IDX file at `path`, gunzipping it first if it starts with the gzip magic
  /// (MNIST is distributed as `.gz`, but unpacked copies often keep that name or lose it).
  public static func read(path: String) throws(FormatError) -> IDXArray {
    var bytes = try readFileBytes(path)
    if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, name: path) }
    return try decode(bytes, name: path)
  }

  /// Parses and validates IDX `bytes`; `name` identifies them in errors.
  ///
  /// - Throws: ``FormatError/corrupt(file:reason:)`` for a bad magic, element type, rank or
  ///   extents; ``FormatError/truncated(file:expected:actual:)`` and
  ///   ``FormatError/trailingBytes(file:expected:actual:)`` when the data is shorter or
  ///   longer than the extents say.
  public static func decode(_ bytes: [UInt8], name: String) throws(FormatError) -> IDXArray {
    guard bytes.count >= 4 else { throw .truncated(file: name, expected: 4, actual: bytes.count) }
    guard bytes[0] == 0, bytes[1] == 0 else {
      throw .corrupt(
        file: name, reason: "not an IDX file: it must start with two zero bytes, found \(hex(bytes[0..<2]))")
    }
    guard let elementType = ElementType(rawValue: bytes[2]) else {
      throw .corrupt(file: name, reason: "unknown IDX element type \(hex(bytes[2..<3]))")
    }
    let rank = Int(bytes[3])
    guard ranks.contains(rank) else {
      throw .corrupt(
        file: name, reason: "IDX rank \(rank) is outside the supported \(ranks.lowerBound)...\(ranks.upperBound)")
    }
    let headerSize = 4 + 4 * rank
    guard bytes.count >= headerSize else {
      throw .truncated(file: name, expected: headerSize, actual: bytes.count)
    }
    let shape = (0..<rank).map { Int(loadBigEndian(bytes, at: 4 + 4 * $0, byteCount: 4)) }
    guard let size = dataSize(shape, elementType),
      case (let expected, false) = headerSize.addingReportingOverflow(size)
    else { throw .corrupt(file: name, reason: "IDX extents \(shape) describe more data than can be addressed") }
    guard bytes.count >= expected else { throw .truncated(file: name, expected: expected, actual: bytes.count) }
    guard bytes.count == expected else { throw .trailingBytes(file: name, expected: expected, actual: bytes.count) }

    let values = (0..<(size / elementType.size)).map { i in
      elementType.value(of: loadBigEndian(bytes, at: headerSize + i * elementType.size, byteCount: elementType.size))
    }
    return IDXArray(elementType: elementType, shape: shape, values: values)
  }

  /// The file's bytes, elements stored as ``elementType``.
  ///
  /// - Precondition: the shape has 1 to 8 axes, each below 2³²; for the integer types every
  ///   value is a whole number within the type's range (encoding never rounds silently).
  public func encode() -> [UInt8] {
    precondition(Self.ranks.contains(shape.count), "IDX rank must be in \(Self.ranks), got \(shape.count)")
    var bytes: [UInt8] = [0, 0, elementType.rawValue, UInt8(shape.count)]
    bytes.reserveCapacity(4 + 4 * shape.count + values.count * elementType.size)
    for extent in shape {
      precondition(extent <= UInt32.max, "IDX extent \(extent) does not fit in 32 bits")
      appendBigEndian(UInt64(extent), byteCount: 4, to: &bytes)
    }
    for value in values { appendBigEndian(elementType.bits(of: value), byteCount: elementType.size, to: &bytes) }
    return bytes
  }

  /// Bytes of element data for `shape`, or nil if the count overflows.
  private static func dataSize(_ shape: [Int], _ elementType: ElementType) -> Int? {
    var size = elementType.size
    for extent in shape {
      let (product, overflow) = size.multipliedReportingOverflow(by: extent)
      if overflow { return nil }
      size = product
    }
    return size
  }
}

extension IDXArray.ElementType {
  /// The element whose big-endian bytes, assembled, are the low `size` bytes of `bits`.
  fileprivate func value(of bits: UInt64) -> Float {
    switch self {
    case .uint8: Float(bits)
    case .int8: Float(Int8(truncatingIfNeeded: bits))
    case .int16: Float(Int16(truncatingIfNeeded: bits))
    case .int32: Float(Int32(truncatingIfNeeded: bits))
    case .float32: Float(bitPattern: UInt32(truncatingIfNeeded: bits))
    case .float64: Float(Double(bitPattern: bits))
    }
  }

  /// The stored bits of `value`; the inverse of `value(of:)`.
  fileprivate func bits(of value: Float) -> UInt64 {
    switch self {
    case .uint8: UInt64(UInt8(exactly: value) ?? mustBeExact(value))
    case .int8: UInt64(UInt8(bitPattern: Int8(exactly: value) ?? mustBeExact(value)))
    case .int16: UInt64(UInt16(bitPattern: Int16(exactly: value) ?? mustBeExact(value)))
    case .int32: UInt64(UInt32(bitPattern: Int32(exactly: value) ?? mustBeExact(value)))
    case .float32: UInt64(value.bitPattern)
    case .float64: Double(value).bitPattern
    }
  }

  private func mustBeExact<T>(_ value: Float) -> T {
    preconditionFailure("\(value) is not representable as IDX \(self)")
  }
}

/// The big-endian unsigned number in `bytes[offset..<offset + byteCount]`.
private func loadBigEndian(_ bytes: [UInt8], at offset: Int, byteCount: Int) -> UInt64 {
  (0..<byteCount).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
}

/// Appends the low `byteCount` bytes of `value`, most significant first.
private func appendBigEndian(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
  for i in (0..<byteCount).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
}

/// Bytes as `0x1f 0x8b` for error messages.
private func hex(_ bytes: ArraySlice<UInt8>) -> String {
  bytes.map { "0x" + ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}
