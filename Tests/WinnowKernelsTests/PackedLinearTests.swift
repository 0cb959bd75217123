import Testing
import WinnowKernels

/// Every packed format against the dense reference `activation(X·Wᵀ + b)` in Double.
@Suite struct PackedLinearTests {
  static func reference(
    w: [Float], n: Int, k: Int, x: [Float], m: Int, bias: [Float]?, activation: EpilogueActivation
  ) -> [Float] {
    var y = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var acc = Double(bias?[j] ?? 0)
        for p in 0..<k { acc += Double(x[i * k + p]) * Double(w[j * k + p]) }
        y[i * n + j] = activation == .relu ? Float(max(acc, 0)) : Float(acc)
      }
    }
    return y
  }

  /// Deterministic values in [-1, 1).
  static func values(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return (0..<count).map { _ in
      s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(s >> 40) * 0x1p-23 - 1
    }
  }

  @Test(arguments: [(1, 7, 5), (3, 16, 33), (40, 9, 64), (517, 5, 12), (1030, 3, 7)])
  func formatsAgreeWithDense(shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    let w = Self.values(n * k, seed: 1).enumerated().map { $0.offset % 3 == 0 ? $0.element / 2 : 0 }
    let x = Self.values(m * k, seed: 2).map { $0 / 2 }
    let bias = Self.values(n, seed: 3).map { $0 / 2 }
    let formats: [any PackedLinearWeights] = [
      DenseLinearWeights(values: w, outputFeatures: n, inputFeatures: k),
      CSRMatrix(dense: w, rows: n, columns: k),
      BSRMatrix(dense: w, rows: n, columns: k, blockRows: 4, blockColumns: 1),
      BSRMatrix(dense: w, rows: n, columns: k, blockRows: 8, blockColumns: 1),
      BSRMatrix(dense: w, rows: n, columns: k, blockRows: 1, blockColumns: 4),
    ]
    for format in formats {
      for path in KernelPath.allCases {
        expectMatchesReference(format, w: w, n: n, k: k, x: x, m: m, bias: bias, path: path)
      }
    }
  }

  func expectMatchesReference(
    _ format: any PackedLinearWeights, w: [Float], n: Int, k: Int, x: [Float], m: Int, bias: [Float],
    path: KernelPath
  ) {
    for activation in EpilogueActivation.allCases {
      for b in [nil, bias] {
        let expected = Self.reference(w: w, n: n, k: k, x: x, m: m, bias: b, activation: activation)
        var y = [Float](repeating: .nan, count: m * n)
        x.withUnsafeBufferPointer { xp in
          y.withUnsafeMutableBufferPointer { yp in
            if let b {
              b.withUnsafeBufferPointer {
                format.multiply(xp.baseAddress!, m: m, bias: $0.baseAddress, activation: activation, into: yp.baseAddress!, path: path)
              }
            } else {
              format.multiply(xp.baseAddress!, m: m, bias: nil, activation: activation, into: yp.baseAddress!, path: path)
            }
          }
        }
        // Float32 sums of ≤ 64 terms of size ≤ 0.25: well inside 1e-4 absolute.
        let worst = zip(y, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-4, "\(format.kernelName(for: path)) \(activation) bias=\(b != nil) \(m)×\(n)×\(k): \(worst)")
        expectTransposedMatches(format, expected: expected, n: n, k: k, x: x, m: m, bias: b, activation: activation)
      }
    }
  }

  /// The transposed layout (Xᵀ in, Yᵀ out) gives the same products.
  func expectTransposedMatches(
    _ format: any PackedLinearWeights, expected: [Float], n: Int, k: Int, x: [Float], m: Int, bias b: [Float]?,
    activation: EpilogueActivation
  ) {
    var xT = [Float](repeating: 0, count: k * m)
    for i in 0..<m {
      for p in 0..<k { xT[p * m + i] = x[i * k + p] }
    }
    var yT = [Float](repeating: .nan, count: m * n)
    xT.withUnsafeBufferPointer { xp in
      yT.withUnsafeMutableBufferPointer { yp in
        (b ?? []).withUnsafeBufferPointer { bp in
          format.multiplyTransposed(
            xp.baseAddress!, m: m, bias: b == nil ? nil : bp.baseAddress, activation: activation, into: yp.baseAddress!)
        }
      }
    }
    var worst: Float = 0
    for i in 0..<m {
      for j in 0..<n { worst = max(worst, abs(yT[j * m + i] - expected[i * n + j])) }
    }
    #expect(worst < 1e-4, "\(format.kernelName) transposed \(activation) bias=\(b != nil) \(m)×\(n)×\(k): \(worst)")
  }
}

/// Int8 CSR: equals the dense reference on its own dequantized weights, and keeps its zeros.
@Suite struct CSRInt8MatrixTests {
  @Test(arguments: [(1, 7, 5), (3, 16, 33), (40, 9, 64), (517, 5, 12), (1, 1, 1)])
  func matchesReferenceOnDequantizedWeights(shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    for sparsity in [0.0, 0.7, 1.0] {
      let w = PackedLinearTests.values(n * k, seed: 5).enumerated().map { i, v in
        Double((i * 7919) % 100) / 100 < sparsity ? 0 : v
      }
      let x = PackedLinearTests.values(m * k, seed: 6)
      let bias = PackedLinearTests.values(n, seed: 7)
      let matrix = CSRInt8Matrix(quantizing: w, rows: n, columns: k)
      let dequantized = matrix.dense()
      #expect(zip(w, dequantized).allSatisfy { ($0 == 0) == ($1 == 0) }, "zeros must stay exactly where they were")
      // Round to nearest: within half a step (max|row| / 254) of the original.
      for r in 0..<n {
        let step = w[r * k..<(r + 1) * k].map(abs).max()! / 127
        #expect((0..<k).allSatisfy { abs(w[r * k + $0] - dequantized[r * k + $0]) <= step / 2 + 1e-7 })
      }
      PackedLinearTests().expectMatchesReference(matrix, w: dequantized, n: n, k: k, x: x, m: m, bias: bias, path: .portable)
    }
  }

  @Test func invalidArraysAreRejected() {
    #expect(throws: SparseFormatError.self) {
      try CSRInt8Matrix(rows: 1, columns: 2, rowOffsets: [0, 1], columnIndices: [2], codes: [1], scales: [1])
    }
    #expect(throws: SparseFormatError.self) {
      try CSRInt8Matrix(rows: 1, columns: 2, rowOffsets: [0, 1], columnIndices: [0], codes: [1, 2], scales: [1])
    }
    #expect(throws: SparseFormatError.self) {
      try CSRInt8Matrix(rows: 1, columns: 2, rowOffsets: [0, 1], columnIndices: [0], codes: [1], scales: [.nan])
    }
  }
}
