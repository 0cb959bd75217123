import CWinnowKernels

/// Weights with N:M structured sparsity: in every group of `m` consecutive inputs of a row at
/// most `n` weights are non-zero (2:4 as in NVIDIA's sparse tensor cores; Mishra et al.,
/// *Accelerating Sparse Deep Neural Networks*, 2021).
///
/// `W` is `rows × columns` (`N×K`, PyTorch `Linear` layout). Each row has `G = ⌈K/m⌉` groups;
/// group `g` covers inputs `g·m ..< min(K, (g+1)·m)` (the last group may be short: a padded
/// tail). Every group stores exactly `n` slots, row-major by (row, group, slot):
///
/// - `values[(r·G + g)·n + s]`: the weight (a slot may hold 0 when a group has fewer non-zeros);
/// - `indices[(r·G + g)·n + s]`: its position inside the group, `0..<m` (UInt8), strictly
///   increasing over the slots of a group, and `g·m + index < K`.
///
/// Worked example, 2:4, one row, K = 6 (groups `[0, 4)` and the short tail `[4, 6)`):
///
///     W = [ 0 3 0 −1 | 2 0 ]      values  = [3, −1,  2, 0]
///                                 indices = [1,  3,  0, 1]
///
/// The tail group has one non-zero, so its second slot holds value 0 at the unused index 1.
/// Storage: `n·G` Floats and bytes per row, `5/8` of dense at 2:4 (CSR would need 8 bytes per
/// kept weight). The kernel is CSR-like without a row-offset array: slot positions are implied.
public struct NMSparseMatrix: PackedLinearWeights, Equatable {
  public let rows: Int
  public let columns: Int
  /// Kept weights per group.
  public let n: Int
  /// Group size (1…16).
  public let m: Int
  /// `rows · G · n` weights.
  public let values: [Float]
  /// `rows · G · n` in-group positions.
  public let indices: [UInt8]
  /// The same weights in 16-row blocks for the native kernel (nil for patterns it lacks).
  let rowBlocks: NMRowBlocks?

  public var outputFeatures: Int { rows }
  public var inputFeatures: Int { columns }
  public var groupsPerRow: Int { (columns + m - 1) / max(1, m) }

  /// Adopts arrays from an untrusted source, checking every invariant first.
  ///
  /// - Throws: ``SparseFormatError`` (format "N:M") naming the first broken invariant.
  public init(rows: Int, columns: Int, n: Int, m: Int, values: [Float], indices: [UInt8]) throws {
    func fail(_ problem: String) -> SparseFormatError { SparseFormatError(format: "N:M", problem: problem) }
    if rows < 0 || columns < 0 { throw fail("negative shape \(rows)×\(columns)") }
    if rows > 1 << 30 || columns > 1 << 30 { throw fail("shape \(rows)×\(columns) too large") }
    if !(1...16).contains(m) || !(1...m).contains(n) { throw fail("\(n):\(m) needs 1 ≤ n ≤ m ≤ 16") }
    let groups = (columns + m - 1) / m, slots = rows * groups * n
    if values.count != slots { throw fail("values has \(values.count) entries, expected \(rows)·\(groups)·\(n) = \(slots)") }
    if indices.count != slots { throw fail("indices has \(indices.count) entries, expected \(slots)") }
    for t in stride(from: 0, to: slots, by: n) {
      let g = (t / n) % groups, width = min(m, columns - g * m)
      for s in 0..<n {
        let index = Int(indices[t + s])
        if index >= width { throw fail("row \(t / n / groups) group \(g): index \(index) outside 0..<\(width)") }
        if s > 0 && index <= Int(indices[t + s - 1]) {
          throw fail("row \(t / n / groups) group \(g): indices not strictly increasing")
        }
      }
    }
    (self.rows, self.columns, self.n, self.m, self.values, self.indices) = (rows, columns, n, m, values, indices)
    rowBlocks = Self.makeRowBlocks(rows: rows, columns: columns, n: n, m: m, values: values, indices: indices)
  }

  /// Magnitude N:M pruning of a dense row-major `rows × columns` matrix: keeps the `n` largest
  /// |w| of every group (ties to the lower index). Needs `n` ≤ the tail group's width.
  public init(pruning dense: [Float], rows: Int, columns: Int, n: Int, m: Int) {
    precondition(dense.count == rows * columns && (1...16).contains(m) && (1...m).contains(n), "N:M pruning arguments")
    let groups = (columns + m - 1) / m
    precondition(columns == 0 || columns - (groups - 1) * m >= n, "the tail group is narrower than n")
    var values = [Float](), indices = [UInt8]()
    for r in 0..<rows {
      for g in 0..<groups {
        let range = g * m..<min(columns, (g + 1) * m)
        let kept = range.sorted { abs(dense[r * columns + $0]) > abs(dense[r * columns + $1]) || (abs(dense[r * columns + $0])
          == abs(dense[r * columns + $1]) && $0 < $1) }.prefix(n).sorted()
        for c in kept { values.append(dense[r * columns + c]); indices.append(UInt8(c - g * m)) }
      }
    }
    (self.rows, self.columns, self.n, self.m, self.values, self.indices) = (rows, columns, n, m, values, indices)
    rowBlocks = Self.makeRowBlocks(rows: rows, columns: columns, n: n, m: m, values: values, indices: indices)
  }

