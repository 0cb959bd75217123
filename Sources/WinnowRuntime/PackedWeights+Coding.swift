import WinnowCore
import WinnowKernels

/// How each weight format's arrays are named and stored in a packed model file.
///
///     dense   <p>.values F32 [N·K]
///     csr     <p>.row_offsets I32 [N+1], <p>.column_indices I16|I32 [nnz], <p>.values F32 [nnz]
///     bsr     <p>.block_row_offsets I32, <p>.block_column_indices I16|I32, <p>.values F32
///     int8    <p>.codes I8 [N·K], <p>.scales F32 [N]
///     csr-int8 <p>.row_offsets I32, <p>.column_indices I16|I32, <p>.codes I8 [nnz], <p>.scales F32 [N]
///     n:m     <p>.values F32 [N·G·n], <p>.indices U8 [N·G·n]
///     int4    <p>.packed_codes U8 [N·⌈K/2⌉], <p>.scales F32 [N·G] (symmetric: zero point 8)
///     binary  <p>.signs U64 [N·⌈K/64⌉], <p>.scales F32 [N]
extension WeightFormat {
  func encode(_ weights: any PackedLinearWeights, prefix p: String, into tensors: inout [String: RawTensor]) {
    switch (self, weights) {
    case (.dense, let w as DenseLinearWeights):
      tensors["\(p).values"] = RawTensor(floats: w.values)
    case (.csr, let w as CSRMatrix):
      tensors["\(p).row_offsets"] = RawTensor(integers: w.rowOffsets, dtype: "I32")
      tensors["\(p).column_indices"] = indexTensor(w.columnIndices, columns: w.columns)
      tensors["\(p).values"] = RawTensor(floats: w.values)
    case (.bsr, let w as BSRMatrix):
      tensors["\(p).block_row_offsets"] = RawTensor(integers: w.blockRowOffsets, dtype: "I32")
      tensors["\(p).block_column_indices"] = indexTensor(w.blockColumnIndices, columns: w.blockColumnCount)
      tensors["\(p).values"] = RawTensor(floats: w.values)
    case (.int8, let w as Int8LinearWeights):
      tensors["\(p).codes"] = RawTensor(integers: w.codes, dtype: "I8")
      tensors["\(p).scales"] = RawTensor(floats: w.scales)
    case (.csrInt8, let w as CSRInt8Matrix):
      tensors["\(p).row_offsets"] = RawTensor(integers: w.rowOffsets, dtype: "I32")
      tensors["\(p).column_indices"] = indexTensor(w.columnIndices, columns: w.inputFeatures)
      tensors["\(p).codes"] = RawTensor(integers: w.codes, dtype: "I8")
      tensors["\(p).scales"] = RawTensor(floats: w.scales)
    case (.nm, let w as NMSparseMatrix):
      tensors["\(p).values"] = RawTensor(floats: w.values)
      tensors["\(p).indices"] = RawTensor(integers: w.indices, dtype: "U8")
    case (.int4, let w as Int4LinearWeights):
      tensors["\(p).packed_codes"] = RawTensor(integers: w.packedCodes, dtype: "U8")
      tensors["\(p).scales"] = RawTensor(floats: w.scales)
    case (.binary, let w as BinaryLinearWeights):
      tensors["\(p).signs"] = RawTensor(integers: w.signs, dtype: "U64")
      tensors["\(p).scales"] = RawTensor(floats: w.scales)
    default:
      preconditionFailure("format \(self) does not match weights \(type(of: weights))")
    }
  }

  /// Rebuilds `N×K` weights of this format from the file, validating every invariant.
  func decode(prefix p: String, outputFeatures n: Int, inputFeatures k: Int, from t: RawTensorReader) throws -> any PackedLinearWeights {
    do {
      switch self {
      case .dense:
        let values = try t.floats("\(p).values")
        guard values.count == n * k else { throw t.reader.error("'\(p).values' holds \(values.count) values for \(n)×\(k)") }
        return DenseLinearWeights(values: values, outputFeatures: n, inputFeatures: k)
      case .csr:
        return try CSRMatrix(rows: n, columns: k, rowOffsets: t.int32s("\(p).row_offsets"),
                             columnIndices: t.indices("\(p).column_indices"), values: t.floats("\(p).values"))
      case .bsr(let r, let c):
        return try BSRMatrix(rows: n, columns: k, blockRows: r, blockColumns: c,
                             blockRowOffsets: t.int32s("\(p).block_row_offsets"),
                             blockColumnIndices: t.indices("\(p).block_column_indices"), values: t.floats("\(p).values"))
      case .int8:
        let codes = try t.tensor("\(p).codes").elements(Int8.self, dtype: "I8", name: "\(p).codes", reader: t.reader)
        return try Int8LinearWeights(codes: codes, scales: t.floats("\(p).scales"), outputFeatures: n, inputFeatures: k)
      case .csrInt8:
        let codes = try t.tensor("\(p).codes").elements(Int8.self, dtype: "I8", name: "\(p).codes", reader: t.reader)
        return try CSRInt8Matrix(rows: n, columns: k, rowOffsets: t.int32s("\(p).row_offsets"),
                                 columnIndices: t.indices("\(p).column_indices"), codes: codes, scales: t.floats("\(p).scales"))
      case .nm(let keep, let group):
        let indices = try t.tensor("\(p).indices").elements(UInt8.self, dtype: "U8", name: "\(p).indices", reader: t.reader)
        return try NMSparseMatrix(rows: n, columns: k, n: keep, m: group, values: t.floats("\(p).values"), indices: indices)
      case .int4(let groupSize):
        let codes = try t.tensor("\(p).packed_codes").elements(UInt8.self, dtype: "U8", name: "\(p).packed_codes", reader: t.reader)
        return try Int4LinearWeights(packedCodes: codes, scales: t.floats("\(p).scales"), groupSize: groupSize, outputFeatures: n, inputFeatures: k)
      case .binary:
        let signs = try t.tensor("\(p).signs").elements(UInt64.self, dtype: "U64", name: "\(p).signs", reader: t.reader)
        return try BinaryLinearWeights(signs: signs, scales: t.floats("\(p).scales"), outputFeatures: n, inputFeatures: k)
      }
    } catch let e as SparseFormatError {
      throw t.reader.error("layer weights '\(p)': \(e)")
    }
  }
}
