import WinnowCore

/// Linear quantization: `q = saturate(round(x / scale) + zeroPoint)` and
/// `x = (q − zeroPoint) · scale`, per tensor or per channel along `axis`; integer matmul.
extension ONNXOperators {
  static let quantization: [String: Kernel] = [
    "QuantizeLinear": quantizeLinear, "DequantizeLinear": dequantizeLinear, "MatMulInteger": matmulInteger,
  ]

  /// Per-element scale and zero point (broadcast per tensor or along `axis`, or blocked).
  static func quantizationParameters(_ n: ONNXNode, shape: [Int]) throws(ONNXError) -> (scales: [Float], zeros: [Int64], type: TensorProto.DataType?) {
    let scale = try n.float(1)
    let zero = n.has(2) ? try n.integers(2) : nil
    if let zero, zero.count != scale.count { throw n.fail("zero point \(zero.shape) and scale \(scale.shape) differ") }
    let count = shape.reduce(1, *)
    let channel: [Int]
    if scale.count == 1 {
      channel = [Int](repeating: 0, count: count)
    } else {
      guard n.int("block_size", default: 0) == 0 else { throw n.fail("blocked quantization is not supported") }
      let axis = try n.axis(n.int("axis", default: 1), rank: shape.count)
      guard scale.rank == 1, scale.count == shape[axis] else { throw n.fail("scale \(scale.shape) does not match axis \(axis) of \(shape)") }
      let inner = shape[(axis + 1)...].reduce(1, *)
      channel = (0..<count).map { ($0 / inner) % shape[axis] }
    }
    let scales = scale.scalars, zeros = zero?.values ?? [Int64](repeating: 0, count: scale.count)
    return (channel.map { scales[$0] }, channel.map { zeros[$0] }, zero?.dataType)
  }

  static func quantizeLinear(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let p = try quantizationParameters(n, shape: x.shape)
    let type = p.type ?? TensorProto.DataType(rawValue: Int32(clamping: n.int("output_dtype", default: 2))) ?? .uint8
    guard type.integerByteSize != nil, type.integerByteSize! <= 2 else { throw n.fail("quantizing to \(type) is not supported") }
    let range = type.integerRange
    let values = x.scalars.enumerated().map { i, v -> Int64 in
      let q = (v / p.scales[i]).rounded(.toNearestOrEven)
      let shifted = q.isNaN ? 0 : Double(q) + Double(p.zeros[i])
      return Int64(Swift.min(Swift.max(shifted, Double(range.lowerBound)), Double(range.upperBound)))
    }
    return [.integer(ONNXIntegers(shape: x.shape, values: values, dataType: type))]
  }

  static func dequantizeLinear(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let q = try n.integers(0)
    let p = try quantizationParameters(n, shape: q.shape)
    let values = q.values.enumerated().map { i, v in Float(v - p.zeros[i]) * p.scales[i] }
    return [.float(Tensor(shape: q.shape, scalars: values))]
  }

  /// `(A − a₀)·(B − b₀)` in exact integer arithmetic (int32 result); 2-D or batched.
  static func matmulInteger(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    var a = try n.integers(0), b = try n.integers(1)
    let a0 = n.has(2) ? try n.integers(2) : nil, b0 = n.has(3) ? try n.integers(3) : nil
    guard a.shape.count >= 2, b.shape.count == 2 else { throw n.fail("supports A of rank ≥ 2 and rank-2 B, got \(a.shape) and \(b.shape)") }
    let (k, columns) = (b.shape[0], b.shape[1])
    guard a.shape.last == k else { throw n.fail("inner sizes differ: \(a.shape) · \(b.shape)") }
    if let a0 { guard a0.count == 1 else { throw n.fail("per-row zero points for A are not supported") }; a.values = a.values.map { $0 - a0.values[0] } }
    if let b0 {
      guard b0.count == 1 || b0.count == columns else { throw n.fail("zero point of B \(b0.shape) does not fit \(b.shape)") }
      b.values = b.values.enumerated().map { i, v in v - b0.values[b0.count == 1 ? 0 : i % columns] }
    }
    let rows = a.count / k
    var c = [Int64](repeating: 0, count: rows * columns)
    for r in 0..<rows {
      for kk in 0..<k {
        let av = a.values[r * k + kk]
        if av == 0 { continue }
        for j in 0..<columns { c[r * columns + j] += av * b.values[kk * columns + j] }
      }
    }
    return [.integer(ONNXIntegers(shape: Array(a.shape.dropLast()) + [columns], values: c.map { TensorProto.DataType.int32.wrapping($0) }, dataType: .int32))]
  }
}