  /// The dense row-major `rows × columns` matrix.
  public func dense() -> [Float] {
    var w = [Float](repeating: 0, count: rows * columns)
    let groups = groupsPerRow
    for t in 0..<values.count {
      let r = t / n / groups, g = (t / n) % groups
      w[r * columns + g * m + Int(indices[t])] += values[t]
    }
    return w
  }

  /// The row blocks of the AVX-512 kernel; none on arm64, whose NEON kernel reads the public arrays.
  private static func makeRowBlocks(
    rows: Int, columns: Int, n: Int, m: Int, values: [Float], indices: [UInt8]
  ) -> NMRowBlocks? {
    KernelDispatch.usesNEON ? nil : NMRowBlocks(rows: rows, columns: columns, n: n, m: m, values: values, indices: indices)
  }

  /// The public arrays plus the row blocks kept for the native kernel.
  public var packedByteCount: Int { values.count * 5 + (rowBlocks.map { $0.values.count * 4 + $0.indices.count * 4 } ?? 0) }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  /// Native: rows as lanes (`16x12`: 16 rows × up to 12 tokens) where the pattern has row
  /// blocks, else 64-token panels (`1x64`).
  public func kernelName(for path: KernelPath) -> String {
    guard usesNative(path) else { return "f32_spmm_\(n)of\(m)_1x64__scalar" }
    if KernelDispatch.usesNEON { return "f32_spmm_\(n)of\(m)_4x8__neon" }
    return "f32_spmm_\(n)of\(m)_" + (rowBlocks == nil ? "1x64" : "16x12") + "__avx512"
  }
  func usesNative(_ path: KernelPath) -> Bool {
    KernelDispatch.usesNative(path, requires: KernelDispatch.usesNEON ? .neon : .avx512f)
  }

  public func multiply(
    _ x: UnsafePointer<Float>, m tokens: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    multiply(x, m: tokens, bias: bias, activation: activation, into: y, path: KernelDispatch.defaultPath)
  }

  /// Native: 16-row blocks with the rows as SIMD lanes (``NMRowBlocks``: m divides 16 and
  /// 16·n/m ≤ 8, e.g. 2:4, 1:4, 2:8, 4:8), else 64-token panels as the CSR kernel, read in blocks
  /// of 64 inputs (an L1-resident slice) over all rows; portable: sparse dot products in C.
  /// Rows split over threads.
  public func multiply(
    _ x: UnsafePointer<Float>, m tokens: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    guard tokens > 0, rows > 0 else { return }
    let relu: Int32 = activation == .relu ? 1 : 0
    let native = usesNative(path)
    if native, !KernelDispatch.usesNEON, let rowBlocks {
      rowBlocks.multiply(x, tokens: tokens, bias: bias, relu: relu, into: y)
      return
    }
    values.withUnsafeBufferPointer { values in
      indices.withUnsafeBufferPointer { indices in
        var matrix = winnow_nm_matrix(rows: Int32(rows), columns: Int32(columns), n: Int32(n), m: Int32(m),
                                      indices: indices.baseAddress, values: values.baseAddress)
        let grain = spmmRowGrain(rows: rows, multiplyAdds: (values.count + columns) * tokens)
        withUnsafePointer(to: &matrix) { matrix in
          parallelFor(rows, minimumPerChunk: grain) { chunk in
            let (begin, end) = (Int32(chunk.lowerBound), Int32(chunk.upperBound))
            guard native else {
              winnow_nm_spmm_f32_portable(matrix, x, Int32(tokens), bias, relu, y, begin, end)
              return
            }
            if KernelDispatch.usesNEON {  // 8-token panels, four rows at a time (neon_sparse.c)
              let workspace = winnow_nm_spmm_neon_workspace_floats(matrix)
              withUnsafeTemporaryAllocation(of: Float.self, capacity: workspace) { buffer in
                winnow_nm_spmm_f32_neon(matrix, x, Int32(tokens), bias, relu, y, begin, end, buffer.baseAddress)
              }
              return
            }
            let workspace = winnow_nm_spmm_workspace_floats(matrix, Int32(chunk.count))
            withUnsafeTemporaryAllocation(of: Float.self, capacity: workspace) { buffer in
              winnow_nm_spmm_f32_avx512(matrix, x, Int32(tokens), bias, relu, y, begin, end, buffer.baseAddress)
            }
          }
        }
      }
    }
  }
}
