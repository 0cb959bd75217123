import WinnowCore

extension TensorProto {
  /// At most 2³¹ elements per tensor: larger counts are corrupt headers, not real weights.
  static let maximumElementCount = 1 << 31

  /// The tensor's element count from `dims`, checked for negative extents and overflow.
  func elementCount(file: String) throws(ONNXError) -> Int {
    var count = 1
    for d in dims {
      guard d >= 0 else { throw .invalidModel(file: file, reason: "tensor '\(name)' has negative dimension \(d) in \(dims)") }
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
      guard !overflow, product <= Self.maximumElementCount else {
        throw .invalidModel(file: file, reason: "tensor '\(name)' has too many elements (shape \(dims))")
      }
      count = product
    }
    return count
  }

  /// The tensor as a Winnow value. External data is read relative to `directory`.
  func value(file: String, directory: String?) throws(ONNXError) -> ONNXValue {
    let count = try elementCount(file: file)
    let shape = dims.map { Int($0) }
    let raw = try rawBytes(file: file, directory: directory)
    guard let type = DataType(rawValue: dataType) else { throw .unsupportedDataType(file: file, tensor: name, dataType: dataType) }
    if type == .float {
      if let raw {
        try checkByteCount(raw.count, expected: count * 4, file: file)
        return .float(Tensor(shape: shape) { out in
          for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw, at: 4 * i)) }
        })
      }
      try checkByteCount(floatData.count * 4, expected: count * 4, file: file)
      return .float(Tensor(shape: shape, scalars: floatData))
    }
    if type.isFloatingPoint { return .floating(try floatingValues(type, count: count, raw: raw, file: file), type) }
    if let bits = type.packedIntegerBits {
      let codes = try elementCodes(bits: bits, count: count, raw: raw, file: file)
      return .integer(ONNXIntegers(shape: shape, values: codes.map { type.wrapping(Int64($0)) }, dataType: type))
    }
    guard let size = type.integerByteSize else { throw .unsupportedDataType(file: file, tensor: name, dataType: dataType) }
    var values: [Int64]
    if let raw {
      try checkByteCount(raw.count, expected: count * size, file: file)
      values = (0..<count).map { i in
        var bits: UInt64 = 0
        for b in 0..<size { bits |= UInt64(raw[i * size + b]) << (8 * UInt64(b)) }
        return type.isSigned ? signExtend(bits, bytes: size) : Int64(bitPattern: bits)
      }
    } else {
      switch type {
      case .int64: values = int64Data
      case .uint32, .uint64: values = uint64Data.map { Int64(bitPattern: $0) }
      default: values = int32Data.map { type.wrapping(Int64($0)) }
      }
      try checkByteCount(values.count * size, expected: count * size, file: file)
    }
    return .integer(ONNXIntegers(shape: shape, values: values, dataType: type))
  }

  /// Float16, bfloat16, float8, float4 and double data decoded to Float32 (double rounded).
  private func floatingValues(_ type: DataType, count: Int, raw: [UInt8]?, file: String) throws(ONNXError) -> Tensor {
    let shape = dims.map { Int($0) }
    if type == .double {
      if let raw {
        try checkByteCount(raw.count, expected: count * 8, file: file)
        return Tensor(shape: shape) { out in
          for i in 0..<count {
            let bits = UInt64(UInt32(littleEndian: raw, at: 8 * i)) | UInt64(UInt32(littleEndian: raw, at: 8 * i + 4)) << 32
            out[i] = Float(Double(bitPattern: bits))
          }
        }
      }
      try checkByteCount(doubleData.count * 8, expected: count * 8, file: file)
      return Tensor(shape: shape, scalars: doubleData.map { Float($0) })
    }
    let format = ONNXFloatFormat(type)
    let codes = try elementCodes(bits: format?.bitWidth ?? 8, count: count, raw: raw, file: file)
    return Tensor(shape: shape, scalars: codes.map { format?.decode($0) ?? Float8E8M0.decode($0) })
  }

  /// The `count` codes of `bits` bits each, from `raw_data` (little-endian, sub-byte codes packed
  /// from the least significant bits up) or from `int32_data` (one element per entry, or one
  /// packed byte per entry for 4- and 2-bit types).
  func elementCodes(bits: Int, count: Int, raw: [UInt8]?, file: String) throws(ONNXError) -> [UInt32] {
    let bytesPerElement = Swift.max(bits / 8, 1)
    let bytes: [UInt8]
    if let raw {
      bytes = raw
    } else if bits >= 8 {
      bytes = int32Data.flatMap { v in (0..<bytesPerElement).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    } else {
      bytes = int32Data.map { UInt8(truncatingIfNeeded: $0) }
    }
    try checkByteCount(bytes.count, expected: (count * bits + 7) / 8, file: file)
    if bits >= 8 {
      return (0..<count).map { i in
        (0..<bytesPerElement).reduce(UInt32(0)) { $0 | UInt32(bytes[i * bytesPerElement + $1]) << (8 * UInt32($1)) }
      }
    }
    let perByte = 8 / bits, mask = UInt32(1 << bits) - 1
    return (0..<count).map { i in (UInt32(bytes[i / perByte]) >> UInt32((i % perByte) * bits)) & mask }
  }

  private func checkByteCount(_ actual: Int, expected: Int, file: String) throws(ONNXError) {
    guard actual == expected else {
      throw .invalidModel(file: file, reason: "tensor '\(name)' of shape \(dims) holds \(actual) bytes of data but needs \(expected)")
    }
  }

  /// `raw_data`, or the bytes of the external file, or nil when the typed fields hold the data.
  private func rawBytes(file: String, directory: String?) throws(ONNXError) -> [UInt8]? {
    guard dataLocation == DataLocation.external.rawValue else { return rawData.isEmpty ? nil : rawData }
    let entries = Dictionary(externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    guard let location = entries["location"], !location.isEmpty else {
      throw .missingExternalData(file: file, tensor: name, location: "", reason: "no 'location' entry")
    }
    guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
      throw .missingExternalData(file: file, tensor: name, location: location, reason: "location must be a relative path inside the model's directory")
    }
    let path = (directory.map { $0 + "/" } ?? "") + location
    let bytes: [UInt8]
    do { bytes = try readFileBytes(path) } catch {
      throw .missingExternalData(file: file, tensor: name, location: location, reason: "\(error)")
    }
    let offset = Int(entries["offset"] ?? "0") ?? -1
    let length = entries["length"].map { Int($0) ?? -1 } ?? (bytes.count - max(offset, 0))
    guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
      throw .missingExternalData(file: file, tensor: name, location: location,
                                 reason: "byte range offset \(entries["offset"] ?? "0") length \(entries["length"] ?? "-") is outside the file (\(bytes.count) bytes)")
    }
    return Array(bytes[offset..<(offset + length)])
  }

  /// A tensor proto holding `value` in `raw_data` (little-endian).
  public init(name: String, value: ONNXValue) {
    self.init()
    self.name = name
    dims = value.shape.map { Int64($0) }
    dataType = value.dataType.rawValue
    switch value {
    case .float(let t):
      var bytes = [UInt8]()
      bytes.reserveCapacity(t.count * 4)
      t.withUnsafeBufferPointer { for v in $0 { appendLittleEndian(UInt64(v.bitPattern), size: 4, to: &bytes) } }
      rawData = bytes
    case .floating(let t, let type):
      if type == .double {
        var bytes = [UInt8]()
        for v in t.scalars { appendLittleEndian(Double(v).bitPattern, size: 8, to: &bytes) }
        rawData = bytes
      } else {
        let format = ONNXFloatFormat(type)
        rawData = packCodes(t.scalars.map { format?.encode($0) ?? Float8E8M0.encode($0) }, bits: format?.bitWidth ?? 8)
      }
    case .integer(let i):
      if let bits = i.dataType.packedIntegerBits {
        rawData = packCodes(i.values.map { UInt32(truncatingIfNeeded: $0) & ((1 << UInt32(bits)) - 1) }, bits: bits)
        return
      }
      let size = i.dataType.integerByteSize ?? 8
      var bytes = [UInt8]()
      bytes.reserveCapacity(i.count * size)
      for v in i.values { appendLittleEndian(UInt64(bitPattern: v), size: size, to: &bytes) }
      rawData = bytes
    }
  }
}

