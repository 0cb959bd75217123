import Testing
import WinnowKernels

/// N:M kernels (native AVX-512 and portable) against the dense Double reference over the
/// edges of both native kernels: row blocks (16 rows, quads of 16 inputs, 12-token register
/// blocks, 1024-input K tiles; 2:4, 1:4, 2:8, 4:8, 1:2, 8:16, 3:16; the portable twin runs on
/// the same blocks) and 64-token panels (16-row tile, 64-input block; the other patterns), and
/// the tail group.
@Suite struct NMSparseTests {
  @Test(arguments: [(2, 4), (1, 4), (2, 8), (4, 8), (1, 2), (8, 16), (2, 3), (16, 16), (3, 16)],
        [1, 2, 3, 5, 12, 13, 17, 64, 65, 130])
  func kernelsMatchReference(pattern: (Int, Int), m: Int) {
    let (keep, group) = pattern
    let shapes = [(1, group), (17, 5 * group + keep), (33, 64), (16, 130 + keep), (15, 1024 + 3 * group)]
    for (n, k) in shapes where k % group == 0 || k % group >= keep {
      let dense = PackedLinearTests.values(n * k, seed: UInt64(n * k + keep)).map { $0 / 2 }
      let w = NMSparseMatrix(pruning: dense, rows: n, columns: k, n: keep, m: group)
      let x = PackedLinearTests.values(m * k, seed: UInt64(m + 1)).map { $0 / 2 }
      let bias = PackedLinearTests.values(n, seed: 3)
      for path in KernelPath.allCases {
        PackedLinearTests().expectMatchesReference(w, w: w.dense(), n: n, k: k, x: x, m: m, bias: bias, path: path)
      }
    }
  }

  /// 0 % sparsity (n = m) keeps the dense matrix; all-zero weights give the bias.
  @Test func fullAndEmptyPatterns() {
    let dense = PackedLinearTests.values(9 * 20, seed: 4)
    #expect(NMSparseMatrix(pruning: dense, rows: 9, columns: 20, n: 4, m: 4).dense() == dense)
    let zeros = NMSparseMatrix(pruning: [Float](repeating: 0, count: 180), rows: 9, columns: 20, n: 2, m: 4)
    let x = PackedLinearTests.values(70 * 20, seed: 5), bias = PackedLinearTests.values(9, seed: 6)
    for path in KernelPath.allCases {
      var y = [Float](repeating: .nan, count: 70 * 9)
      zeros.multiply(x, m: 70, bias: bias, activation: .none, into: &y, path: path)
      #expect(y == (0..<70).flatMap { _ in bias }, "\(zeros.kernelName(for: path))")
    }
  }

  /// Row blocks exist exactly for the patterns whose 16-input quads hold at most 8 kept weights.
  @Test func rowBlockPatterns() {
    for (keep, group, native) in [(2, 4, true), (1, 4, true), (2, 8, true), (8, 16, true), (3, 4, false), (2, 3, false), (16, 16, false)] {
      let w = NMSparseMatrix(pruning: [Float](repeating: 1, count: 2 * 48), rows: 2, columns: 48, n: keep, m: group)
      let name = w.kernelName(for: .native)
      if CPUFeatures.current.contains(.avx512f) {
        #expect(name.contains("16x12") == native, "\(keep):\(group) → \(name)")
      }
    }
  }

  /// Only one layout is kept: row blocks (4.5 bytes per kept weight at 2:4, 5 at 1:4 and 2:8
  /// on whole 16×16 blocks) or, for other patterns, the arrays (5 bytes); the arrays rebuilt
  /// from the row blocks are the ones given, padding slots and short tail groups included.
  @Test(arguments: [(2, 4, 4.5), (1, 4, 5), (2, 8, 5), (3, 4, 5), (2, 3, 5)])
  func oneLayoutInMemory(keep: Int, group: Int, bytesPerKept: Double) throws {
    let dense = PackedLinearTests.values(32 * 48, seed: 8)
    let w = NMSparseMatrix(pruning: dense, rows: 32, columns: 48, n: keep, m: group)
    #expect(Double(w.packedByteCount) / Double(w.values.count) == bytesPerKept)
    for (rows, columns) in [(32, 48), (17, 4 * group + keep), (1, group)] {
      let original = NMSparseMatrix(pruning: PackedLinearTests.values(rows * columns, seed: 9), rows: rows, columns: columns,
                                    n: keep, m: group)
      let (values, indices) = original.groupArrays()
      let adopted = try NMSparseMatrix(rows: rows, columns: columns, n: keep, m: group, values: values, indices: indices)
      #expect(adopted == original && adopted.values == values && adopted.indices == indices)
    }
  }

  /// The worked example in the type's documentation.
  @Test func documentationExample() throws {
    let w = try NMSparseMatrix(rows: 1, columns: 6, n: 2, m: 4, values: [3, -1, 2, 0], indices: [1, 3, 0, 1])
    #expect(w.dense() == [0, 3, 0, -1, 2, 0])
    #expect(w.values == [3, -1, 2, 0] && w.indices == [1, 3, 0, 1])
    #expect(NMSparseMatrix(pruning: [0, 3, 0, -1, 2, 0], rows: 1, columns: 6, n: 2, m: 4) == w)
  }

  @Test(arguments: [
    (2, 4, [1, 2, 3, 4], [0, 1, 0, 1], "needs 1 ≤ n ≤ m ≤ 16"),
    (2, 4, [1, 2, 3], [0, 1, 0, 1], "values has 3 entries"),
    (2, 4, [1, 2, 3, 4], [0, 1, 0], "indices has 3 entries"),
    (2, 4, [1, 2, 3, 4], [0, 4, 0, 1], "index 4 outside 0..<4"),
    (2, 4, [1, 2, 3, 4], [0, 1, 0, 2], "group 1: index 2 outside 0..<2"),
    (2, 4, [1, 2, 3, 4], [1, 1, 0, 1], "not strictly increasing"),
  ] as [(Int, Int, [Float], [UInt8], String)])
  func invalidArraysAreRejected(n: Int, m: Int, values: [Float], indices: [UInt8], message: String) {
    let pattern = message.hasPrefix("needs") ? (n, 17) : (n, m)
    do {
      _ = try NMSparseMatrix(rows: 1, columns: 6, n: pattern.0, m: pattern.1, values: values, indices: indices)
      Issue.record("accepted \(values) \(indices)")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
    }
  }
}
