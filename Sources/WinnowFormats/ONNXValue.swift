import WinnowCore

/// A value flowing through an imported graph: Float32 data as a Winnow ``Tensor`` (so it can
/// be recorded and differentiated), integers and booleans as exact 64-bit values (shapes,
/// indices, masks and quantized data; never differentiated).
public enum ONNXValue: Sendable, Equatable {
  case float(Tensor)
  /// A float tensor of another element type (float16, bfloat16, double, float8, float4): the
  /// values as Float32 — exact for every type but double, which holds the nearest Float32.
  /// Operators compute on the Float32 values and round their results back to the type
  /// (``ONNXOperators/run(_:_:)``).
  case floating(Tensor, TensorProto.DataType)
  case integer(ONNXIntegers)

  public var shape: [Int] {
    switch self {
    case .float(let t), .floating(let t, _): return t.shape
    case .integer(let i): return i.shape
    }
  }

  /// The ONNX element type of this value.
  public var dataType: TensorProto.DataType {
    switch self {
    case .float: return .float
    case .floating(_, let type): return type
    case .integer(let i): return i.dataType
    }
  }

  /// The values of a float value of any precision as Float32; nil for integers.
  public var floatValues: Tensor? {
    switch self {
    case .float(let t), .floating(let t, _): return t
    case .integer: return nil
    }
  }

  /// `t` as a value of the float element type `type`, rounded to it (ties to even).
  ///
  /// A tracked tensor keeps its Float32 values (rounding has no derivative): the recorded
  /// computation runs in Float32 and only constants are rounded.
  public static func floating(_ t: Tensor, as type: TensorProto.DataType) -> ONNXValue {
    guard type != .float else { return .float(t) }
    guard let format = ONNXFloatFormat(type), !t.isTracked else { return .floating(t, type) }
    return .floating(Tensor(shape: t.shape, scalars: t.scalars.map { format.rounded($0) }), type)
  }
}

/// Integer (or boolean) data of any ONNX integer element type, widened to `Int64`.
public struct ONNXIntegers: Sendable, Equatable {
  public var shape: [Int]
  public var values: [Int64]
  /// The element type the values belong to (`int64`, `int32`, `int8`, `uint8`, `bool`, …).
  public var dataType: TensorProto.DataType

  public init(shape: [Int], values: [Int64], dataType: TensorProto.DataType = .int64) {
    precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
    self.shape = shape
    self.values = values
    self.dataType = dataType
  }

  public var count: Int { values.count }

  /// The values as Float32 (exact for |x| ≤ 2²⁴).
  public var floatTensor: Tensor { Tensor(shape: shape, scalars: values.map { Float($0) }) }
}

/// Element types Winnow converts, with their size in `raw_data`.
extension TensorProto.DataType {
  /// Bytes per integer element; nil for floats and the packed 4- and 2-bit types.
  var integerByteSize: Int? {
    switch self {
    case .int8, .uint8, .bool: return 1
    case .int16, .uint16: return 2
    case .int32, .uint32: return 4
    case .int64, .uint64: return 8
    default: return nil
    }
  }

  /// Bits per element of the integer types packed several to a byte (low bits first).
  var packedIntegerBits: Int? {
    switch self {
    case .int4, .uint4: return 4
    case .int2, .uint2: return 2
    default: return nil
    }
  }

  var isInteger: Bool { integerByteSize != nil || packedIntegerBits != nil }

  /// Float32 and the other floating-point types (``ONNXFloatFormat``, double, float8e8m0).
  var isFloatingPoint: Bool { self == .float || self == .double || self == .float8e8m0 || ONNXFloatFormat(self) != nil }

  var isSigned: Bool { [.int2, .int4, .int8, .int16, .int32, .int64].contains(self) }

  /// The range a value of this type holds (for saturating casts and quantization).
  var integerRange: ClosedRange<Int64> {
    switch self {
    case .int2: return -2...1
    case .uint2: return 0...3
    case .int4: return -8...7
    case .uint4: return 0...15
    case .int8: return -128...127
    case .uint8: return 0...255
    case .bool: return 0...1
    case .int16: return -32768...32767
    case .uint16: return 0...65535
    case .int32: return Int64(Int32.min)...Int64(Int32.max)
    case .uint32: return 0...Int64(UInt32.max)
    default: return Int64.min...Int64.max
    }
  }

  /// Wraps `value` into this type as a C cast would (two's complement truncation).
  func wrapping(_ value: Int64) -> Int64 {
    switch self {
    case .int2, .int4, .uint2, .uint4:
      let bits = Int64(packedIntegerBits ?? 8), low = value & ((1 << bits) - 1)
      return isSigned && low >= 1 << (bits - 1) ? low - (1 << bits) : low
    case .int8: return Int64(Int8(truncatingIfNeeded: value))
    case .uint8: return Int64(UInt8(truncatingIfNeeded: value))
    case .bool: return value != 0 ? 1 : 0
    case .int16: return Int64(Int16(truncatingIfNeeded: value))
    case .uint16: return Int64(UInt16(truncatingIfNeeded: value))
    case .int32: return Int64(Int32(truncatingIfNeeded: value))
    case .uint32: return Int64(UInt32(truncatingIfNeeded: value))
    default: return value
    }
  }
}
