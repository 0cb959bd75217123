import WinnowCompression
import WinnowCore
import WinnowKernels

extension WeightFormat {
  /// Packs `N×K` row-major weights (`values`) in this format; quantized formats quantize
  /// here, after batch norm has been folded into the weights.
  func pack(_ values: [Float], outputFeatures n: Int, inputFeatures k: Int) throws -> any PackedLinearWeights {
    switch self {
    case .int8:
      let q = try QuantizationScheme.int8(symmetric: true, perChannel: true)
        .quantize(Tensor(shape: [n, k], scalars: values), layer: "weights")
      return try Int8LinearWeights(codes: q.codes.scalars, scales: q.scales, outputFeatures: n, inputFeatures: k)
    case .csrInt8: return CSRInt8Matrix(quantizing: values, rows: n, columns: k)
    case .nm(let keep, let group):
      guard fitsNM(values, inputFeatures: k, n: keep, m: group) else {
        throw RuntimeError.formatNotApplicable(
          layer: "weights", format: description, reason: "some group of \(group) inputs has more than \(keep) non-zeros (prune with --method nm first)")
      }
      return NMSparseMatrix(pruning: values, rows: n, columns: k, n: keep, m: group)
    case .int4(let groupSize):
      return try int4Weights(values, outputFeatures: n, inputFeatures: k, groupSize: groupSize)
    case .binary:
      return BinaryLinearWeights.binarizing(values, outputFeatures: n, inputFeatures: k)
    case .dense: return DenseLinearWeights(values: values, outputFeatures: n, inputFeatures: k)
    case .csr: return CSRMatrix(dense: values, rows: n, columns: k)
    case .bsr(let r, let c): return BSRMatrix(dense: values, rows: n, columns: k, blockRows: r, blockColumns: c)
    }
  }

  /// Int4 codes from WinnowCompression's symmetric group scheme (codes −7…7, stored + 8,
  /// two per byte, low nibble first), so the program runs what fake quantization evaluated.
  private func int4Weights(_ values: [Float], outputFeatures n: Int, inputFeatures k: Int, groupSize: Int) throws -> Int4LinearWeights {
    let q = try QuantizationScheme.grouped(bits: 4, groupSize: groupSize)
      .quantize(Tensor(shape: [n, k], scalars: values), layer: "weights")
    let bytesPerRow = (k + 1) / 2
    var packed = [UInt8](repeating: 0, count: n * bytesPerRow)
    let codes = q.codes.scalars
    for r in 0..<n {
      for c in 0..<k {
        packed[r * bytesPerRow + c / 2] |= UInt8(Int(codes[r * k + c]) + 8) << (c % 2 == 0 ? 0 : 4)
      }
    }
    return try Int4LinearWeights(packedCodes: packed, scales: q.scales, groupSize: groupSize, outputFeatures: n, inputFeatures: k)
  }
}

/// Whether every group of `m` consecutive inputs of every row has at most `n` non-zeros (and
/// the tail group is at least `n` wide, as the N:M format needs).
func fitsNM(_ w: [Float], inputFeatures k: Int, n: Int, m: Int) -> Bool {
  guard k > 0, k - ((k + m - 1) / m - 1) * m >= n else { return false }
  for rowStart in stride(from: 0, to: w.count, by: k) {
    for g in stride(from: 0, to: k, by: m) {
      var count = 0
      for c in g..<min(k, g + m) where w[rowStart + c] != 0 { count += 1 }
      if count > n { return false }
    }
  }
  return true
}
