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
/// These arrays are the exchange (and file) layout: `n·G` Floats and bytes per row, 5 bytes per
/// kept weight (CSR would need 8). In memory the matrix keeps only one layout: for the patterns
/// of the rows-as-lanes kernel (m divides 16, at most 8 kept per 16 inputs: 2:4, 1:4, 2:8, 4:8…)
/// the 16-row blocks of ``NMRowBlocks`` (4.5 bytes per kept weight at 2:4, 5 at 1:4 and 2:8,
/// plus padding to 16 rows and 16 inputs), from which ``values`` and ``indices`` are rebuilt
/// on demand; for the others the arrays themselves.
public struct NMSparseMatrix: PackedLinearWeights, Equatable {
  public let rows: Int
  public let columns: Int
  /// Kept weights per group.
  public let n: Int
  /// Group size (1…16).
  public let m: Int
  /// The one layout kept in memory.
  let storage: Storage

  enum Storage: Sendable, Equatable {
    /// The exchange arrays (patterns without row blocks).
    case groups(values: [Float], indices: [UInt8])
    /// 16-row blocks for the rows-as-lanes kernels (native and portable).
    case rowBlocks(NMRowBlocks)
  }

  /// `rows · G · n` weights (rebuilt from the row blocks when those are the stored layout).
  public var values: [Float] { groupArrays().values }
  /// `rows · G · n` in-group positions (rebuilt likewise).
  public var indices: [UInt8] { groupArrays().indices }

  /// Both exchange arrays, unpacked once.
  public func groupArrays() -> (values: [Float], indices: [UInt8]) {
    switch storage {
    case .groups(let values, let indices): return (values, indices)
    case .rowBlocks(let blocks): return blocks.groupArrays(n: n, m: m)
    }
  }

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
    self.init(unchecked: rows, columns, n, m, values, indices)
  }

  /// Keeps the row blocks when the pattern has them, else the arrays (one layout, not both).
  /// No row blocks on arm64, whose NEON kernel reads the arrays.
  private init(unchecked rows: Int, _ columns: Int, _ n: Int, _ m: Int, _ values: [Float], _ indices: [UInt8]) {
    (self.rows, self.columns, self.n, self.m) = (rows, columns, n, m)
    if !KernelDispatch.usesNEON,
      let blocks = NMRowBlocks(rows: rows, columns: columns, n: n, m: m, values: values, indices: indices) {
      storage = .rowBlocks(blocks)
    } else {
      storage = .groups(values: values, indices: indices)
    }
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
    self.init(unchecked: rows, columns, n, m, values, indices)
  }

  /// The dense row-major `rows × columns` matrix.
  public func dense() -> [Float] {
    var w = [Float](repeating: 0, count: rows * columns)
    let groups = groupsPerRow, (values, indices) = groupArrays()
    for t in 0..<values.count {
      let r = t / n / groups, g = (t / n) % groups
      w[r * columns + g * m + Int(indices[t])] += values[t]
    }
    return w
  }

  /// Bytes of the stored layout: 5 per slot for the arrays; for row blocks 4 per value and
  /// index word, padding included.
  public var packedByteCount: Int {
    switch storage {
    case .groups(let values, _): return values.count * 5
    case .rowBlocks(let blocks): return blocks.values.count * 4 + blocks.indices.count * 4
    }
  }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  /// Row blocks: `16x12` (16 rows as lanes × up to 12 tokens) natively, one output at a time
  /// (`16x1`) portably; other patterns: 64-token panels (`1x64`).
  public func kernelName(for path: KernelPath) -> String {
    let native = usesNative(path), tile: String
    if native && KernelDispatch.usesNEON { return "f32_spmm_\(n)of\(m)_4x8__neon" }
    switch storage {
    case .rowBlocks: tile = native ? "16x12" : "16x1"
    case .groups: tile = "1x64"
    }
    return "f32_spmm_\(n)of\(m)_\(tile)__" + (native ? "avx512" : "scalar")
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

  /// Row blocks (``NMRowBlocks``: m divides 16 and 16·n/m ≤ 8, e.g. 2:4, 1:4, 2:8, 4:8): the
  /// rows-as-lanes AVX-512 kernel, or its portable C twin. Other patterns: natively 64-token
  /// panels as the CSR kernel, read in blocks of 64 inputs (an L1-resident slice) over all rows;
  /// portably sparse dot products in C. Rows split over threads.
  public func multiply(
    _ x: UnsafePointer<Float>, m tokens: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    guard tokens > 0, rows > 0 else { return }
    let relu: Int32 = activation == .relu ? 1 : 0
    let native = usesNative(path)
    let values: [Float], indices: [UInt8]
    switch storage {
    case .rowBlocks(let blocks):
      return blocks.multiply(x, tokens: tokens, bias: bias, relu: relu, into: y, native: native)
    case .groups(let v, let i): (values, indices) = (v, i)
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
