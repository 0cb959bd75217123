import CWinnowKernels

/// The AVX-512 CSR/BSR kernel (`Sources/CWinnowKernels/spmm_avx512.c`) with the fused epilogue:
///
///     Y[M×N] = activation(X[M×K] · Wᵀ + bias)
///
/// 64-token panels of `X` packed transposed, `G ∈ {1, 2, 4, 8}` rows of a block row per register
/// tile (each panel load serves `G` rows: 4×1 and 8×1 blocks), 16×16 transposes into `Y` with
/// bias and ReLU. Block rows are split over ``Parallelism/threads``; each thread packs its own
/// panel. Needs AVX-512F and blocks at most 16 rows high (``spmmAVX512Supports(_:)``).
func spmmAVX512(
  _ w: SparseWeights, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
  activation: EpilogueActivation, y: UnsafeMutablePointer<Float>
) {
  guard m > 0, w.rows > 0 else { return }
  switch w {
  case .csr(let a):
    runAVX512(rows: a.rows, columns: a.columns, blockRows: 1, blockColumns: 1, offsets: a.rowOffsets,
              indices: a.columnIndices, values: a.values, x: x, m: m, bias: bias, activation: activation, y: y)
  case .bsr(let b):
    runAVX512(rows: b.rows, columns: b.columns, blockRows: b.blockRows, blockColumns: b.blockColumns,
              offsets: b.blockRowOffsets, indices: b.blockColumnIndices, values: b.values,
              x: x, m: m, bias: bias, activation: activation, y: y)
  }
}

/// Whether ``spmmAVX512(_:x:m:bias:activation:y:)`` can run `w` on this CPU.
func spmmAVX512Supports(_ w: SparseWeights) -> Bool {
  guard CPUFeatures.current.contains(.avx512f) else { return false }
  if case .bsr(let b) = w { return b.blockRows <= 16 }
  return true
}

private func runAVX512(
  rows: Int, columns: Int, blockRows: Int, blockColumns: Int, offsets: [Int32], indices: [Int32],
  values: [Float], x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
  activation: EpilogueActivation, y: UnsafeMutablePointer<Float>
) {
  offsets.withUnsafeBufferPointer { offsets in
    indices.withUnsafeBufferPointer { indices in
      values.withUnsafeBufferPointer { values in
        var matrix = winnow_sparse_matrix(
          rows: Int32(rows), columns: Int32(columns), block_rows: Int32(blockRows),
          block_columns: Int32(blockColumns), block_offsets: offsets.baseAddress,
          column_indices: indices.baseAddress, values: values.baseAddress)
        let workspace = winnow_spmm_f32_workspace_floats(&matrix)
        let blockRowCount = offsets.count - 1
        // Each chunk also packs the M×K panel, so count that as work too.
        let grain = spmmRowGrain(rows: blockRowCount, multiplyAdds: (values.count + columns) * m)
        let relu: Int32 = activation == .relu ? 1 : 0
        withUnsafePointer(to: &matrix) { matrix in
          parallelFor(blockRowCount, minimumPerChunk: grain) { chunk in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: workspace) { buffer in
              winnow_spmm_f32_avx512(matrix, x, Int32(m), bias, relu, y, Int32(chunk.lowerBound),
                                     Int32(chunk.upperBound), buffer.baseAddress)
            }
          }
        }
      }
    }
  }
}
