import Testing
import WinnowKernels

/// Deterministic values in [-1, 1) (a linear congruential sequence).
private func values(_ count: Int, seed: UInt64) -> [Float] {
  var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
  return (0..<count).map { _ in
    s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(s >> 40) * 0x1p-23 - 1
  }
}

/// An `n×k` dense weight matrix with about `sparsity` of its entries zero (unstructured).
/// Values are at least 1/8 in magnitude, so a kept weight never rounds to a dropped zero.
private func weights(n: Int, k: Int, sparsity: Double, seed: UInt64) -> [Float] {
  let v = values(n * k, seed: seed), keep = values(n * k, seed: seed &+ 99)
  return (0..<n * k).map { i in
    Double(keep[i] + 1) / 2 < sparsity ? 0 : (v[i] < 0 ? v[i] - 0.125 : v[i] + 0.125)
  }
}

/// The weight formats each test runs through: CSR and BSR with several block shapes.
private func formats(_ dense: [Float], n: Int, k: Int) -> [SparseWeights] {
  [.csr(CSRMatrix(dense: dense, rows: n, columns: k))]
    + [(1, 1), (1, 4), (4, 1), (8, 1), (2, 3), (16, 1), (6, 2)].map { (r, c) in
      .bsr(BSRMatrix(dense: dense, rows: n, columns: k, blockRows: r, blockColumns: c))
    }
}

private func describe(_ w: SparseWeights) -> String {
  switch w {
  case .csr: "CSR"
  case .bsr(let b): "BSR \(b.blockRows)×\(b.blockColumns)"
  }
}

/// Runs every fast kernel that accepts `w` and the reference; returns the first mismatch.
///
/// Tolerance (per element): Float32 accumulation of K products has error at most
/// `γ_K·Σ|w·x|` with `γ_K ≈ K·u`, `u = 2⁻²⁴` (Higham §3.1), plus one rounding for the bias:
/// we allow `(K + 2)·2u·(Σₖ|w_nk·x_mk| + |bias_n|)`, twice the bound. The reference
/// accumulates in Double. Output is filled with NaN first, so a missed element fails.
private func mismatch(_ w: SparseWeights, dense: [Float], m: Int, withBias: Bool) -> String? {
  let n = w.rows, k = w.columns
  let x = values(max(1, m * k), seed: UInt64(m * 7919 + k))
  let bias = values(max(1, n), seed: UInt64(n + 3))
  let u = Double(Float.ulpOfOne) / 2
  var expected = [Float](repeating: .nan, count: max(1, m * n))
  x.withUnsafeBufferPointer { px in
    bias.withUnsafeBufferPointer { pb in
      expected.withUnsafeMutableBufferPointer { py in
        SpMMKernel.reference.run(w, px.baseAddress!, m, withBias ? pb.baseAddress! : nil, py.baseAddress!)
      }
    }
  }
  for kernel in SpMMKernel.all where kernel.accepts(w) {
    var y = [Float](repeating: .nan, count: max(1, m * n))
    x.withUnsafeBufferPointer { px in
      bias.withUnsafeBufferPointer { pb in
        y.withUnsafeMutableBufferPointer { py in
          kernel.run(w, px.baseAddress!, m, withBias ? pb.baseAddress! : nil, py.baseAddress!)
        }
      }
    }
    for i in 0..<m {
      for j in 0..<n {
        var magnitude = withBias ? Swift.abs(Double(bias[j])) : 0
        for p in 0..<k { magnitude += Swift.abs(Double(dense[j * k + p]) * Double(x[i * k + p])) }
        let tolerance = Double(k + 2) * 2 * u * magnitude
        let difference = Swift.abs(Double(y[i * n + j]) - Double(expected[i * n + j]))
        if !(difference <= tolerance) {
          return "\(kernel.name) \(describe(w)) M=\(m) N=\(n) K=\(k) bias=\(withBias): Y[\(i), \(j)] = "
            + "\(y[i * n + j]), reference \(expected[i * n + j]), |diff| \(difference) > \(tolerance)"
        }
      }
    }
  }
  return nil
}

private func expectKernelsMatch(
  n: Int, k: Int, ms: [Int], sparsity: Double, sourceLocation: SourceLocation = #_sourceLocation
) {
  let dense = weights(n: n, k: k, sparsity: sparsity, seed: UInt64(n * 131 + k))
  for w in formats(dense, n: n, k: k) {
    for (index, m) in ms.enumerated() {
      if let failure = mismatch(w, dense: dense, m: m, withBias: index % 2 == 0) {
        Issue.record("\(failure)", sourceLocation: sourceLocation)
        return
      }
    }
  }
}

