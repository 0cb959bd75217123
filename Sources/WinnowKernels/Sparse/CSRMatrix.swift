/// A sparse matrix in compressed sparse row (CSR) form: the weights of a pruned linear layer.
///
/// For a linear layer `Y[M×N] = X[M×K]·Wᵀ + bias`, `W` is stored `N×K` (PyTorch's `Linear`
/// layout): row `n` holds the weights of output feature `n`. Only non-zeros are stored, row by
/// row, in increasing column order:
///
/// - `values[t]`: the `t`-th non-zero;
/// - `columnIndices[t]`: its column (`0..<columns`);
/// - `rowOffsets[r]..<rowOffsets[r + 1]`: the non-zeros of row `r` (`rows + 1` offsets,
///   starting at 0 and ending at `values.count`).
///
/// Worked example, a 3×4 matrix with 4 non-zeros (row 1 is empty):
///
///     W = [ 5 0 0 7 ]      rowOffsets    = [0, 2, 2, 4]
///         [ 0 0 0 0 ]      columnIndices = [0, 3, 1, 2]
///         [ 0 8 9 0 ]      values        = [5, 7, 8, 9]
///
/// Storage is `4·nnz` bytes of values plus `4·nnz + 4·(rows + 1)` bytes of indices (`Int32`),
/// so CSR needs less memory than dense below 50 % density. Invariants: ``validate()``.
public struct CSRMatrix: Sendable, Equatable {
  /// Number of rows (output features `N`).
  public let rows: Int
  /// Number of columns (input features `K`).
  public let columns: Int
  /// `rows + 1` offsets into `columnIndices` and `values`.
  public let rowOffsets: [Int32]
  /// Column of each non-zero, strictly increasing within a row.
  public let columnIndices: [Int32]
  /// The non-zero values, row by row.
  public let values: [Float]

  /// Number of stored values.
  public var nonZeroCount: Int { values.count }
  /// Stored values / all entries (0 for an empty matrix).
  public var density: Double {
    rows * columns == 0 ? 0 : Double(values.count) / Double(rows * columns)
  }

  /// Compresses a dense row-major `rows × columns` matrix, dropping entries equal to zero
  /// (including `-0`). O(rows·columns).
  public init(dense: UnsafeBufferPointer<Float>, rows: Int, columns: Int) {
    precondition(rows >= 0 && columns >= 0 && dense.count >= rows * columns, "dense buffer too small")
    precondition(rows * columns <= Int(Int32.max), "CSRMatrix indices are Int32")
    var offsets = [Int32](), indices = [Int32](), values = [Float]()
    offsets.reserveCapacity(rows + 1)
    offsets.append(0)
    for r in 0..<rows {
      for c in 0..<columns where dense[r * columns + c] != 0 {
        indices.append(Int32(c))
        values.append(dense[r * columns + c])
      }
      offsets.append(Int32(values.count))
    }
    self.rows = rows
    self.columns = columns
    self.rowOffsets = offsets
    self.columnIndices = indices
    self.values = values
  }

  /// ``init(dense:rows:columns:)`` from an array.
  public init(dense: [Float], rows: Int, columns: Int) {
    self = dense.withUnsafeBufferPointer { CSRMatrix(dense: $0, rows: rows, columns: columns) }
  }

  /// Adopts arrays from an untrusted source (a file, another library), checking every
  /// invariant of ``validate()`` first. O(rows + nnz).
  ///
  /// - Throws: ``SparseFormatError`` naming the first broken invariant.
  public init(
    rows: Int, columns: Int, rowOffsets: [Int32], columnIndices: [Int32], values: [Float]
  ) throws {
    self.init(unchecked: rows, columns, rowOffsets, columnIndices, values)
    if let problem = validate() { throw SparseFormatError(format: "CSR", problem: problem) }
  }

  private init(
    unchecked rows: Int, _ columns: Int, _ rowOffsets: [Int32], _ columnIndices: [Int32], _ values: [Float]
  ) {
    self.rows = rows
    self.columns = columns
    self.rowOffsets = rowOffsets
    self.columnIndices = columnIndices
    self.values = values
  }

  /// The dense row-major `rows × columns` matrix (exact inverse of ``init(dense:rows:columns:)``).
  public func dense() -> [Float] {
    var result = [Float](repeating: 0, count: rows * columns)
    for r in 0..<rows {
      for t in Int(rowOffsets[r])..<Int(rowOffsets[r + 1]) {
        result[r * columns + Int(columnIndices[t])] = values[t]
      }
    }
    return result
  }
}

/// A sparse matrix built from untrusted arrays breaks an invariant of its format.
public struct SparseFormatError: Error, CustomStringConvertible, Equatable {
  /// "CSR", "BSR", "N:M", "int8", "int4" or "binary".
  public let format: String
  /// The first broken invariant, in words.
  public let problem: String
  public var description: String { "invalid \(format) matrix: \(problem)" }
}
