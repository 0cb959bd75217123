import WinnowCore

/// Operators that move data without computing on it. Each is written once, on float
/// tensors; integer inputs run through the same code as tensors of their element positions
/// (exact below 2²⁴ elements), and the positions are then read back from the integers.
extension ONNXOperators {
  static let shape: [String: Kernel] = [
    "Reshape": reshape, "Transpose": transpose, "Flatten": flatten, "Concat": concat,
    "Gather": gather, "Slice": slice, "Squeeze": squeeze, "Unsqueeze": unsqueeze, "Expand": expand,
    "Split": split, "Tile": tile, "Pad": pad,
    "Shape": { n throws(ONNXError) in
      let dims = try n.value(0).shape
      let rank = dims.count
      let clampAxis = { (a: Int) in Swift.min(Swift.max(a < 0 ? a + rank : a, 0), rank) }
      let start = clampAxis(n.int("start", default: 0)), end = Swift.max(clampAxis(n.int("end", default: rank)), start)
      let values = dims[start..<end].map { Int64($0) }
      return [.integer(ONNXIntegers(shape: [values.count], values: values))]
    },
    "Size": { n throws(ONNXError) in
      [.integer(ONNXIntegers(shape: [], values: [Int64(try n.value(0).shape.reduce(1, *))]))]
    },
    "Constant": constant,
    "ConstantOfShape": { n throws(ONNXError) in
      let dims = try n.intList(0)
      guard dims.allSatisfy({ $0 >= 0 }), dims.reduce(1, { $0 * Swift.max($1, 1) }) <= TensorProto.maximumElementCount else {
        throw n.fail("cannot make a tensor of shape \(dims)")
      }
      switch try n.tensorAttribute("value") ?? .float(Tensor(shape: [1], repeating: 0)) {
      case .float(let v): return [.float(Tensor(shape: dims, repeating: v.scalars.first ?? 0))]
      case .floating(let v, let type): return [.floating(Tensor(shape: dims, repeating: v.scalars.first ?? 0), type)]
      case .integer(let v):
        return [.integer(ONNXIntegers(shape: dims, values: [Int64](repeating: v.values.first ?? 0, count: dims.reduce(1, *)), dataType: v.dataType))]
      }
    },
    "Range": range,
    "Dropout": { n throws(ONNXError) in
      let x = try n.value(0)
      // Training-mode dropout is random: no two runtimes agree on the mask. Ratio 0 keeps all.
      let ratio = n.has(1) ? try n.float(1).scalars.first ?? 0.5 : 0.5
      if n.has(2), try n.integers(2).values.first != 0, ratio != 0 { throw n.fail("training_mode with ratio \(ratio) is not supported (random)") }
      return [x, .integer(ONNXIntegers(shape: x.shape, values: [Int64](repeating: 1, count: x.shape.reduce(1, *)), dataType: .bool))]
    },
  ]

  /// Runs `f` on the float data inputs, or on position tensors when they are integers.
  static func moving(_ n: ONNXNode, data indices: [Int], _ f: ([Tensor]) throws(ONNXError) -> Tensor) throws(ONNXError) -> ONNXValue {
    let values = try indices.map { i throws(ONNXError) in try n.value(i) }
    if values.allSatisfy({ if case .float = $0 { return true } else { return false } }) {
      return .float(try f(values.map { if case .float(let t) = $0 { return t } else { return Tensor(0) } }))
    }
    var pool: [Int64] = []
    var positions: [Tensor] = []
    var type: TensorProto.DataType = .int64
    for value in values {
      guard case .integer(let i) = value else { throw n.fail("mixes float and integer inputs") }
      guard pool.count + i.count < 1 << 24 else { throw n.fail("integer tensor too large to move") }
      positions.append(Tensor(shape: i.shape, scalars: (0..<i.count).map { Float(pool.count + $0) }))
      pool += i.values
      type = i.dataType
    }
    let moved = try f(positions)
    return .integer(ONNXIntegers(shape: moved.shape, values: moved.scalars.map { pool[Int($0)] }, dataType: type))
  }

  static func reshape(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    var target = try n.intList(1)
    let allowZero = n.int("allowzero", default: 0) != 0
    for i in target.indices where target[i] == 0 && !allowZero {
      guard i < dims.count else { throw n.fail("shape \(target) copies axis \(i) of a rank-\(dims.count) input") }
      target[i] = dims[i]
    }
    let count = dims.reduce(1, *)
    if let unknown = target.firstIndex(of: -1) {
      let known = target.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
      guard target.filter({ $0 == -1 }).count == 1, known > 0, count % known == 0 else {
        throw n.fail("cannot reshape \(dims) to \(try n.intList(1))")
      }
      target[unknown] = count / known
    }
    guard target.allSatisfy({ $0 >= 0 }), target.reduce(1, *) == count else {
      throw n.fail("cannot reshape \(dims) (\(count) elements) to \(target)")
    }
    return [try moving(n, data: [0]) { $0[0].reshaped(target) }]
  }

  static func transpose(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let rank = try n.value(0).shape.count
    let permutation = n.ints("perm") ?? Array((0..<rank).reversed())
    guard permutation.sorted() == Array(0..<rank) else { throw n.fail("perm \(permutation) is not a permutation of \(rank) axes") }
    return [try moving(n, data: [0]) { $0[0].permuted(permutation) }]
  }

