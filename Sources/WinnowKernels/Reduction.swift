/// Sums the middle axis of a row-major `[outer, length, inner]` array into `[outer, inner]`.
///
/// Adds rows rather than walking columns, so the inner loop is contiguous and vectorises.
public func sumAxis(
  _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int, _ y: UnsafeMutablePointer<Float>
) {
  for o in 0..<outer {
    let dst = y + o * inner
    dst.update(repeating: 0, count: inner)
    for r in 0..<length {
      let src = x + (o * length + r) * inner
      for i in 0..<inner { dst[i] += src[i] }
    }
  }
}

/// Maximum over the middle axis of `[outer, length, inner]`, with the index of the first
/// maximum (`argmax`, as `Int32`) for each output element. `length` must be positive.
public func maxAxis(
  _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
  _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>
) {
  precondition(length > 0, "maximum over an empty axis")
  for o in 0..<outer {
    let dst = y + o * inner
    let idx = argmax + o * inner
    let first = x + o * length * inner
    for i in 0..<inner { dst[i] = first[i]; idx[i] = 0 }
    for r in 1..<max(length, 1) {
      let src = x + (o * length + r) * inner
      for i in 0..<inner where src[i] > dst[i] || (src[i].isNaN && !dst[i].isNaN) {
        dst[i] = src[i]
        idx[i] = Int32(r)
      }
    }
  }
}

/// Softmax over the middle axis of `[outer, length, inner]`, shifted by the maximum for
/// stability. With `logarithm`, writes log-softmax instead.
public func softmaxAxis(
  _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
  _ y: UnsafeMutablePointer<Float>, logarithm: Bool
) {
  if inner == 1 {
    parallelFor(outer, minimumPerChunk: max(1, 16_384 / max(length, 1))) { rows in
      for o in rows { softmaxRow(x + o * length, y + o * length, length, logarithm) }
    }
    return
  }
  for o in 0..<outer {
    for i in 0..<inner {
      let base = o * length * inner + i
      var m = -Float.infinity
      for r in 0..<length { m = max(m, x[base + r * inner]) }
      var s: Float = 0
      for r in 0..<length { s += expf(x[base + r * inner] - m) }
      let logS = logf(s)
      for r in 0..<length {
        let shifted = x[base + r * inner] - m
        y[base + r * inner] = logarithm ? shifted - logS : expf(shifted) / s
      }
    }
  }
}

@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ log: Bool) {
  var m = -Float.infinity
  for r in 0..<n { m = max(m, x[r]) }
  var s: Float = 0
  for r in 0..<n {
    let e = expf(x[r] - m)
    y[r] = e
    s += e
  }
  if log {
    let logS = logf(s)
    for r in 0..<n { y[r] = x[r] - m - logS }
  } else {
    let inv = 1 / s
    for r in 0..<n { y[r] *= inv }
  }
}

/// Backward of ``softmaxAxis``: given the forward output `y` and cotangent `g`, writes `dx`.
///
/// softmax: `dx = y ⊙ (g − Σ g·y)`; log-softmax: `dx = g − softmax(x) · Σ g`, with
/// `softmax(x) = exp(y)`.
public func softmaxAxisBackward(
  y: UnsafePointer<Float>, g: UnsafePointer<Float>, outer: Int, length: Int, inner: Int,
  _ dx: UnsafeMutablePointer<Float>, logarithm: Bool
) {
  for o in 0..<outer {
    for i in 0..<inner {
      let base = o * length * inner + i
      var s: Float = 0
      if logarithm {
        for r in 0..<length { s += g[base + r * inner] }
        for r in 0..<length {
          let k = base + r * inner
          dx[k] = g[k] - expf(y[k]) * s
        }
      } else {
        for r in 0..<length { s += g[base + r * inner] * y[base + r * inner] }
        for r in 0..<length {
          let k = base + r * inner
          dx[k] = y[k] * (g[k] - s)
        }
      }
    }
  }
}
