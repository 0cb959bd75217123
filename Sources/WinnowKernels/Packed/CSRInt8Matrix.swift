/// Sparse weights with int8 values: CSR structure, one symmetric Float scale per row.
///
///     W[n, k] = scales[n] · codes[t]   for t in rowOffsets[n]..<rowOffsets[n+1], k = columnIndices[t]
///
/// Example, N = 2, K = 4, `W = [[0, 0.5, 0, −1], [0, 0, 0, 0.25]]`: `rowOffsets = [0, 2, 3]`,
/// `columnIndices = [1, 3, 3]`, `scales = [1/127, 0.25/127]`, `codes = [64, −127, 127]`.
///
/// Weight-only quantization: activations stay Float32, so a 90%-sparse layer stores 1 byte
/// per non-zero value (+ its column index) and multiplies exactly as its dequantized weights
/// would. The products run in the transposed layout (``multiplyTransposed``): each non-zero
/// adds a scaled row of `Xᵀ`, the row's scale is applied once at the end.
public struct CSRInt8Matrix: PackedLinearWeights, Equatable {
  public let outputFeatures: Int
  public let inputFeatures: Int
  public let rowOffsets: [Int32]
  public let columnIndices: [Int32]
  public let codes: [Int8]
  public let scales: [Float]

  /// Quantizes the non-zeros of dense `N×K` weights per row: `scale = max|w| / 127`.
  public init(quantizing dense: [Float], rows n: Int, columns k: Int) {
    precondition(dense.count == n * k, "dense weights: \(dense.count) values for \(n)×\(k)")
    var offsets: [Int32] = [0], indices: [Int32] = [], codes: [Int8] = [], scales: [Float] = []
    for r in 0..<n {
      let row = dense[r * k..<(r + 1) * k]
      let largest = row.reduce(Float(0)) { max($0, abs($1)) }
      let scale = largest > 0 ? largest / 127 : 1
      for (c, w) in row.enumerated() where w != 0 {
        indices.append(Int32(c))
        // A kept weight never rounds to a stored zero code: it would read as pruned.
        let q = (w / scale).rounded().clamped(to: -127...127)
        codes.append(Int8(q == 0 ? (w > 0 ? 1 : -1) : q))
      }
      offsets.append(Int32(indices.count))
      scales.append(scale)
    }
    self.init(unchecked: n, k, offsets, indices, codes, scales)
  }

  /// Adopts arrays from an untrusted source, checking every invariant first.
  ///
  /// - Throws: ``SparseFormatError`` (format "CSR-int8") naming the problem.
  public init(
    rows: Int, columns: Int, rowOffsets: [Int32], columnIndices: [Int32], codes: [Int8], scales: [Float]
  ) throws {
    func fail(_ problem: String) -> SparseFormatError { SparseFormatError(format: "CSR-int8", problem: problem) }
    if codes.count != columnIndices.count { throw fail("\(codes.count) codes for \(columnIndices.count) column indices") }
    if scales.count != rows { throw fail("\(scales.count) scales for \(rows) rows") }
    if let bad = scales.firstIndex(where: { !($0.isFinite && $0 >= 0) }) { throw fail("scale \(bad) is \(scales[bad])") }
    // The structure is a CSR matrix's: reuse its checks.
    do {
      _ = try CSRMatrix(rows: rows, columns: columns, rowOffsets: rowOffsets, columnIndices: columnIndices,
                        values: [Float](repeating: 1, count: columnIndices.count))
    } catch let e as SparseFormatError {
      throw fail(e.problem)
    }
    self.init(unchecked: rows, columns, rowOffsets, columnIndices, codes, scales)
  }

  private init(
    unchecked n: Int, _ k: Int, _ offsets: [Int32], _ indices: [Int32], _ codes: [Int8], _ scales: [Float]
  ) {
    (outputFeatures, inputFeatures) = (n, k)
    (rowOffsets, columnIndices, self.codes, self.scales) = (offsets, indices, codes, scales)
  }

  public var kernelName: String { "qs8w_spmm_csr_1x512__simd8" }
  public var packedByteCount: Int { codes.count * 3 + rowOffsets.count * 4 + scales.count * 4 }

  /// The dequantized `N×K` weights.
  public func dense() -> [Float] {
    var w = [Float](repeating: 0, count: outputFeatures * inputFeatures)
    for r in 0..<outputFeatures {
      for t in Int(rowOffsets[r])..<Int(rowOffsets[r + 1]) {
        w[r * inputFeatures + Int(columnIndices[t])] = scales[r] * Float(codes[t])
      }
    }
    return w
  }

  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    let n = outputFeatures, k = inputFeatures
    guard m > 0, n > 0 else { return }
    if m == 1 {  // X and Xᵀ are the same vector; so are Y and Yᵀ.
      multiplyTransposed(x, m: 1, bias: bias, activation: activation, into: y)
      return
    }
    let xT = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
    let yT = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    defer { xT.deallocate(); yT.deallocate() }
    transposeMatrix(x, rows: m, columns: k, into: xT)
    multiplyTransposed(xT, m: m, bias: bias, activation: activation, into: yT)
    transposeMatrix(yT, rows: n, columns: m, into: y)
  }

  public func multiplyTransposed(
    _ xT: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into yT: UnsafeMutablePointer<Float>
  ) {
    rowOffsets.withUnsafeBufferPointer { offsets in
      columnIndices.withUnsafeBufferPointer { indices in
        codes.withUnsafeBufferPointer { codes in
          scales.withUnsafeBufferPointer { scales in
            csrTransposedProduct(
              offsets: offsets, indices: indices, values: codes, toFloat: { Float($0) }, scales: scales,
              rows: outputFeatures, xT: xT, m: m, bias: bias, activation: activation, into: yT)
          }
        }
      }
    }
  }
}
