import WinnowCore

/// Linear quantization: `q = saturate(round(x / scale) + zeroPoint)` and
/// `x = (q − zeroPoint) · scale`, per tensor, per channel along `axis`, or per block of
/// `block_size` elements along `axis`; integer matmul.
///
/// Quantized types: int8/uint8, int16/uint16, int4/uint4 and int2/uint2 (round half to even,
/// then clamp), float8 (`x / scale` cast to the format, saturating unless `saturate = 0`) and
/// float4e2m1 (`x / scale + zeroPoint` cast to the format).
extension ONNXOperators {
  static let quantization: [String: Kernel] = [
    "QuantizeLinear": quantizeLinear, "DequantizeLinear": dequantizeLinear, "MatMulInteger": matmulInteger,
  ]

  /// Scale and zero point of every element of a tensor of `shape`.
  struct QuantizationParameters {
    var scales: [Float]
    var zeros: [Float]
    /// The element type of the zero point, when one is given.
    var zeroType: TensorProto.DataType?
    var scaleType: TensorProto.DataType
  }

  static func quantizationParameters(_ n: ONNXNode, shape: [Int]) throws(ONNXError) -> QuantizationParameters {
    let scaleValue = try n.value(1)
    guard let scale = scaleValue.floatValues else { throw n.fail("the scale must be a float tensor, got \(scaleValue.dataType)") }
    let zeroValue = n.has(2) ? try n.value(2) : nil
    let zeros: [Float]?
    switch zeroValue {
    case .integer(let z)?: zeros = z.values.map { Float($0) }  // exact: quantized types have ≤ 16 bits
    case let z?: zeros = z.floatValues?.scalars
    case nil: zeros = nil
    }
    if let zeroValue, zeroValue.shape != scale.shape && !(zeroValue.shape.reduce(1, *) == 1 && scale.count == 1) { throw n.fail("zero point \(zeroValue.shape) and scale \(scale.shape) differ") }
    let index = try parameterIndex(n, shape: shape, parameterShape: scale.shape)
    let scales = scale.scalars
    return QuantizationParameters(
      scales: index.map { scales[$0] }, zeros: zeros.map { z in index.map { z[$0] } } ?? [Float](repeating: 0, count: index.count),
      zeroType: zeroValue?.dataType, scaleType: scaleValue.dataType)
  }

  /// For each element of a tensor of `shape`, the index of its scale: one scale, one per slice
  /// along `axis`, or (`block_size` B > 0) a tensor of `shape` with `⌈shape[axis] / B⌉` along
  /// `axis`, element `[…, a, …]` reading scale `[…, a / B, …]`.
  static func parameterIndex(_ n: ONNXNode, shape: [Int], parameterShape: [Int]) throws(ONNXError) -> [Int] {
    let count = shape.reduce(1, *)
    let parameterCount = parameterShape.reduce(1, *)
    if parameterCount == 1 && parameterShape.count <= 1 { return [Int](repeating: 0, count: count) }
    let axis = try n.axis(n.int("axis", default: 1), rank: shape.count)
    let inner = shape[(axis + 1)...].reduce(1, *)
    let blockSize = n.int("block_size", default: 0)
    if blockSize <= 0 {
      guard parameterShape == [shape[axis]] else { throw n.fail("scale \(parameterShape) does not match axis \(axis) of \(shape)") }
      return (0..<count).map { ($0 / inner) % shape[axis] }
    }
    var expected = shape
    expected[axis] = (shape[axis] + blockSize - 1) / blockSize
    guard parameterShape == expected else {
      throw n.fail("scale \(parameterShape) does not fit blocks of \(blockSize) along axis \(axis) of \(shape) (expected \(expected))")
    }
    return (0..<count).map { i in
      let (outer, a, r) = (i / (shape[axis] * inner), (i / inner) % shape[axis], i % inner)
      return (outer * expected[axis] + a / blockSize) * inner + r
    }
  }

