import WinnowCore

extension ONNXOperators {
  /// `Where(condition, x, y)`: x where the condition holds, else y, with broadcasting.
  ///
  /// Winnow has no select op, so a recorded operand is multiplied by the 0/1 condition (its
  /// gradient flows exactly where it is chosen); a constant operand has its unchosen entries
  /// replaced by 0 first, so constants such as −∞ attention masks never meet `0·∞`.
  static func whereSelect(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let condition = try n.integers(0)
    switch (try n.value(1), try n.value(2)) {
    case (.integer(let x), .integer(let y)):
      let shape = try n.broadcast(condition.shape, n.broadcast(x.shape, y.shape))
      let (ic, ix, iy) = (broadcastSourceIndices(condition.shape, to: shape), broadcastSourceIndices(x.shape, to: shape),
                          broadcastSourceIndices(y.shape, to: shape))
      let values = (0..<ic.count).map { condition.values[ic[$0]] != 0 ? x.values[ix[$0]] : y.values[iy[$0]] }
      return [.integer(ONNXIntegers(shape: shape, values: values, dataType: x.dataType))]
    case (.float(let x), .float(let y)):
      let shape = try n.broadcast(condition.shape, n.broadcast(x.shape, y.shape))
      let chosen = broadcastSourceIndices(condition.shape, to: shape).map { condition.values[$0] != 0 }
      return [.float(selected(x, where: chosen, shape) + selected(y, where: chosen.map { !$0 }, shape))]
    default:
      throw n.fail("x and y must have the same element type")
    }
  }

  /// `t` broadcast to `shape` with the entries where `keep` is false set to zero.
  static func selected(_ t: Tensor, where keep: [Bool], _ shape: [Int]) -> Tensor {
    if t.isTracked {
      let mask = Tensor(shape: shape, scalars: keep.map { $0 ? 1 : 0 })
      return t.expanded(to: shape) * mask
    }
    let source = broadcastSourceIndices(t.shape, to: shape)
    let values = t.scalars
    return Tensor(shape: shape, scalars: (0..<source.count).map { keep[$0] ? values[source[$0]] : 0 })
  }

  /// `Cast` between every numeric element type: float → integer truncates toward zero and
  /// wraps (C semantics), integer → narrower integer wraps, float → narrower float rounds to
  /// nearest, ties to even. Out-of-range values become ±∞ or NaN, or with `saturate` (the
  /// default, float8 targets only) the largest finite value; float8e8m0 rounds by `round_mode`.
  /// Not differentiable.
  static func cast(_ value: ONNXValue, to rawType: Int, _ n: ONNXNode) throws(ONNXError) -> ONNXValue {
    guard let type = TensorProto.DataType(rawValue: Int32(clamping: rawType)), type.isFloatingPoint || type.isInteger else {
      throw n.fail("casting to element type \(TensorProto.DataType(rawValue: Int32(clamping: rawType)).map { "\($0)" } ?? "\(rawType)") is not supported")
    }
    let t: Tensor
    switch value {
    case .integer(let i):
      if type.isInteger { return .integer(ONNXIntegers(shape: i.shape, values: i.values.map { type.wrapping($0) }, dataType: type)) }
      t = i.floatTensor
    case .float(let x), .floating(let x, _): t = x
    }
    if type.isInteger {
      let values = t.scalars.map { v -> Int64 in
        if type == .bool { return v != 0 ? 1 : 0 }
        guard v.isFinite else { return 0 }
        return type.wrapping(Int64(Swift.max(Swift.min(v.rounded(.towardZero), 9.2e18), -9.2e18)))
      }
      return .integer(ONNXIntegers(shape: t.shape, values: values, dataType: type))
    }
    let y = try castFloats(t, to: type, n)
    return type == .float ? .float(y) : .floating(y, type)
  }

  /// Float32 values rounded to the float type `type` (float32 itself is returned as is).
  static func castFloats(_ t: Tensor, to type: TensorProto.DataType, _ n: ONNXNode) throws(ONNXError) -> Tensor {
    let saturate = n.int("saturate", default: 1) != 0
    if type == .float8e8m0 {
      let mode = n.string("round_mode", default: "up")
      guard let rounding = Float8E8M0.RoundingMode(rawValue: mode) else { throw n.fail("unknown round_mode '\(mode)'") }
      return Tensor(shape: t.shape, scalars: t.scalars.map { Float8E8M0.decode(Float8E8M0.encode($0, saturate: saturate, rounding: rounding)) })
    }
    guard let format = ONNXFloatFormat(type) else { return t }
    let saturating = saturate && format.bitWidth == 8
    return Tensor(shape: t.shape, scalars: t.scalars.map { format.rounded($0, saturate: saturating) })
  }
}
