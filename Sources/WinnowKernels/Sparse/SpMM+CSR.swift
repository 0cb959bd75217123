/// Sparse linear layer with CSR weights, the fast path:
///
///     Y[M×N] = X[M×K] · Wᵀ + bias      (W: N×K in CSR, bias: N values or nil)
///
/// `x` holds `M·K` values row-major; `y` receives `M·N` values row-major (output only).
///
/// Tokens are processed in panels of 32 (then 8, padded): the panel of `X` is packed
/// transposed (`K×32`, ≤ 512 KB at K = 4096), so each non-zero `w[n, k]` becomes an axpy
/// `acc[0..<32] += w · panel[k, 0..<32]` over four `SIMD8` registers, with no gather. Bias is
/// added as each tile is stored. The last 1–3 tokens take plain sparse dot products from `X`.
/// Output rows are split over ``Parallelism/threads`` (each thread packs its own panel).
/// O(M·nnz + threads·M·K). The row-wise product of Gustavson, *Two Fast Algorithms for Sparse
/// Matrices* (ACM TOMS 1978), computed as `Yᵀ[n, :] = Σₖ W[n, k]·Xᵀ[k, :]`.
public func spmm(
  _ w: CSRMatrix, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
  y: UnsafeMutablePointer<Float>
) {
  let n = w.rows, k = w.columns
  guard m > 0, n > 0 else { return }
  w.rowOffsets.withUnsafeBufferPointer { offsets in
    w.columnIndices.withUnsafeBufferPointer { indices in
      w.values.withUnsafeBufferPointer { values in
        let rows = CSRRows(offsets: offsets, indices: indices, values: values, n: n, k: k)
        let grain = spmmRowGrain(rows: n, multiplyAdds: w.nonZeroCount * m)
        parallelFor(n, minimumPerChunk: grain) { chunk in
          rows.run(chunk, x: x, m: m, bias: bias, y: y)
        }
      }
    }
  }
}

/// Unsafe views of a ``CSRMatrix`` for the inner loops (no retain/release, no bounds checks).
struct CSRRows: SparseRowKernels {
  let offsets: UnsafeBufferPointer<Int32>
  let indices: UnsafeBufferPointer<Int32>
  let values: UnsafeBufferPointer<Float>
  let n: Int, k: Int

  /// Output rows `chunk` for all `m` tokens.
  func run(
    _ chunk: Range<Int>, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>
  ) {
    runTokenPanels(self, rows: chunk, kPadded: k, x: x, m: m, bias: bias, y: y)
  }

  @inline(__always)
  func tile32(_ row: Int, panel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, m0: Int) {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    for t in Int(offsets[row])..<Int(offsets[row + 1]) {
      let weight = SIMD8<Float>(repeating: values[t])
      let p = panel + Int(indices[t]) * 32
      a0 += weight * loadSIMD8(p)
      a1 += weight * loadSIMD8(p + 8)
      a2 += weight * loadSIMD8(p + 16)
      a3 += weight * loadSIMD8(p + 24)
    }
    let b = bias?[row] ?? 0
    storeColumn(a0, b, y: y, n: n, column: row, m0: m0)
    storeColumn(a1, b, y: y, n: n, column: row, m0: m0 + 8)
    storeColumn(a2, b, y: y, n: n, column: row, m0: m0 + 16)
    storeColumn(a3, b, y: y, n: n, column: row, m0: m0 + 24)
  }

  /// Two accumulators over alternate non-zeros hide the add latency of a single chain.
  @inline(__always)
  func tile8(
    _ row: Int, panel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
    m0: Int, count: Int
  ) {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    var t = Int(offsets[row])
    let end = Int(offsets[row + 1])
    while t + 2 <= end {
      a0 += SIMD8(repeating: values[t]) * loadSIMD8(panel + Int(indices[t]) * 8)
      a1 += SIMD8(repeating: values[t + 1]) * loadSIMD8(panel + Int(indices[t + 1]) * 8)
      t += 2
    }
    if t < end { a0 += SIMD8(repeating: values[t]) * loadSIMD8(panel + Int(indices[t]) * 8) }
    storeColumn(a0 + a1, bias?[row] ?? 0, y: y, n: n, column: row, m0: m0, count: count)
  }

  /// `y[row] = w[row, :] · x + bias[row]` for one token (`x`: K values, `y`: N values).
  @inline(__always)
  func dot(_ row: Int, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
    var s0: Float = 0, s1: Float = 0
    var t = Int(offsets[row])
    let end = Int(offsets[row + 1])
    while t + 2 <= end {
      s0 += values[t] * x[Int(indices[t])]
      s1 += values[t + 1] * x[Int(indices[t + 1])]
      t += 2
    }
    if t < end { s0 += values[t] * x[Int(indices[t])] }
    y[row] = s0 + s1 + (bias?[row] ?? 0)
  }
}
