/// Elementwise functions of two arguments, applied with NumPy broadcasting.
public enum BinaryFunction: Hashable, Sendable, CaseIterable {
  case add, subtract, multiply, divide, maximum, minimum

  @inline(__always)
  public func apply(_ a: Float, _ b: Float) -> Float {
    switch self {
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return a / b
    case .maximum: return a >= b ? a : b
    case .minimum: return a <= b ? a : b
    }
  }

  /// `out[i] = f(a[i·sa], b[i·sb])` for `i < count`; strides are 0 (broadcast) or 1.
  @inline(__always)
  func run(
    _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
    _ out: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    // Separate loops per case and stride pattern so each one vectorises.
    switch (self, sa, sb) {
    case (.add, 1, 1): for i in 0..<count { out[i] = a[i] + b[i] }
    case (.add, 1, 0): let s = b[0]; for i in 0..<count { out[i] = a[i] + s }
    case (.add, 0, 1): let s = a[0]; for i in 0..<count { out[i] = s + b[i] }
    case (.subtract, 1, 1): for i in 0..<count { out[i] = a[i] - b[i] }
    case (.subtract, 1, 0): let s = b[0]; for i in 0..<count { out[i] = a[i] - s }
    case (.subtract, 0, 1): let s = a[0]; for i in 0..<count { out[i] = s - b[i] }
    case (.multiply, 1, 1): for i in 0..<count { out[i] = a[i] * b[i] }
    case (.multiply, 1, 0): let s = b[0]; for i in 0..<count { out[i] = a[i] * s }
    case (.multiply, 0, 1): let s = a[0]; for i in 0..<count { out[i] = s * b[i] }
    case (.divide, 1, 1): for i in 0..<count { out[i] = a[i] / b[i] }
    case (.divide, 1, 0): let s = b[0]; for i in 0..<count { out[i] = a[i] / s }
    default: for i in 0..<count { out[i] = apply(a[i * sa], b[i * sb]) }
    }
  }
}

/// The broadcast shape of two shapes (NumPy rules), or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
  let rank = max(a.count, b.count)
  var out = [Int](repeating: 1, count: rank)
  for i in 0..<rank {
    let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
    let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
    if da == db || db == 1 {
      out[i] = da
    } else if da == 1 {
      out[i] = db
    } else {
      return nil
    }
  }
  return out
}

/// Strides (in elements) of a row-major array of `shape`, read as `outShape` under
/// broadcasting: broadcast dimensions get stride 0.
public func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
  let pad = outShape.count - shape.count
  var strides = [Int](repeating: 0, count: outShape.count)
  var step = 1
  for i in stride(from: shape.count - 1, through: 0, by: -1) {
    strides[i + pad] = shape[i] == 1 && outShape[i + pad] != 1 ? 0 : step
    step *= shape[i]
  }
  return strides
}

/// Applies `function` elementwise with broadcasting: `out` has shape `outShape` (row-major).
public func broadcastBinary(
  _ function: BinaryFunction,
  _ a: UnsafePointer<Float>, shapeA: [Int], _ b: UnsafePointer<Float>, shapeB: [Int],
  _ out: UnsafeMutablePointer<Float>, outShape: [Int]
) {
  let total = outShape.reduce(1, *)
  if total == 0 { return }
  var dims = outShape
  var stA = broadcastStrides(shapeA, to: outShape)
  var stB = broadcastStrides(shapeB, to: outShape)
  collapseContiguous(&dims, &stA, &stB)
  let rank = dims.count
  let inner = dims[rank - 1]
  let ia = stA[rank - 1], ib = stB[rank - 1]
  let outer = total / inner
  if outer == 1 && (ia == 0 || ia == 1) && (ib == 0 || ib == 1) {
    // One contiguous run (same shapes, or a scalar operand): split it across threads.
    parallelFor(inner, minimumPerChunk: Parallelism.elementwiseGrain) { r in
      let i = r.lowerBound
      function.run(a + i * ia, ia, b + i * ib, ib, out + i, r.count)
    }
    return
  }
  // An odometer over the outer dimensions, split across threads by rows.
  parallelFor(outer, minimumPerChunk: max(1, Parallelism.elementwiseGrain / inner)) { rows in
    if (ia == 0 || ia == 1) && (ib == 0 || ib == 1) {
      // Inner loop on contiguous or broadcast rows.
      forEachOuterIndex(dims, stA, stB, rows) { offA, offB, offOut in
        function.run(a + offA, ia, b + offB, ib, out + offOut, inner)
      }
    } else {
      forEachOuterIndex(dims, stA, stB, rows) { offA, offB, offOut in
        for i in 0..<inner { out[offOut + i] = function.apply(a[offA + i * ia], b[offB + i * ib]) }
      }
    }
  }
}

/// Merges adjacent dimensions that are contiguous for every operand, and drops size-1 ones.
func collapseContiguous(_ dims: inout [Int], _ sa: inout [Int], _ sb: inout [Int]) {
  var d: [Int] = [], a: [Int] = [], b: [Int] = []
  for i in dims.indices where dims[i] != 1 {
    if let last = d.indices.last,
      a[last] == sa[i] * dims[i], b[last] == sb[i] * dims[i]
    {
      d[last] *= dims[i]
      a[last] = sa[i]
      b[last] = sb[i]
    } else {
      d.append(dims[i]); a.append(sa[i]); b.append(sb[i])
    }
  }
  if d.isEmpty { d = [1]; a = [0]; b = [0] }
  dims = d; sa = a; sb = b
}

/// Calls `body(offsetA, offsetB, offsetOut)` for the outer indices `rows` (row-major over all
/// but the last dimension).
@inline(__always)
func forEachOuterIndex(
  _ dims: [Int], _ sa: [Int], _ sb: [Int], _ rows: Range<Int>, _ body: (Int, Int, Int) -> Void
) {
  let rank = dims.count
  let inner = dims[rank - 1]
  var index = [Int](repeating: 0, count: max(rank - 1, 0))
  var offA = 0, offB = 0
  var rest = rows.lowerBound
  for axis in stride(from: rank - 2, through: 0, by: -1) {
    index[axis] = rest % dims[axis]
    rest /= dims[axis]
    offA += index[axis] * sa[axis]
    offB += index[axis] * sb[axis]
  }
  for o in rows {
    body(offA, offB, o * inner)
    var axis = rank - 2
    while axis >= 0 {
      index[axis] += 1
      offA += sa[axis]
      offB += sb[axis]
      if index[axis] < dims[axis] { break }
      offA -= sa[axis] * dims[axis]
      offB -= sb[axis] * dims[axis]
      index[axis] = 0
      axis -= 1
    }
  }
}
