import CWinnowKernels

/// The native CSR/BSR kernel with the fused epilogue:
///
///     Y[M×N] = activation(X[M×K] · Wᵀ + bias)
///
/// x86 (`Sources/CWinnowKernels/spmm_avx512.c`): 64-token panels of `X` packed transposed,
/// `G ∈ {1, 2, 4, 8}` rows of a block row per register tile (each panel load serves `G` rows:
/// 4×1 and 8×1 blocks), 16×16 transposes into `Y` with bias and ReLU; needs AVX-512F and blocks
/// at most 16 rows high. arm64 (`neon_sparse.c`): the same scheme with 8-token panels, any block
/// height. Block rows are split over ``Parallelism/threads``; each thread packs its own panel.
/// ``spmmNativeSupports(_:)`` says whether this CPU runs `w`.
func spmmNative(
  _ w: SparseWeights, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
  activation: EpilogueActivation, y: UnsafeMutablePointer<Float>
) {
  guard m > 0, w.rows > 0 else { return }
  switch w {
  case .csr(let a):
    runNative(rows: a.rows, columns: a.columns, blockRows: 1, blockColumns: 1, offsets: a.rowOffsets,
              indices: a.columnIndices, values: a.values, x: x, m: m, bias: bias, activation: activation, y: y)
  case .bsr(let b):
    runNative(rows: b.rows, columns: b.columns, blockRows: b.blockRows, blockColumns: b.blockColumns,
              offsets: b.blockRowOffsets, indices: b.blockColumnIndices, values: b.values,
              x: x, m: m, bias: bias, activation: activation, y: y)
  }
}

/// Whether ``spmmNative(_:x:m:bias:activation:y:)`` can run `w` on this CPU.
func spmmNativeSupports(_ w: SparseWeights) -> Bool {
  if KernelDispatch.usesNEON { return true }
  guard CPUFeatures.current.contains(.avx512f) else { return false }
  if case .bsr(let b) = w { return b.blockRows <= 16 }
  return true
}

private func runNative(
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
        let neon = KernelDispatch.usesNEON
        let workspace = neon ? winnow_spmm_f32_neon_workspace_floats(&matrix) : winnow_spmm_f32_workspace_floats(&matrix)
        let kernel = neon ? winnow_spmm_f32_neon : winnow_spmm_f32_avx512
        let blockRowCount = offsets.count - 1
        // Each chunk also packs the M×K panel, so count that as work too.
        let grain = spmmRowGrain(rows: blockRowCount, multiplyAdds: (values.count + columns) * m)
        let relu: Int32 = activation == .relu ? 1 : 0
        withUnsafePointer(to: &matrix) { matrix in
          parallelFor(blockRowCount, minimumPerChunk: grain) { chunk in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: workspace) { buffer in
              kernel(matrix, x, Int32(m), bias, relu, y, Int32(chunk.lowerBound), Int32(chunk.upperBound),
                     buffer.baseAddress)
            }
          }
        }
      }
    }
  }
}
