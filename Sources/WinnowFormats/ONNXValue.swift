import WinnowCore

/// A value flowing through an imported graph: Float32 data as a Winnow ``Tensor`` (so it can
/// be recorded and differentiated), integers and booleans as exact 64-bit values (shapes,
/// indices, masks and quantized data; never differentiated).
public enum ONNXValue: Sendable, Equatable {
  case float(Tensor)
  case integer(ONNXIntegers)

  public var shape: [Int] {
    switch self {
    case .float(let t): return t.shape
    case .integer(let i): return i.shape
    }
  }

  /// The ONNX element type of this value.
  public var dataType: TensorProto.DataType {
    switch self {
    case .float: return .float
    case .integer(let i): return i.dataType
    }
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

/// Element types Winnow converts, with their byte size in `raw_data`.
extension TensorProto.DataType {
  var integerByteSize: Int? {
    switch self {
    case .int8, .uint8, .bool: return 1
    case .int16, .uint16: return 2
    case .int32, .uint32: return 4
    case .int64, .uint64: return 8
    default: return nil
    }
  }

  var isSigned: Bool { [.int8, .int16, .int32, .int64].contains(self) }

  /// The range a value of this type holds (for saturating casts and quantization).
  var integerRange: ClosedRange<Int64> {
    switch self {
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
