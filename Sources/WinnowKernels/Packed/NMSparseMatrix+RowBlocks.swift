import CWinnowKernels

/// N:M weights in 16-row blocks, the layout of the rows-as-lanes AVX-512 kernel
/// (`nm_spmm_blocks.c`) and of its portable twin, built once from ``NMSparseMatrix``'s exchange
/// arrays, which it replaces in memory (``groupArrays(n:m:)`` rebuilds them exactly).
///
/// Inputs are taken 16 at a time (a *quad* of `16/m` groups). For row block `b` and quad `q`:
///
/// - `indices[(b·Q + q)·16 + r]`: nibble `e` = position inside the quad (0…15) of row
///   `16b + r`'s `e`-th kept input, `e = (group in quad)·n + slot`;
/// - `values[((b·Q + q)·E + e)·16 + r]`: that weight (0 for padding rows and groups),
///
/// with `E = 16·n/m` entries (needs `m` dividing 16 and `E ≤ 8`, so they fit one 32-bit word).
/// Example, 2:4, row 0 of block 0, first quad `[0 3 0 −1 | 2 0 0 0 | …]` → kept positions
/// 1, 3 (group 0), 4, 5 (group 1; the second slot holds 0): nibbles `1, 3, 4, 5, …`, values
/// `3, −1, 2, 0, …`. Storage: 4.5 bytes per kept weight at 2:4.
struct NMRowBlocks: Sendable, Equatable {
  let rows: Int
  let columns: Int
  /// Kept weights per 16 inputs, `E = 16·n/m`.
  let entries: Int
  /// `Q = ⌈columns / 16⌉`.
  let quads: Int
  let indices: [UInt32]
  let values: [Float]

  /// The blocks of a validated matrix, or nil when `n:m` has no row-block layout.
  init?(rows: Int, columns: Int, n: Int, m: Int, values: [Float], indices: [UInt8]) {
    guard winnow_nm_blocks_supported(Int32(n), Int32(m)) != 0 else { return nil }
    (self.rows, self.columns, entries, quads) = (rows, columns, 16 * n / m, (columns + 15) / 16)
    let blocks = (rows + 15) / 16, words = blocks * quads * 16
    var packedIndices = [UInt32](repeating: 0, count: words)
    var packedValues = [Float](repeating: 0, count: words * entries)
    values.withUnsafeBufferPointer { values in
      indices.withUnsafeBufferPointer { indices in
        var matrix = winnow_nm_matrix(rows: Int32(rows), columns: Int32(columns), n: Int32(n), m: Int32(m),
                                      indices: indices.baseAddress, values: values.baseAddress)
        winnow_nm_pack_blocks(&matrix, &packedIndices, &packedValues)
      }
    }
    (self.indices, self.values) = (packedIndices, packedValues)
  }

  /// The exchange arrays (`values`, `indices` of ``NMSparseMatrix``), unpacked; the padding
  /// slots of short groups keep their index, so this is the inverse of the packing.
  func groupArrays(n: Int, m: Int) -> (values: [Float], indices: [UInt8]) {
    let slots = rows * ((columns + m - 1) / m) * n
    var values = [Float](repeating: 0, count: slots), indices = [UInt8](repeating: 0, count: slots)
    withLayout { layout in
      winnow_nm_unpack_blocks(layout, Int32(n), Int32(m), &indices, &values)
    }
    return (values, indices)
  }

  /// `Y = act(X·Wᵀ + bias)`, row blocks split over threads. Native (AVX-512): tokens are copied
  /// zero padded to whole quads when K is not a multiple of 16 (the kernel reads 16 inputs at a
  /// time); portable: one output at a time in C, on the tokens as they are.
  func multiply(
    _ x: UnsafePointer<Float>, tokens: Int, bias: UnsafePointer<Float>?, relu: Int32, into y: UnsafeMutablePointer<Float>,
    native: Bool
  ) {
    let padded = quads * 16, blocks = (rows + 15) / 16
    let grain = max(1, spmmRowGrain(rows: rows, multiplyAdds: (values.count + padded) * tokens) / 16)
    withLayout { layout in
      guard native else {
        return parallelFor(blocks, minimumPerChunk: grain) { chunk in
          winnow_nm_blocks_spmm_portable(layout, x, Int32(columns), Int32(tokens), bias, relu, y,
                                         Int32(chunk.lowerBound), Int32(chunk.upperBound))
        }
      }
      withPaddedTokens(x, tokens: tokens) { x in
        parallelFor(blocks, minimumPerChunk: grain) { chunk in
          winnow_nm_blocks_spmm_avx512(layout, x, Int32(padded), Int32(tokens), bias, relu, y,
                                       Int32(chunk.lowerBound), Int32(chunk.upperBound))
        }
      }
    }
  }

  /// The C view of the blocks, valid inside `body`.
  private func withLayout<R>(_ body: (UnsafePointer<winnow_nm_blocks>) -> R) -> R {
    indices.withUnsafeBufferPointer { indices in
      values.withUnsafeBufferPointer { values in
        var layout = winnow_nm_blocks(rows: Int32(rows), columns: Int32(columns), entries: Int32(entries),
                                      quads: Int32(quads), indices: indices.baseAddress, values: values.baseAddress)
        return withUnsafePointer(to: &layout) { body($0) }
      }
    }
  }

  private func withPaddedTokens(_ x: UnsafePointer<Float>, tokens: Int, _ body: (UnsafePointer<Float>) -> Void) {
    let padded = quads * 16
    guard padded != columns else { return body(x) }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, tokens * padded)) { buffer in
      let base = buffer.baseAddress!
      base.initialize(repeating: 0, count: tokens * padded)
      for t in 0..<tokens { (base + t * padded).update(from: x + t * columns, count: columns) }
      body(base)
    }
  }
}
