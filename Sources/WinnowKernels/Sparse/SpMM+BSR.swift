/// Sparse linear layer with BSR weights, the fast path:
///
///     Y[M×N] = X[M×K] · Wᵀ + bias      (W: N×K in BSR, any block size; bias: N values or nil)
///
/// Same contract and token panels as the CSR kernel
/// (``spmm(_:x:m:bias:y:)-(CSRMatrix,_,_,_,_)``); one column index serves a whole block, and
/// a block's `blockColumns` panel rows are contiguous. Parallel over block rows. O(M·stored values).
public func spmm(
  _ w: BSRMatrix, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
  y: UnsafeMutablePointer<Float>
) {
  let n = w.rows
  guard m > 0, n > 0 else { return }
  w.blockRowOffsets.withUnsafeBufferPointer { offsets in
    w.blockColumnIndices.withUnsafeBufferPointer { indices in
      w.values.withUnsafeBufferPointer { values in
        let blocks = BSRRows(
          offsets: offsets, indices: indices, values: values, n: n, k: w.columns,
          blockRows: w.blockRows, blockColumns: w.blockColumns)
        let grain = spmmRowGrain(rows: w.blockRowCount, multiplyAdds: w.values.count * m)
        parallelFor(w.blockRowCount, minimumPerChunk: grain) { chunk in
          blocks.run(chunk, x: x, m: m, bias: bias, y: y)
        }
      }
    }
  }
}

/// Unsafe views of a ``BSRMatrix`` for the inner loops.
struct BSRRows: SparseRowKernels {
  let offsets: UnsafeBufferPointer<Int32>
  let indices: UnsafeBufferPointer<Int32>
  let values: UnsafeBufferPointer<Float>
  let n: Int, k: Int, blockRows: Int, blockColumns: Int

  /// Block rows `chunk` for all `m` tokens.
  func run(
    _ chunk: Range<Int>, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>
  ) {
    // Padding columns of edge blocks meet zero panel rows.
    let kPadded = (k + blockColumns - 1) / blockColumns * blockColumns
    let outputRows = chunk.lowerBound * blockRows..<min(n, chunk.upperBound * blockRows)
    runTokenPanels(self, rows: outputRows, kPadded: kPadded, x: x, m: m, bias: bias, y: y)
  }

  /// Stored blocks of `row`'s block row, and where `row`'s values start inside block 0.
  @inline(__always)
  func blocks(of row: Int) -> (range: Range<Int>, rowStart: Int) {
    let blockRow = row / blockRows
    return (Int(offsets[blockRow])..<Int(offsets[blockRow + 1]), (row - blockRow * blockRows) * blockColumns)
  }

  @inline(__always)
  func tile32(_ row: Int, panel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, m0: Int) {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let (range, rowStart) = blocks(of: row)
    let size = blockRows * blockColumns
    for b in range {
      let weights = values.baseAddress! + b * size + rowStart
      let p0 = panel + Int(indices[b]) * blockColumns * 32
      for c in 0..<blockColumns {
        let weight = SIMD8<Float>(repeating: weights[c])
        let p = p0 + c * 32
        a0 += weight * loadSIMD8(p)
        a1 += weight * loadSIMD8(p + 8)
        a2 += weight * loadSIMD8(p + 16)
        a3 += weight * loadSIMD8(p + 24)
      }
    }
    let b = bias?[row] ?? 0
    storeColumn(a0, b, y: y, n: n, column: row, m0: m0)
    storeColumn(a1, b, y: y, n: n, column: row, m0: m0 + 8)
    storeColumn(a2, b, y: y, n: n, column: row, m0: m0 + 16)
    storeColumn(a3, b, y: y, n: n, column: row, m0: m0 + 24)
  }

  @inline(__always)
  func tile8(
    _ row: Int, panel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
    m0: Int, count: Int
  ) {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    let (range, rowStart) = blocks(of: row)
    let size = blockRows * blockColumns
    for b in range {
      let weights = values.baseAddress! + b * size + rowStart
      let p0 = panel + Int(indices[b]) * blockColumns * 8
      var c = 0
      while c + 2 <= blockColumns {
        a0 += SIMD8(repeating: weights[c]) * loadSIMD8(p0 + c * 8)
        a1 += SIMD8(repeating: weights[c + 1]) * loadSIMD8(p0 + c * 8 + 8)
        c += 2
      }
      if c < blockColumns { a0 += SIMD8(repeating: weights[c]) * loadSIMD8(p0 + c * 8) }
    }
    storeColumn(a0 + a1, bias?[row] ?? 0, y: y, n: n, column: row, m0: m0, count: count)
  }

  /// One token straight from `X` (`x`: K values, `y`: N values); edge blocks stop at column K.
  @inline(__always)
  func dot(_ row: Int, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
    var s: Float = 0
    let (range, rowStart) = blocks(of: row)
    let size = blockRows * blockColumns
    for b in range {
      let weights = values.baseAddress! + b * size + rowStart
      let c0 = Int(indices[b]) * blockColumns
      for c in 0..<min(blockColumns, k - c0) { s += weights[c] * x[c0 + c] }
    }
    y[row] = s + (bias?[row] ?? 0)
  }
}
