import WinnowCore

/// Operators that pick or place elements by index: GatherND, ScatterElements, ScatterND, TopK,
/// NonZero, Compress and EyeLike.
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
    "TopK": topK, "NonZero": nonZero, "Compress": compress, "EyeLike": eyeLike,
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
    let axis = try n.axis(n.int("axis", default: 0), rank: dims.count)
    guard indices.shape == updates, indices.shape.count == dims.count else { throw n.fail("indices \(indices.shape) and updates \(updates) must match and have the rank of data \(dims)") }
    var targets: [Int] = []
    targets.reserveCapacity(indices.count)
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
      targets.append(target)
    }
    return [try scattered(n, targets: targets, slice: 1, shape: dims)]
  }

  /// Data (input 0) with the updates (input 2) written at `targets` (each the start of a run
  /// of `slice` elements), in order. Without a reduction the result picks from data and
  /// updates (differentiable); `add`, `mul`, `max` and `min` combine exactly on constants.
  static func scattered(_ n: ONNXNode, targets: [Int], slice: Int, shape: [Int]) throws(ONNXError) -> ONNXValue {
    let count = shape.reduce(1, *)
    let reduction = n.string("reduction", default: "none")
    if reduction == "none" {
      var sources = Array(0..<count)
      for (j, target) in targets.enumerated() {
        for s in 0..<slice { sources[target + s] = count + j * slice + s }
      }
      return try picked(n, data: [0, 2], sources: sources, shape: shape)
    }
    let combine: (Double, Double) -> Double
    switch reduction {
    case "add": combine = (+)
    case "mul": combine = (*)
    case "max": combine = { Swift.max($0, $1) }
    case "min": combine = { Swift.min($0, $1) }
    default: throw n.fail("unknown reduction '\(reduction)'")
    }
    let (data, updates) = (try n.value(0), try n.value(2))
    if let d = data.floatValues, let u = updates.floatValues {
      guard !d.isTracked && !u.isTracked else { throw n.fail("reduction '\(reduction)' is not supported on recorded (tracked) tensors") }
      var values = d.scalars.map(Double.init)
      for (j, target) in targets.enumerated() {
        for s in 0..<slice { values[target + s] = combine(values[target + s], Double(u.scalars[j * slice + s])) }
      }
      return .float(Tensor(shape: shape, scalars: values.map { Float($0) }))
    }
    let (di, ui) = (try n.integers(0), try n.integers(2))
    var values = di.values
    for (j, target) in targets.enumerated() {
      for s in 0..<slice { values[target + s] = di.dataType.wrapping(Int64(combine(Double(values[target + s]), Double(ui.values[j * slice + s])))) }
    }
    return .integer(ONNXIntegers(shape: shape, values: values, dataType: di.dataType))
  }

  static func scatterND(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let (dims, indices, updates) = (try n.value(0).shape, try n.integers(1), try n.value(2).shape)
    guard let k = indices.shape.last, k <= dims.count, updates == Array(indices.shape.dropLast()) + Array(dims[k...]) else {
      throw n.fail("indices \(indices.shape) and updates \(updates) do not fit data \(dims)")
    }
    let slice = dims[k...].reduce(1, *)
    var targets: [Int] = []
    for t in 0..<(indices.count / Swift.max(k, 1)) {
      targets.append(try tupleOffset(indices.values[(t * k)..<(t * k + k)], dims: Array(dims[..<k]), n) * slice)
    }
    return [try scattered(n, targets: targets, slice: slice, shape: dims)]
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

  /// The slices along `axis` (or the elements of the flattened input) where the condition holds.
  static func compress(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let condition = try n.integers(1).values
    let axis: Int? = n.attribute("axis") == nil ? nil : try n.axis(n.int("axis", default: 0), rank: dims.count)
    let (extent, inner) = axis.map { (dims[$0], dims[($0 + 1)...].reduce(1, *)) } ?? (dims.reduce(1, *), 1)
    guard condition.count <= extent else { throw n.fail("condition has \(condition.count) entries for an axis of \(extent)") }
    let kept = condition.indices.filter { condition[$0] != 0 }
    let outer = dims.reduce(1, *) / Swift.max(extent * inner, 1)
    var sources: [Int] = []
    for o in 0..<outer { for k in kept { for r in 0..<inner { sources.append((o * extent + k) * inner + r) } } }
    var shape = [kept.count]
    if let axis { shape = dims; shape[axis] = kept.count }
    return [try picked(n, data: [0], sources: sources, shape: shape)]
  }

  /// Ones on the diagonal `k` of a 2-D tensor shaped like the input, in `dtype` (default the input's type).
  static func eyeLike(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let input = try n.value(0)
    let dims = input.shape
    guard dims.count == 2 else { throw n.fail("needs a 2-D input, got \(dims)") }
    let k = n.int("k", default: 0)
    let raw = n.int("dtype", default: Int(input.dataType.rawValue))
    guard let type = TensorProto.DataType(rawValue: Int32(clamping: raw)), type.isInteger || type.isFloatingPoint else {
      throw n.fail("dtype \(raw) is not a numeric type")
    }
    let ones = (0..<(dims[0] * dims[1])).map { i in i % dims[1] - i / dims[1] == k }
    if type.isInteger { return [.integer(ONNXIntegers(shape: dims, values: ones.map { $0 ? 1 : 0 }, dataType: type))] }
    return [.floating(Tensor(shape: dims, scalars: ones.map { $0 ? 1 : 0 }), as: type)]
  }
}
