import WinnowCore

/// More reductions and normalisations, composed from Winnow ops so they stay differentiable.
extension ONNXOperators {
  static let reductions: [String: Kernel] = [
    "ReduceL1": reduce(empty: 0, axesInputFrom: 18) { x, axes in x.abs().sum(axes: axes, keepDims: true) },
    "ReduceLogSum": reduce(empty: -.infinity, axesInputFrom: 18) { x, axes in x.sum(axes: axes, keepDims: true).log() },
    "ReduceLogSumExp": reduce(empty: -.infinity, axesInputFrom: 18) { x, axes in
      // Shifted by the (unrecorded) maximum for stability; the shift cancels in the gradient.
      let shift = axes.reduce(x.detached) { $0.max(axis: $1, keepDims: true) }.detached
      let safe = Tensor(shape: shift.shape, scalars: shift.scalars.map { $0.isFinite ? $0 : 0 })
      return (x - safe).exp().sum(axes: axes, keepDims: true).log() + safe
    },
    "ReduceProd": reduce(empty: 1, axesInputFrom: 18) { x, axes in
      axes.reduce(x) { product, axis in
        (0..<product.shape[axis]).dropFirst().reduce(product.slice(axis: axis, 0..<1)) { $0 * product.slice(axis: axis, $1..<($1 + 1)) }
      }
    },
    "Hardmax": { n throws(ONNXError) in
      let x = try n.float(0)
      guard n.opset >= 13 else { throw n.fail("Hardmax before opset 13 (flattening semantics) is not supported") }
      let axis = try n.axis(n.int("axis", default: -1), rank: x.rank)
      guard let arg = try argExtreme(n, largest: true, defaultAxis: -1).first, case .integer(let index) = arg else { return [] }
      let (length, inner) = (x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
      let values = (0..<x.count).map { i in Float((i / inner) % length == Int(index.values[(i / (inner * length)) * inner + i % inner]) ? 1 : 0) }
      return [.float(Tensor(shape: x.shape, scalars: values))]
    },
    "OneHot": oneHot,
    "CumSum": cumulativeSum, "CumProd": cumulativeProduct,
    "RMSNormalization": { n throws(ONNXError) in
      let x = try n.float(0), scale = try n.float(1)
      let axis = try n.axis(n.int("axis", default: -1), rank: x.rank)
      _ = try n.broadcast(x.shape, scale.shape)
      let meanSquare = x.squared().mean(axes: Array(axis..<x.rank), keepDims: true)
      return [.float(x * (meanSquare + n.float("epsilon", default: 1e-5)).pow(-0.5) * scale)]
    },
    "LpNormalization": { n throws(ONNXError) in
      let x = try n.float(0)
      let axis = try n.axis(n.int("axis", default: -1), rank: x.rank)
      let p = n.int("p", default: 2)
      guard p == 1 || p == 2 else { throw n.fail("p = \(p) is not supported (1 or 2)") }
      let norm = p == 1 ? x.abs().sum(axes: [axis], keepDims: true) : x.squared().sum(axes: [axis], keepDims: true).sqrt()
      let safe = norm + Tensor(shape: norm.shape, scalars: norm.scalars.map { $0 == 0 ? 1 : 0 })
      return [.float(x / safe)]
    },
  ]

  /// `OneHot(indices, depth, values)`: `values[1]` at each index along `axis`, `values[0]` elsewhere.
  static func oneHot(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let indices = try numbers(n.value(0))
    let depthValue = try numbers(n.value(1)).values.first ?? 0
    guard depthValue >= 1, depthValue < Double(1 << 24) else { throw n.fail("depth \(depthValue) is out of range") }
    let depth = Int(depthValue)
    let rank = indices.shape.count + 1
    let axis = try n.axis(n.int("axis", default: -1), rank: rank)
    var shape = indices.shape
    shape.insert(depth, at: axis)
    let (outer, inner) = (indices.shape[..<axis].reduce(1, *), indices.shape[axis...].reduce(1, *))
    let hot = (0..<(outer * depth * inner)).map { i -> Bool in
      let (o, d, r) = (i / (depth * inner), (i / inner) % depth, i % inner)
      var k = Int(indices.values[o * inner + r])
      if k < 0 { k += depth }
      return k == d
    }
    switch try n.value(2) {
    case .float(let v), .floating(let v, _):
      let (off, on) = (v.scalars.first ?? 0, v.scalars.dropFirst().first ?? 1)
      return [.float(Tensor(shape: shape, scalars: hot.map { $0 ? on : off }))]
    case .integer(let v):
      let (off, on) = (v.values.first ?? 0, v.values.dropFirst().first ?? 1)
      return [.integer(ONNXIntegers(shape: shape, values: hot.map { $0 ? on : off }, dataType: v.dataType))]
    }
  }

  /// The cumulative `combine` of integers along `axis` (CumSum/CumProd on integer tensors),
  /// exact: output k folds input positions 0…k (or k…end when `reverse`), without k itself
  /// when `exclusive`.
  static func integerScan(_ x: ONNXIntegers, axis: Int, exclusive: Bool, reverse: Bool, initial: Int64,
                          _ combine: (Int64, Int64) -> Int64) -> ONNXIntegers {
    let (length, inner) = (x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
    var out = x.values
    for i in 0..<x.count {
      let (o, k, r) = (i / (length * inner), (i / inner) % length, i % inner)
      let range = reverse ? (exclusive ? k + 1 : k)..<length : 0..<(exclusive ? k : k + 1)
      out[i] = range.reduce(initial) { combine($0, x.values[(o * length + $1) * inner + r]) }
    }
    return ONNXIntegers(shape: x.shape, values: out, dataType: x.dataType)
  }

  /// Cumulative sum along `axis` as a product with a triangular 0/1 matrix (differentiable).
  static func cumulativeSum(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let axis = try n.axis(Int(clamping: try n.integers(1).values.first ?? 0), rank: try n.value(0).shape.count)
    let exclusive = n.int("exclusive", default: 0) != 0, reverse = n.int("reverse", default: 0) != 0
    if case .integer(let x) = try n.value(0) {
      return [.integer(integerScan(x, axis: axis, exclusive: exclusive, reverse: reverse, initial: 0) { $0 &+ $1 })]
    }
    let x = try n.float(0)
    let length = x.shape[axis]
    // M[j, k] = 1 when input position j contributes to output position k.
    let matrix = Tensor(shape: [length, length], scalars: (0..<(length * length)).map { index in
      let (j, k) = (index / length, index % length)
      let contributes = reverse ? (exclusive ? j > k : j >= k) : (exclusive ? j < k : j <= k)
      return contributes ? 1 : 0
    })
    var permutation = Array(0..<x.rank)
    permutation.swapAt(axis, x.rank - 1)
    let moved = x.permuted(permutation)
    guard length > 0 else { return [.float(x)] }
    // As rows of `length` (a rank-1 input is one row): the product needs a matrix.
    let rows = moved.reshaped([moved.count / length, length])
    return [.float(rows.matmul(matrix).reshaped(moved.shape).permuted(permutation))]
  }

  /// Cumulative product along `axis`: integers exactly (wrapping); floats as a chain of
  /// recorded products of unit slices (differentiable, one product per position).
  static func cumulativeProduct(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let axis = try n.axis(Int(clamping: try n.integers(1).values.first ?? 0), rank: try n.value(0).shape.count)
    let exclusive = n.int("exclusive", default: 0) != 0, reverse = n.int("reverse", default: 0) != 0
    if case .integer(let x) = try n.value(0) {
      return [.integer(integerScan(x, axis: axis, exclusive: exclusive, reverse: reverse, initial: 1) { x.dataType.wrapping($0 &* $1) })]
    }
    let x = try n.float(0)
    let length = x.shape[axis]
    guard length > 0 else { return [.float(x)] }
    var unit = x.shape
    unit[axis] = 1
    let order = reverse ? Array((0..<length).reversed()) : Array(0..<length)
    var running = Tensor(shape: unit, repeating: 1)
    var slices = [Tensor](repeating: running, count: length)
    for k in order {
      let value = x.slice(axis: axis, k..<(k + 1))
      if !exclusive { running = running * value }
      slices[k] = running
      if exclusive { running = running * value }
    }
    return [.float(Tensor.concat(slices, axis: axis))]
  }
}