/// Codes of `bits` bits as little-endian bytes; sub-byte codes packed from the low bits up.
private func packCodes(_ codes: [UInt32], bits: Int) -> [UInt8] {
  if bits >= 8 {
    var bytes = [UInt8]()
    for c in codes { appendLittleEndian(UInt64(c), size: bits / 8, to: &bytes) }
    return bytes
  }
  let perByte = 8 / bits
  var bytes = [UInt8](repeating: 0, count: (codes.count + perByte - 1) / perByte)
  for (i, c) in codes.enumerated() { bytes[i / perByte] |= UInt8(c) << UInt8((i % perByte) * bits) }
  return bytes
}

private func appendLittleEndian(_ bits: UInt64, size: Int, to bytes: inout [UInt8]) {
  for b in 0..<size { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(b)))) }
}

private func signExtend(_ bits: UInt64, bytes: Int) -> Int64 {
  let shift = UInt64(64 - 8 * bytes)
  return Int64(bitPattern: bits << shift) >> Int64(shift)
}

extension UInt32 {
  init(littleEndian bytes: [UInt8], at offset: Int) {
    self = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
  }
}

extension ONNXValue {
  /// The value a tensor proto holds (external data read relative to `directory`).
  public init(_ proto: TensorProto, file: String, directory: String? = nil) throws(ONNXError) {
    self = try proto.value(file: file, directory: directory)
  }
}
