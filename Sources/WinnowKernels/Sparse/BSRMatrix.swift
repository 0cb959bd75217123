/// A sparse matrix in block compressed sparse row (BSR) form: CSR over `blockRows × blockColumns`
/// dense blocks, for weights pruned in blocks (or whose non-zeros cluster).
///
/// The matrix (`rows × columns`, PyTorch `Linear` layout `N×K` as in ``CSRMatrix``) is cut into
/// a grid of `⌈rows / blockRows⌉ × ⌈columns / blockColumns⌉` blocks; a block is stored when any
/// of its entries is non-zero, with all `blockRows·blockColumns` values (zeros included),
/// row-major inside the block. Blocks on the right and bottom edges are padded with zeros.
///
/// - `blockRowOffsets[i]..<blockRowOffsets[i + 1]`: the stored blocks of block row `i`;
/// - `blockColumnIndices[b]`: block `b` covers columns `blockColumnIndices[b]·blockColumns ..<`
///   `(blockColumnIndices[b] + 1)·blockColumns`, strictly increasing within a block row;
/// - `values[b·blockRows·blockColumns ..<]`: block `b`'s values.
///
/// Worked example, a 4×3 matrix with 2×1 blocks (3 of the 6 blocks stored):
///
///     W = [ 1 0 0 ]      blockRowOffsets    = [0, 2, 3]
///         [ 2 0 3 ]      blockColumnIndices = [0, 2, 1]
///         [ 0 0 0 ]      values             = [1, 2,  0, 3,  0, 4]
///         [ 0 4 0 ]
///
/// One index serves `blockRows·blockColumns` values (and a kernel could reuse each activation
/// load across the block's rows); the price is the stored zeros inside kept blocks.
public struct BSRMatrix: Sendable, Equatable {
  public let rows: Int
  public let columns: Int
  /// Rows of one block (output features sharing each block).
  public let blockRows: Int
  /// Columns of one block (consecutive input features).
  public let blockColumns: Int
  /// `⌈rows / blockRows⌉ + 1` offsets into `blockColumnIndices`.
  public let blockRowOffsets: [Int32]
  /// Block-column index of each stored block.
  public let blockColumnIndices: [Int32]
  /// `blockCount · blockRows · blockColumns` values, each block row-major.
  public let values: [Float]

  public var blockCount: Int { blockColumnIndices.count }
  /// Number of block rows, `⌈rows / blockRows⌉`.
  public var blockRowCount: Int { (rows + blockRows - 1) / blockRows }
  /// Number of block columns, `⌈columns / blockColumns⌉`.
  public var blockColumnCount: Int { (columns + blockColumns - 1) / blockColumns }
  /// Stored values (zeros in kept blocks included) / all entries.
  public var storedDensity: Double {
    rows * columns == 0 ? 0 : Double(values.count) / Double(rows * columns)
  }

  /// Blocks a dense row-major `rows × columns` matrix, keeping every block with a non-zero.
  /// O(rows·columns).
  public init(dense: UnsafeBufferPointer<Float>, rows: Int, columns: Int, blockRows: Int, blockColumns: Int) {
    precondition(rows >= 0 && columns >= 0 && dense.count >= rows * columns, "dense buffer too small")
    precondition(blockRows >= 1 && blockColumns >= 1, "blocks must be at least 1×1")
    precondition(rows * columns <= Int(Int32.max), "BSRMatrix indices are Int32")
    self.rows = rows
    self.columns = columns
    self.blockRows = blockRows
    self.blockColumns = blockColumns
    var offsets: [Int32] = [0], indices = [Int32](), values = [Float]()
    let blockRowCount = (rows + blockRows - 1) / blockRows
    let blockColumnCount = (columns + blockColumns - 1) / blockColumns
    func entry(_ r: Int, _ c: Int) -> Float { r < rows && c < columns ? dense[r * columns + c] : 0 }
    for i in 0..<blockRowCount {
      for j in 0..<blockColumnCount {
        let r0 = i * blockRows, c0 = j * blockColumns
        let rowRange = r0..<r0 + blockRows, columnRange = c0..<c0 + blockColumns
        guard rowRange.contains(where: { r in columnRange.contains { entry(r, $0) != 0 } }) else { continue }
        indices.append(Int32(j))
        for r in rowRange { for c in columnRange { values.append(entry(r, c)) } }
      }
      offsets.append(Int32(indices.count))
    }
    self.blockRowOffsets = offsets
    self.blockColumnIndices = indices
    self.values = values
  }