  static func flatten(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    var axis = n.int("axis", default: 1)
    if axis < 0 { axis += dims.count }
    guard axis >= 0 && axis <= dims.count else { throw n.fail("axis \(axis) out of range for \(dims)") }
    let target = [dims[..<axis].reduce(1, *), dims[axis...].reduce(1, *)]
    return [try moving(n, data: [0]) { $0[0].reshaped(target) }]
  }

  static func concat(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let parts = Array(0..<n.inputCount).filter { n.has($0) }
    guard let first = parts.first else { throw n.fail("has no inputs") }
    let dims = try n.value(first).shape
    let axis = try n.axis(n.int("axis", default: 0), rank: dims.count)
    for i in parts {
      let other = try n.value(i).shape
      guard other.count == dims.count, (0..<dims.count).allSatisfy({ $0 == axis || other[$0] == dims[$0] }) else {
        throw n.fail("input shapes \(dims) and \(other) differ outside axis \(axis)")
      }
    }
    return [try moving(n, data: parts) { Tensor.concat($0, axis: axis) }]
  }

  /// `x` indexed along `axis` by `indices` (already in range), with shape
  /// `x.shape[..<axis] + indexShape + x.shape[(axis+1)...]`.
  static func take(_ x: Tensor, axis: Int, indices: [Int], indexShape: [Int]) -> Tensor {
    let front = [axis] + (0..<x.rank).filter { $0 != axis }
    let gathered = x.permuted(front).gather(rows: indices, indexShape: indexShape)
    let q = indexShape.count
    let back = Array(q..<(q + axis)) + Array(0..<q) + Array((q + axis)..<gathered.rank)
    return gathered.permuted(back)
  }

  static func gather(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let axis = try n.axis(n.int("axis", default: 0), rank: dims.count)
    let indices = try n.integers(1)
    var picked: [Int] = []
    for raw in indices.values {
      let i = Int(clamping: raw < 0 ? raw + Int64(dims[axis]) : raw)
      guard i >= 0 && i < dims[axis] else { throw n.fail("index \(raw) is out of range for axis \(axis) of size \(dims[axis])") }
      picked.append(i)
    }
    return [try moving(n, data: [0]) { take($0[0], axis: axis, indices: picked, indexShape: indices.shape) }]
  }

  static func slice(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let starts = try n.integers(1).values, ends = try n.integers(2).values
    let axes = try n.axes(inputIndex: 3, rank: dims.count) ?? Array(0..<starts.count)
    let steps = n.has(4) ? try n.integers(4).values : [Int64](repeating: 1, count: starts.count)
    guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
      throw n.fail("starts, ends, axes and steps have different lengths")
    }
    var cuts: [(axis: Int, indices: [Int])] = []
    for (k, axis) in axes.enumerated() {
      let size = Int64(dims[axis]), step = steps[k]
      guard step != 0 else { throw n.fail("step 0 on axis \(axis)") }
      func clampIndex(_ v: Int64) -> Int64 {
        let w = v < 0 ? v + size : v
        return step > 0 ? Swift.min(Swift.max(w, 0), size) : Swift.min(Swift.max(w, -1), size - 1)
      }
      var indices: [Int] = []
      var i = clampIndex(starts[k])
      let end = clampIndex(ends[k])
      while step > 0 ? i < end : i > end { indices.append(Int(i)); i += step }
      cuts.append((axis, indices))
    }
    return [try moving(n, data: [0]) { inputs in
      cuts.reduce(inputs[0]) { x, cut in
        if let first = cut.indices.first, cut.indices == Array(first..<(first + cut.indices.count)) {
          return x.slice(axis: cut.axis, first..<(first + cut.indices.count))
        }
        return take(x, axis: cut.axis, indices: cut.indices, indexShape: [cut.indices.count])
      }
    }]
  }

  static func squeeze(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let axes = try n.axes(inputIndex: n.opset >= 13 ? 1 : 99, rank: dims.count) ?? dims.indices.filter { dims[$0] == 1 }
    guard axes.allSatisfy({ dims[$0] == 1 }) else { throw n.fail("cannot squeeze axes \(axes) of shape \(dims)") }
    let target = dims.indices.filter { !axes.contains($0) }.map { dims[$0] }
    return [try moving(n, data: [0]) { $0[0].reshaped(target) }]
  }

  static func unsqueeze(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let raw = n.opset >= 13 ? try n.intList(1) : n.ints("axes") ?? []
    let rank = dims.count + raw.count
    var target = dims
    var axes: [Int] = []
    for a in raw { axes.append(try n.axis(a, rank: rank)) }
    guard Set(axes).count == axes.count else { throw n.fail("axes \(raw) repeat an axis") }
    for axis in axes.sorted() { target.insert(1, at: axis) }
    return [try moving(n, data: [0]) { $0[0].reshaped(target) }]
  }

  static func expand(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let target = try n.broadcast(dims, n.intList(1))
    return [try moving(n, data: [0]) { $0[0].expanded(to: target) }]
  }
}