  static func quantizeLinear(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let input = try n.value(0)
    guard let x = input.floatValues else { throw n.fail("input 0 must be a float tensor, got \(input.dataType)") }
    let p = try quantizationParameters(n, shape: x.shape)
    let declared = n.int("output_dtype", default: 0)
    let type = p.zeroType ?? (declared == 0 ? .uint8 : TensorProto.DataType(rawValue: Int32(clamping: declared)) ?? .undefined)
    if let zeroType = p.zeroType, declared != 0, Int(zeroType.rawValue) != declared {
      throw n.fail("output_dtype \(declared) differs from the zero point's type \(zeroType)")
    }
    let quotients = try scaledInputs(x.scalars, p, inputType: input.dataType, n)
    if type.isInteger && type != .bool && type.integerByteSize.map({ $0 <= 2 }) ?? true {
      let range = type.integerRange
      let values = quotients.enumerated().map { i, v -> Int64 in
        let shifted = v.isNaN ? Double(p.zeros[i]) : Double(v.rounded(.toNearestOrEven)) + Double(p.zeros[i])
        return Int64(Swift.min(Swift.max(shifted, Double(range.lowerBound)), Double(range.upperBound)))
      }
      return [.integer(ONNXIntegers(shape: x.shape, values: values, dataType: type))]
    }
    guard let format = ONNXFloatFormat(type), format.bitWidth <= 8 else { throw n.fail("quantizing to \(type) is not supported") }
    let isFloat4 = type == .float4e2m1
    let saturate = !isFloat4 && n.int("saturate", default: 1) != 0
    let values = quotients.enumerated().map { i, v in format.rounded(isFloat4 ? v + p.zeros[i] : v, saturate: saturate) }
    return [.floating(Tensor(shape: x.shape, scalars: values), type)]
  }

  /// `x / scale` in the precision the operator computes in: the `precision` attribute's type,
  /// else the input's own type (float16 / float16 divides in float16).
  static func scaledInputs(_ x: [Float], _ p: QuantizationParameters, inputType: TensorProto.DataType, _ n: ONNXNode) throws(ONNXError) -> [Float] {
    let precision = n.int("precision", default: 0)
    let computeType = precision != 0 ? TensorProto.DataType(rawValue: Int32(clamping: precision)) : (inputType == p.scaleType ? inputType : .float)
    guard let computeType, computeType.isFloatingPoint else { throw n.fail("precision \(precision) is not a float type") }
    guard let format = ONNXFloatFormat(computeType) else { return zip(x, p.scales).map { $0 / $1 } }
    return zip(x, p.scales).map { format.rounded(format.rounded($0) / format.rounded($1)) }
  }

  static func dequantizeLinear(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let input = try n.value(0)
    let p = try quantizationParameters(n, shape: input.shape)
    let codes: [Float]
    switch input {
    case .integer(let q):
      if let zeroType = p.zeroType, zeroType != q.dataType { throw n.fail("zero point type \(zeroType) differs from the input's \(q.dataType)") }
      codes = q.values.enumerated().map { i, v in Float(Double(v) - Double(p.zeros[i])) }
    case .floating(let q, let type) where type.isFloatingPoint && ONNXFloatFormat(type).map({ $0.bitWidth <= 8 }) ?? false:
      // Float8 and float4 codes are values already; a float8 zero point must be zero.
      guard type == .float4e2m1 || p.zeros.allSatisfy({ $0 == 0 }) else { throw n.fail("a \(type) zero point must be zero") }
      codes = q.scalars
    default:
      throw n.fail("dequantizing \(input.dataType) is not supported")
    }
    let declared = n.int("output_dtype", default: 0)
    let outputType = declared == 0 ? p.scaleType : TensorProto.DataType(rawValue: Int32(clamping: declared)) ?? .undefined
    guard outputType.isFloatingPoint else { throw n.fail("output_dtype \(declared) is not a float type") }
    return [.floating(Tensor(shape: input.shape, scalars: zip(codes, p.scales).map { $0 * $1 }), as: outputType)]
  }

  /// `(A − a₀)·(B − b₀)` in exact integer arithmetic (int32 result), batch axes broadcast;
  /// `a₀` per tensor or per row of A, `b₀` per tensor or per column of B.
  static func matmulInteger(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    var a = try n.integers(0), b = try n.integers(1)
    let a0 = n.has(2) ? try n.integers(2) : nil, b0 = n.has(3) ? try n.integers(3) : nil
    guard a.shape.count >= 2, b.shape.count >= 2 else { throw n.fail("supports A and B of rank ≥ 2, got \(a.shape) and \(b.shape)") }
    let (m, k, columns) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
    if let a0 {
      guard a0.count == 1 || (a0.shape == [m]) else { throw n.fail("zero point of A \(a0.shape) does not fit \(a.shape)") }
      a.values = a.values.enumerated().map { i, v in v - a0.values[a0.count == 1 ? 0 : (i / Swift.max(k, 1)) % m] }
    }
    if let b0 {
      guard b0.count == 1 || b0.shape == [columns] else { throw n.fail("zero point of B \(b0.shape) does not fit \(b.shape)") }
      b.values = b.values.enumerated().map { i, v in v - b0.values[b0.count == 1 ? 0 : i % columns] }
    }
    let (c, shape) = try integerMatmul(a, b, n)
    return [.integer(ONNXIntegers(shape: shape, values: c.map { TensorProto.DataType.int32.wrapping($0) }, dataType: .int32))]
  }
}
