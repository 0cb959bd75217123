/// The transposed-layout CSR product shared by the float and int8 CSR formats:
///
///     Yᵀ[r, :] = activation(scale[r] · Σₜ value(t) · Xᵀ[index(t), :] + bias[r])
///
/// over `t` in row `r`'s range. Each non-zero adds a scaled contiguous row of `Xᵀ` (the
/// layout of "Fast Sparse ConvNets", Elsen et al. 2020, for NCHW convolutions). Columns go in
/// blocks of 512 so the output block stays in L1; rows split over threads. `scales` nil
/// means 1 for every row.
@inline(__always)
func csrTransposedProduct<Value>(
  offsets: UnsafeBufferPointer<Int32>, indices: UnsafeBufferPointer<Int32>, values: UnsafeBufferPointer<Value>,
  toFloat: (Value) -> Float, scales: UnsafeBufferPointer<Float>?, rows: Int,
  xT: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
  into yT: UnsafeMutablePointer<Float>
) {
  guard m > 0, rows > 0 else { return }
  let grain = max(1, 65_536 / max(1, m * max(1, values.count / rows)))
  parallelFor(rows, minimumPerChunk: grain) { chunk in
    for c0 in stride(from: 0, to: m, by: 512) {
      let width = min(512, m - c0)
      for r in chunk {
        let out = yT + r * m + c0
        out.update(repeating: 0, count: width)
        for t in Int(offsets[r])..<Int(offsets[r + 1]) {
          axpy(toFloat(values[t]), xT + Int(indices[t]) * m + c0, out, count: width)
        }
        let scale = scales?[r] ?? 1, b = bias?[r] ?? 0
        if scale != 1 || b != 0 { for i in 0..<width { out[i] = out[i] * scale + b } }
        activation.apply(out, count: width)
      }
    }
  }
}

/// `y[0..<count] += a·x[0..<count]`, eight lanes at a time.
@inline(__always)
func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
  let va = SIMD8<Float>(repeating: a)
  var i = 0
  while i + 8 <= count {
    let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
    let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(y + i).storeBytes(of: yv + va * xv, as: SIMD8<Float>.self)
    i += 8
  }
  while i < count { y[i] += a * x[i]; i += 1 }
}
