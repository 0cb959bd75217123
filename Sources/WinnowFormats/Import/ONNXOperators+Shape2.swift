import WinnowCore

extension ONNXOperators {
  static func split(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let axis = try n.axis(n.int("axis", default: 0), rank: dims.count)
    let outputs = n.node.output.count
    var sizes: [Int]
    if n.opset >= 13, n.has(1) {
      sizes = try n.intList(1)
    } else if n.opset < 13, let given = n.ints("split") {
      sizes = given
    } else {
      let parts = n.int("num_outputs", default: outputs)
      guard parts > 0 else { throw n.fail("num_outputs must be positive") }
      let chunk = (dims[axis] + parts - 1) / parts
      sizes = (0..<parts).map { Swift.max(0, Swift.min(chunk, dims[axis] - $0 * chunk)) }
    }
    guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == dims[axis], sizes.count == outputs else {
      throw n.fail("split sizes \(sizes) do not cover axis \(axis) of \(dims) in \(outputs) outputs")
    }
    var offset = 0
    var results: [ONNXValue] = []
    for size in sizes {
      let range = offset..<(offset + size)
      results.append(try moving(n, data: [0]) { $0[0].slice(axis: axis, range) })
      offset += size
    }
    return results
  }

  static func tile(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let repeats = try n.intList(1)
    guard repeats.count == dims.count, repeats.allSatisfy({ $0 >= 0 }) else { throw n.fail("repeats \(repeats) do not fit shape \(dims)") }
    return [try moving(n, data: [0]) { inputs in
      repeats.enumerated().reduce(inputs[0]) { x, entry in
        let copies = [Tensor](repeating: x, count: entry.element)
        return copies.isEmpty ? x.slice(axis: entry.offset, 0..<0) : Tensor.concat(copies, axis: entry.offset)
      }
    }]
  }

  /// Constant padding (reflect and edge modes are not supported); negative pads crop.
  static func pad(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    guard n.string("mode", default: "constant") == "constant" else { throw n.fail("only mode 'constant' is supported") }
    let pads = try n.intList(1)
    let axes = try n.axes(inputIndex: 3, rank: x.rank) ?? Array(0..<x.rank)
    guard pads.count == 2 * axes.count else { throw n.fail("pads \(pads) do not fit axes \(axes)") }
    let value = n.has(2) ? try n.float(2).scalars.first ?? 0 : 0
    var begin = [Int](repeating: 0, count: x.rank), end = begin
    for (k, axis) in axes.enumerated() { (begin[axis], end[axis]) = (pads[k], pads[k + axes.count]) }
    var y = x
    for axis in 0..<x.rank where begin[axis] < 0 || end[axis] < 0 {
      let lower = Swift.max(-begin[axis], 0), upper = y.shape[axis] - Swift.max(-end[axis], 0)
      guard lower <= upper else { throw n.fail("pads \(pads) crop axis \(axis) of \(x.shape) below zero") }
      y = y.slice(axis: axis, lower..<upper)
    }
    return [.float(padded(y, begin: begin.map { Swift.max($0, 0) }, end: end.map { Swift.max($0, 0) }, value: value))]
  }

  static func constant(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    if let t = try n.tensorAttribute("value") { return [t] }
    if let a = n.attribute("value_float") { return [.float(Tensor(a.f))] }
    if let a = n.attribute("value_floats") { return [.float(Tensor(a.floats))] }
    if let a = n.attribute("value_int") { return [.integer(ONNXIntegers(shape: [], values: [a.i]))] }
    if let a = n.attribute("value_ints") { return [.integer(ONNXIntegers(shape: [a.ints.count], values: a.ints))] }
    throw n.fail("has no supported value attribute (value, value_float(s), value_int(s))")
  }

  static func range(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    switch (try n.value(0), try n.value(1), try n.value(2)) {
    case (.integer(let s), .integer(let l), .integer(let d)):
      guard let start = s.values.first, let limit = l.values.first, let delta = d.values.first, delta != 0 else { throw n.fail("needs scalar start, limit and a non-zero delta") }
      let count = Swift.max(0, Int((Double(limit - start) / Double(delta)).rounded(.up)))
      guard count <= TensorProto.maximumElementCount else { throw n.fail("range of \(count) elements is too large") }
      return [.integer(ONNXIntegers(shape: [count], values: (0..<count).map { start + Int64($0) * delta }, dataType: s.dataType))]
    case (.float(let s), .float(let l), .float(let d)):
      guard s.count == 1, l.count == 1, d.count == 1, d.scalar != 0 else { throw n.fail("needs scalar start, limit and a non-zero delta") }
      let count = Swift.max(0, Int(((l.scalar - s.scalar) / d.scalar).rounded(.up)))
      guard count <= TensorProto.maximumElementCount else { throw n.fail("range of \(count) elements is too large") }
      return [.float(Tensor((0..<count).map { s.scalar + Float($0) * d.scalar }))]
    default:
      throw n.fail("start, limit and delta must have one element type")
    }
  }
}