  /// ``init(dense:rows:columns:blockRows:blockColumns:)`` from an array.
  public init(dense: [Float], rows: Int, columns: Int, blockRows: Int, blockColumns: Int) {
    self = dense.withUnsafeBufferPointer {
      BSRMatrix(dense: $0, rows: rows, columns: columns, blockRows: blockRows, blockColumns: blockColumns)
    }
  }

  /// Adopts arrays from an untrusted source, checking every invariant of ``validate()`` first.
  ///
  /// - Throws: ``SparseFormatError`` naming the first broken invariant.
  public init(
    rows: Int, columns: Int, blockRows: Int, blockColumns: Int,
    blockRowOffsets: [Int32], blockColumnIndices: [Int32], values: [Float]
  ) throws {
    (self.rows, self.columns, self.blockRows, self.blockColumns) = (rows, columns, blockRows, blockColumns)
    (self.blockRowOffsets, self.blockColumnIndices, self.values) = (blockRowOffsets, blockColumnIndices, values)
    if let problem = validate() { throw SparseFormatError(format: "BSR", problem: problem) }
  }

  /// The dense row-major `rows × columns` matrix (padding dropped).
  public func dense() -> [Float] {
    var result = [Float](repeating: 0, count: rows * columns)
    let size = blockRows * blockColumns
    for i in 0..<blockRowCount {
      for b in Int(blockRowOffsets[i])..<Int(blockRowOffsets[i + 1]) {
        let c0 = Int(blockColumnIndices[b]) * blockColumns
        for r in 0..<blockRows where i * blockRows + r < rows {
          for c in 0..<blockColumns where c0 + c < columns {
            result[(i * blockRows + r) * columns + c0 + c] = values[b * size + r * blockColumns + c]
          }
        }
      }
    }
    return result
  }

  /// Checks the layout invariants; returns the first one broken, in words, or nil.
  ///
  /// Shape and block size positive (shape may be 0); `blockRowOffsets` has `blockRowCount + 1`
  /// non-decreasing entries from 0 to `blockCount`; block-column indices in
  /// `0..<blockColumnCount`, strictly increasing within a block row; `values.count ==
  /// blockCount·blockRows·blockColumns`; padding entries (outside `rows × columns`) are zero.
  public func validate() -> String? {
    if rows < 0 || columns < 0 { return "negative shape \(rows)×\(columns)" }
    if blockRows < 1 || blockColumns < 1 { return "block size \(blockRows)×\(blockColumns) is empty" }
    if blockRowOffsets.count != blockRowCount + 1 {
      return "blockRowOffsets has \(blockRowOffsets.count) entries, expected \(blockRowCount + 1)"
    }
    if blockRowOffsets[0] != 0 { return "blockRowOffsets[0] is \(blockRowOffsets[0]), expected 0" }
    if Int(blockRowOffsets[blockRowCount]) != blockCount {
      return "blockRowOffsets ends at \(blockRowOffsets[blockRowCount]), expected the block count \(blockCount)"
    }
    let size = blockRows * blockColumns
    if values.count != blockCount * size {
      return "values has \(values.count) entries, expected \(blockCount) blocks × \(size)"
    }
    for i in 0..<blockRowCount {
      let start = Int(blockRowOffsets[i]), end = Int(blockRowOffsets[i + 1])
      if end < start { return "blockRowOffsets decreases at block row \(i): \(start) then \(end)" }
      if end > blockCount { return "blockRowOffsets[\(i + 1)] = \(end) is past the end (\(blockCount))" }
      var previous = -1
      for b in start..<end {
        let j = Int(blockColumnIndices[b])
        if j < 0 || j >= blockColumnCount { return "block row \(i): block column \(j) out of range" }
        if j <= previous { return "block row \(i): block columns not strictly increasing (\(previous) then \(j))" }
        previous = j
        for r in 0..<blockRows {
          for c in 0..<blockColumns where (i * blockRows + r >= rows || j * blockColumns + c >= columns)
            && values[b * size + r * blockColumns + c] != 0 {
            return "block \(b): non-zero padding outside the \(rows)×\(columns) matrix"
          }
        }
      }
    }
    return nil
  }
}
