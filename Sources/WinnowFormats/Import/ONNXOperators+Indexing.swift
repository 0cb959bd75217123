import WinnowCore

/// Operators that pick or place elements by index: GatherND, ScatterElements, ScatterND, TopK,
/// NonZero and EyeLike.
///
/// Each result element is one element of the inputs, so the kernels compute, exactly, the
/// flat source index of every result element (`sources`) and then pick: for floats one
/// recorded gather from the inputs concatenated flat (differentiable, gradients reach the data
/// and the updates), for integers the values themselves. Worked example (ScatterElements,
/// data [a, b, c], indices [2, 0], updates [u, v]): the inputs concatenated are
/// [a, b, c, u, v], the sources [4, 1, 3], the result [v, b, u].
extension ONNXOperators {
  static let indexing: [String: Kernel] = [
    "GatherND": gatherND, "ScatterElements": scatterElements, "ScatterND": scatterND,
    "TopK": topK, "NonZero": nonZero,
  ]

  /// The data inputs `indices`, concatenated flat, picked at `sources` into `shape`.
  static func picked(_ n: ONNXNode, data indices: [Int], sources: [Int], shape: [Int]) throws(ONNXError) -> ONNXValue {
    try moving(n, data: indices) { inputs in
      let flat = Tensor.concat(inputs.map { $0.reshaped([$0.count, 1]) }, axis: 0)
      return flat.gather(rows: sources).reshaped(shape)
    }
  }

  /// An index into an axis of `extent`, negative counting from the end, checked.
  static func position(_ index: Int64, extent: Int, _ n: ONNXNode) throws(ONNXError) -> Int {
    let i = index < 0 ? Int(clamping: index) + extent : Int(clamping: index)
    guard i >= 0 && i < extent else { throw n.fail("index \(index) is out of range for an axis of \(extent)") }
    return i
  }

  static func scatterElements(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let (dims, indices, updates) = (try n.value(0).shape, try n.integers(1), try n.value(2).shape)
    guard n.string("reduction", default: "none") == "none" else { throw n.fail("reduction '\(n.string("reduction", default: ""))' is not supported") }
    let axis = try n.axis(n.int("axis", default: 0), rank: dims.count)
    guard indices.shape == updates, indices.shape.count == dims.count else { throw n.fail("indices \(indices.shape) and updates \(updates) must match and have the rank of data \(dims)") }
    let count = dims.reduce(1, *)
    var sources = Array(0..<count)
    for j in 0..<indices.count {
      // Multi-index of update j, with the axis coordinate replaced by its index.
      var rest = j, target = 0, stride = 1
      for a in (0..<dims.count).reversed() {
        let coordinate = rest % indices.shape[a]
        rest /= indices.shape[a]
        let c = a == axis ? try position(indices.values[j], extent: dims[a], n) : coordinate
        guard c < dims[a] else { throw n.fail("indices \(indices.shape) exceed data \(dims) along axis \(a)") }
        target += c * stride
        stride *= dims[a]
      }
      sources[target] = count + j
    }
    return [try picked(n, data: [0, 2], sources: sources, shape: dims)]
  }

  static func scatterND(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let (dims, indices, updates) = (try n.value(0).shape, try n.integers(1), try n.value(2).shape)
    guard n.string("reduction", default: "none") == "none" else { throw n.fail("reduction '\(n.string("reduction", default: ""))' is not supported") }
    guard let k = indices.shape.last, k <= dims.count, updates == Array(indices.shape.dropLast()) + Array(dims[k...]) else {
      throw n.fail("indices \(indices.shape) and updates \(updates) do not fit data \(dims)")
    }
    let count = dims.reduce(1, *)
    let slice = dims[k...].reduce(1, *)
    var sources = Array(0..<count)
    for t in 0..<(indices.count / Swift.max(k, 1)) {
      let base = try tupleOffset(indices.values[(t * k)..<(t * k + k)], dims: Array(dims[..<k]), n) * slice
      for s in 0..<slice { sources[base + s] = count + t * slice + s }
    }
    return [try picked(n, data: [0, 2], sources: sources, shape: dims)]
  }

