import WinnowCore

/// Bitwise operators on integers (exact, with broadcasting; unsigned 64-bit values are held as
/// their bit patterns, so the results are exact too) and `BitCast`, which reinterprets the bits
/// of each element as another type of the same width.
extension ONNXOperators {
  static let bitwise: [String: Kernel] = [
    "BitwiseAnd": bitwiseBinary { $0 & $1 }, "BitwiseOr": bitwiseBinary { $0 | $1 }, "BitwiseXor": bitwiseBinary { $0 ^ $1 },
    "BitwiseNot": { n throws(ONNXError) in
      let x = try n.integers(0)
      return [.integer(ONNXIntegers(shape: x.shape, values: x.values.map { x.dataType.wrapping(~$0) }, dataType: x.dataType))]
    },
    "BitCast": bitCast,
  ]

  static func bitwiseBinary(_ f: @escaping @Sendable (Int64, Int64) -> Int64) -> Kernel {
    { n throws(ONNXError) in [.integer(try integerBinary(n.integers(0), n.integers(1), n, f))] }
  }

  /// Bits per element of the types `BitCast` handles; nil for the others.
  static func bitWidth(_ type: TensorProto.DataType) -> Int? {
    if type == .bool { return 8 }
    if let bytes = type.integerByteSize { return 8 * bytes }
    if type == .float { return 32 }
    return ONNXFloatFormat(type).flatMap { $0.bitWidth >= 16 ? $0.bitWidth : nil }
  }

  static func bitCast(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.value(0)
    let raw = n.int("to", default: 0)
    guard let target = TensorProto.DataType(rawValue: Int32(clamping: raw)), let width = bitWidth(target), let sourceWidth = bitWidth(x.dataType) else {
      let name = TensorProto.DataType(rawValue: Int32(clamping: raw)).map { "\($0)" } ?? "\(raw)"
      throw n.fail("bit-casting \(x.dataType) to \(name) is not supported (double is held as Float32; strings are not represented)")
    }
    guard width == sourceWidth else { throw n.fail("\(x.dataType) and \(target) differ in width (\(sourceWidth) and \(width) bits)") }
    let mask: UInt64 = width == 64 ? .max : (1 << UInt64(width)) - 1
    let bits: [UInt64]
    switch x {
    case .integer(let i): bits = i.values.map { UInt64(bitPattern: $0) & mask }
    case .float(let t): bits = t.scalars.map { UInt64($0.bitPattern) }
    case .floating(let t, let type):
      guard let format = ONNXFloatFormat(type) else { throw n.fail("bit-casting \(type) is not supported") }
      bits = t.scalars.map { UInt64(format.encode($0)) }
    }
    if target == .float { return [.float(Tensor(shape: x.shape, scalars: bits.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }))] }
    if let format = ONNXFloatFormat(target) {
      return [.floating(Tensor(shape: x.shape, scalars: bits.map { format.decode(UInt32(truncatingIfNeeded: $0)) }), target)]
    }
    return [.integer(ONNXIntegers(shape: x.shape, values: bits.map { target.wrapping(Int64(bitPattern: $0)) }, dataType: target))]
  }
}