/// Token counts below, at, above and at multiples of the 32-token tile, the 8-token narrow
/// tile and the 4-token threshold for dot products, and 1.
private let tokenEdges = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 96]
/// Output and input features around the block sizes (1, 2, 3, 4, 8) and a thread split.
private let featureEdges = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33]

@Suite struct SpMMTests {
  /// Every fast kernel on every format against the reference, over all N in `featureEdges`
  /// with K cycling through it, and all token counts (bias on every other M).
  @Test(arguments: [0.0, 0.5, 0.9, 1.0], featureEdges)
  func kernelsMatchReferenceOnTileEdges(sparsity: Double, n: Int) {
    for (index, k) in featureEdges.enumerated() where (index + n) % 3 == 0 || k == n {
      expectKernelsMatch(n: n, k: k, ms: tokenEdges, sparsity: sparsity)
    }
  }

  /// Token counts around the AVX-512 kernel's 64-token panel and 32-token half panel (the
  /// tile edges above cover its 16-row tile and 16-wide transposes).
  @Test(arguments: [0.0, 0.9, 1.0])
  func kernelsMatchReferenceOnPanelEdges(sparsity: Double) {
    expectKernelsMatch(n: 33, k: 19, ms: [47, 48, 49, 63, 64, 65, 127, 128, 129], sparsity: sparsity)
  }

  /// Each M both with and without bias.
  @Test func kernelsMatchReferenceWithAndWithoutBias() {
    for m in [1, 5, 8, 32, 37] {
      let dense = weights(n: 13, k: 21, sparsity: 0.5, seed: 5)
      for w in formats(dense, n: 13, k: 21) {
        for withBias in [false, true] {
          if let failure = mismatch(w, dense: dense, m: m, withBias: withBias) { Issue.record("\(failure)") }
        }
      }
    }
  }

  /// Large enough to split across threads, with MiniLM-like proportions.
  @Test(arguments: [0.5, 0.9])
  func kernelsMatchReferenceOnALargeProblem(sparsity: Double) {
    expectKernelsMatch(n: 257, k: 190, ms: [1, 70, 128], sparsity: sparsity)
  }

  /// All-zero rows among non-empty ones, and matrices with no rows, columns or tokens.
  @Test func emptyRowsAndEmptyMatrices() {
    var dense = weights(n: 9, k: 10, sparsity: 0.3, seed: 11)
    for row in [0, 4, 5, 8] { for c in 0..<10 { dense[row * 10 + c] = 0 } }
    for w in formats(dense, n: 9, k: 10) {
      for m in [1, 4, 33] {
        if let failure = mismatch(w, dense: dense, m: m, withBias: true) { Issue.record("\(failure)") }
      }
    }
    for (n, k, m) in [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)] {
      expectKernelsMatch(n: n, k: k, ms: [m], sparsity: 0.5)
    }
  }

  /// K = 0: the product is empty, so Y is the bias (or zero).
  @Test func emptyInnerDimensionGivesBias() {
    let w = CSRMatrix(dense: [], rows: 3, columns: 0)
    let bias: [Float] = [1, -2, 3]
    var y = [Float](repeating: .nan, count: 6)
    SpMMKernel.csr.run(.csr(w), [0], 2, bias, &y)
    #expect(y == [1, -2, 3, 1, -2, 3])
  }
}

@Suite struct SpMMFormatTests {
  @Test(arguments: [0.0, 0.5, 0.9, 1.0])
  func denseCSRRoundTripIsExact(sparsity: Double) {
    for (n, k) in [(1, 1), (7, 9), (16, 33), (0, 4), (4, 0)] {
      let dense = weights(n: n, k: k, sparsity: sparsity, seed: 3)
      let csr = CSRMatrix(dense: dense, rows: n, columns: k)
      #expect(csr.validate() == nil)
      #expect(csr.dense() == dense)
      #expect(csr.nonZeroCount == dense.filter { $0 != 0 }.count)
      let adopted = try? CSRMatrix(rows: n, columns: k, rowOffsets: csr.rowOffsets,
                                   columnIndices: csr.columnIndices, values: csr.values)
      #expect(adopted == csr)
    }
  }

  @Test(arguments: [0.0, 0.5, 0.9, 1.0])
  func denseBSRRoundTripIsExact(sparsity: Double) {
    for (n, k) in [(1, 1), (7, 9), (16, 33), (0, 4)] {
      let dense = weights(n: n, k: k, sparsity: sparsity, seed: 4)
      for (r, c) in [(1, 1), (1, 4), (4, 1), (8, 1), (2, 3)] {
        let bsr = BSRMatrix(dense: dense, rows: n, columns: k, blockRows: r, blockColumns: c)
        #expect(bsr.validate() == nil)
        #expect(bsr.dense() == dense)
      }
    }
  }

