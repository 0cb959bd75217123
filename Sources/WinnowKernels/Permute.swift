/// Copies a row-major array of `shape` into `y` with its axes reordered: output axis `i` is
/// input axis `permutation[i]`.
public func permute(
  _ x: UnsafePointer<Float>, shape: [Int], permutation: [Int], _ y: UnsafeMutablePointer<Float>
) {
  let rank = shape.count
  let total = shape.reduce(1, *)
  if total == 0 { return }
  var inStrides = [Int](repeating: 1, count: rank)
  for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
  let outShape = permutation.map { shape[$0] }
  let strides = permutation.map { inStrides[$0] }
  if rank == 0 { y[0] = x[0]; return }
  let inner = outShape[rank - 1]
  let innerStride = strides[rank - 1]
  let outer = total / max(inner, 1)
  var index = [Int](repeating: 0, count: rank)
  var offset = 0
  for o in 0..<outer {
    let dst = y + o * inner
    if innerStride == 1 {
      dst.update(from: x + offset, count: inner)
    } else {
      for i in 0..<inner { dst[i] = x[offset + i * innerStride] }
    }
    var axis = rank - 2
    while axis >= 0 {
      index[axis] += 1
      offset += strides[axis]
      if index[axis] < outShape[axis] { break }
      offset -= strides[axis] * outShape[axis]
      index[axis] = 0
      axis -= 1
    }
  }
}
