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

  /// `Cast` between float32 and the integer and boolean types (C semantics: float → integer
  /// truncates toward zero, integer → narrower integer wraps). Not differentiable.
  static func cast(_ value: ONNXValue, to rawType: Int, _ n: ONNXNode) throws(ONNXError) -> ONNXValue {
    guard let type = TensorProto.DataType(rawValue: Int32(clamping: rawType)), type == .float || type.integerByteSize != nil else {
      throw n.fail("casting to element type \(TensorProto.DataType(rawValue: Int32(clamping: rawType)).map { "\($0)" } ?? "\(rawType)") is not supported")
    }
    switch value {
    case .float(let t):
      if type == .float { return .float(t) }
      let values = t.scalars.map { v -> Int64 in
        if type == .bool { return v != 0 ? 1 : 0 }
        guard v.isFinite else { return 0 }
        return type.wrapping(Int64(Swift.max(Swift.min(v.rounded(.towardZero), 9.2e18), -9.2e18)))
      }
      return .integer(ONNXIntegers(shape: t.shape, values: values, dataType: type))
    case .integer(let i):
      if type == .float { return .float(i.floatTensor) }
      return .integer(ONNXIntegers(shape: i.shape, values: i.values.map { type.wrapping($0) }, dataType: type))
    }
  }
}