  /// Row-major offset of an index tuple within `dims`.
  static func tupleOffset(_ tuple: ArraySlice<Int64>, dims: [Int], _ n: ONNXNode) throws(ONNXError) -> Int {
    var offset = 0
    for (value, extent) in zip(tuple, dims) { offset = offset * extent + (try position(value, extent: extent, n)) }
    return offset
  }

  static func gatherND(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let (dims, indices) = (try n.value(0).shape, try n.integers(1))
    let batch = n.int("batch_dims", default: 0)
    guard let k = indices.shape.last, batch >= 0, batch + k <= dims.count, indices.shape.count > batch,
          Array(indices.shape[..<batch]) == Array(dims[..<batch]) else {
      throw n.fail("indices \(indices.shape) with batch_dims \(batch) do not fit data \(dims)")
    }
    let slice = dims[(batch + k)...].reduce(1, *)
    let perBatch = dims[batch...].reduce(1, *)
    let tuples = indices.count / Swift.max(k, 1)
    let tuplesPerBatch = tuples / Swift.max(dims[..<batch].reduce(1, *), 1)
    var sources: [Int] = []
    sources.reserveCapacity(tuples * slice)
    for t in 0..<tuples {
      let base = (t / Swift.max(tuplesPerBatch, 1)) * perBatch
        + (try tupleOffset(indices.values[(t * k)..<(t * k + k)], dims: Array(dims[batch..<(batch + k)]), n)) * slice
      for s in 0..<slice { sources.append(base + s) }
    }
    return [try picked(n, data: [0], sources: sources, shape: Array(indices.shape.dropLast()) + Array(dims[(batch + k)...]))]
  }

  /// The `k` largest (or smallest) along `axis`, sorted, ties to the lower index; values are
  /// picked from the input (differentiable), indices are int64.
  static func topK(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.value(0)
    let dims = x.shape
    let axis = try n.axis(n.int("axis", default: -1), rank: dims.count)
    guard let k = try n.intList(1).first, k >= 0, k <= dims[axis] else { throw n.fail("k must lie in 0…\(dims[axis])") }
    let largest = n.int("largest", default: 1) != 0
    let values: [Double]
    if let t = x.floatValues { values = t.scalars.map(Double.init) } else { values = try n.integers(0).values.map(Double.init) }
    let (extent, inner) = (dims[axis], dims[(axis + 1)...].reduce(1, *))
    var outputShape = dims
    outputShape[axis] = k
    var sources = [Int](repeating: 0, count: outputShape.reduce(1, *)), chosen = [Int64](repeating: 0, count: sources.count)
    for line in 0..<(values.count / Swift.max(extent, 1)) {
      let (outer, r) = (line / inner, line % inner)
      let at = { (i: Int) in (outer * extent + i) * inner + r }
      let order = (0..<extent).sorted { a, b in
        let (va, vb) = (values[at(a)], values[at(b)])
        if va == vb || (va.isNaN && vb.isNaN) { return a < b }
        if va.isNaN || vb.isNaN { return va.isNaN == largest }  // NaN counts as the largest
        return largest ? va > vb : va < vb
      }
      for j in 0..<k {
        let slot = (outer * k + j) * inner + r
        (sources[slot], chosen[slot]) = (at(order[j]), Int64(order[j]))
      }
    }
    return [try picked(n, data: [0], sources: sources, shape: outputShape), .integer(ONNXIntegers(shape: outputShape, values: chosen))]
  }

  /// Row-major coordinates of the non-zero elements, as an int64 `rank × count` tensor.
  static func nonZero(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.value(0)
    let nonzero: [Bool]
    if let t = x.floatValues { nonzero = t.scalars.map { $0 != 0 } } else { nonzero = try n.integers(0).values.map { $0 != 0 } }
    let dims = x.shape
    let found = nonzero.indices.filter { nonzero[$0] }
    var coordinates = [Int64](repeating: 0, count: dims.count * found.count)
    for (column, flat) in found.enumerated() {
      var rest = flat
      for axis in dims.indices.reversed() {
        coordinates[axis * found.count + column] = Int64(rest % dims[axis])
        rest /= dims[axis]
      }
    }
    return [.integer(ONNXIntegers(shape: [dims.count, found.count], values: coordinates))]
  }
}