  /// The worked example in the ``CSRMatrix`` documentation.
  @Test func csrDocumentationExample() {
    let csr = CSRMatrix(dense: [5, 0, 0, 7, 0, 0, 0, 0, 0, 8, 9, 0], rows: 3, columns: 4)
    #expect(csr.rowOffsets == [0, 2, 2, 4])
    #expect(csr.columnIndices == [0, 3, 1, 2])
    #expect(csr.values == [5, 7, 8, 9])
  }

  /// The worked example in the ``BSRMatrix`` documentation.
  @Test func bsrDocumentationExample() {
    let bsr = BSRMatrix(dense: [1, 0, 0, 2, 0, 3, 0, 0, 0, 0, 4, 0], rows: 4, columns: 3,
                        blockRows: 2, blockColumns: 1)
    #expect(bsr.blockRowOffsets == [0, 2, 3])
    #expect(bsr.blockColumnIndices == [0, 2, 1])
    #expect(bsr.values == [1, 2, 0, 3, 0, 4])
  }

  /// Malformed arrays (3×4 matrix) are rejected with an error that names the problem.
  @Test(arguments: [
    ([0, 2, 2], [0, 3, 1, 2], [5, 7, 8, 9], "entries, expected rows + 1"),  // offsets count
    ([0, 2, 9, 4], [0, 3, 1, 2], [5, 7, 8, 9], "past the end"),  // offset past the end
    ([0, 2, 1, 4], [0, 3, 1, 2], [5, 7, 8, 9], "decreases"),
    ([1, 2, 2, 4], [0, 3, 1, 2], [5, 7, 8, 9], "expected 0"),
    ([0, 2, 2, 5], [0, 3, 1, 2], [5, 7, 8, 9], "expected the value count"),
    ([0, 2, 2, 4], [3, 0, 1, 2], [5, 7, 8, 9], "not strictly increasing"),  // unsorted
    ([0, 2, 2, 4], [0, 0, 1, 2], [5, 7, 8, 9], "not strictly increasing"),  // duplicate
    ([0, 2, 2, 4], [0, 4, 1, 2], [5, 7, 8, 9], "out of range"),
    ([0, 2, 2, 4], [0, -1, 1, 2], [5, 7, 8, 9], "out of range"),
    ([0, 2, 2, 4], [0, 3, 1], [5, 7, 8, 9], "columnIndices has 3"),  // counts differ
  ] as [([Int32], [Int32], [Float], String)])
  func malformedCSRIsRejected(offsets: [Int32], indices: [Int32], values: [Float], problem: String) {
    #expect {
      try CSRMatrix(rows: 3, columns: 4, rowOffsets: offsets, columnIndices: indices, values: values)
    } throws: { error in
      (error as? SparseFormatError).map { $0.format == "CSR" && $0.problem.contains(problem) } ?? false
    }
  }

  @Test func malformedBSRIsRejected() {
    // 4×3 with 2×1 blocks, as in the documentation, broken one way at a time.
    func make(_ offsets: [Int32], _ indices: [Int32], _ values: [Float], rows: Int = 4) throws -> BSRMatrix {
      try BSRMatrix(rows: rows, columns: 3, blockRows: 2, blockColumns: 1, blockRowOffsets: offsets,
                    blockColumnIndices: indices, values: values)
    }
    #expect((try? make([0, 2, 3], [0, 2, 1], [1, 2, 0, 3, 0, 4])) != nil)
    #expect(throws: SparseFormatError.self) { try make([0, 3, 3], [0, 2, 1], [1, 2, 0, 3, 0, 4]) }
    #expect(throws: SparseFormatError.self) { try make([0, 2, 3], [2, 0, 1], [1, 2, 0, 3, 0, 4]) }
    #expect(throws: SparseFormatError.self) { try make([0, 2, 3], [0, 3, 1], [1, 2, 0, 3, 0, 4]) }
    #expect(throws: SparseFormatError.self) { try make([0, 2, 3], [0, 2, 1], [1, 2, 0, 3, 0]) }
    #expect(throws: SparseFormatError.self) { try make([0, 2, 3], [0, 2, 1], [1, 2, 0, 3, 0, 4], rows: 3) }
    #expect(throws: SparseFormatError.self) { try make([0, 2, 9], [0, 2, 1], [1, 2, 0, 3, 0, 4]) }
  }
}
