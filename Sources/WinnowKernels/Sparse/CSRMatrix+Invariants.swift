extension CSRMatrix {
  /// Checks the layout invariants; returns the first one broken, in words, or nil.
  ///
  /// 1. `rows ≥ 0`, `columns ≥ 0`;
  /// 2. `rowOffsets.count == rows + 1`, `rowOffsets[0] == 0`, offsets non-decreasing, and
  ///    `rowOffsets[rows] == columnIndices.count == values.count`;
  /// 3. every column index in `0..<columns`, strictly increasing within each row (so no
  ///    duplicates).
  ///
  /// Kernels rely on these for memory safety, so matrices from untrusted data go through
  /// ``init(rows:columns:rowOffsets:columnIndices:values:)``, which calls this. O(rows + nnz).
  public func validate() -> String? {
    if rows < 0 || columns < 0 { return "negative shape \(rows)×\(columns)" }
    if rowOffsets.count != rows + 1 {
      return "rowOffsets has \(rowOffsets.count) entries, expected rows + 1 = \(rows + 1)"
    }
    if columnIndices.count != values.count {
      return "columnIndices has \(columnIndices.count) entries but values has \(values.count)"
    }
    if rowOffsets[0] != 0 { return "rowOffsets[0] is \(rowOffsets[0]), expected 0" }
    if Int(rowOffsets[rows]) != values.count {
      return "rowOffsets[\(rows)] is \(rowOffsets[rows]), expected the value count \(values.count)"
    }
    for r in 0..<rows {
      let start = Int(rowOffsets[r]), end = Int(rowOffsets[r + 1])
      if end < start { return "rowOffsets decreases at row \(r): \(start) then \(end)" }
      if end > values.count { return "rowOffsets[\(r + 1)] = \(end) is past the end (\(values.count))" }
      var previous = -1
      for t in start..<end {
        let c = Int(columnIndices[t])
        if c < 0 || c >= columns { return "row \(r): column index \(c) out of range 0..<\(columns)" }
        if c <= previous { return "row \(r): column indices not strictly increasing (\(previous) then \(c))" }
        previous = c
      }
    }
    return nil
  }
}
