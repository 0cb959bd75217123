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
    case .integer(let i):
      let size = i.dataType.integerByteSize ?? 8
      var bytes = [UInt8]()
      bytes.reserveCapacity(i.count * size)
      for v in i.values { appendLittleEndian(UInt64(bitPattern: v), size: size, to: &bytes) }
      rawData = bytes
    }
  }
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
