import Foundation
import Winnow

/// The Winnow rows of the MiniLM benchmark: the fp32 model and its compressed variants, each
/// running through ``BERTInference`` on the packed kernel that suits its weights.
///
/// Compressed models come from ``EmbeddingFidelityStudy/compressedModel(_:_:calibration:)``
/// (one-shot, no fine-tuning, the variants of docs/RESULTS.md's MiniLM table; calibration:
/// 64 generated sentences, seed 2, as `winnow embed-study`). Sparse float variants keep, per
/// matrix, the fastest of dense / CSR / BSR 8×1 (or dense / N:M for 2:4) measured on 128 rows
/// of this model's shape (``fastest(_:rows:)``): a format slower than dense is never kept;
/// sparse int8 variants likewise keep int8 (VNNI) unless CSR-int8 is ≥ 5 % faster.
struct MiniLMVariant: Sendable {
  enum Weights: Sendable {
    case dense, int8, int4(groupSize: Int)
    /// Fastest measured of dense, CSR and BSR 8×1 (unstructured zeros).
    case sparse
    /// Fastest measured of dense and n:m.
    case nm(n: Int, m: Int)
    /// Fastest measured of int8 (VNNI, dynamic per-token activations) and CSR-int8 (int8
    /// non-zeros, weight-only: Float32 activations).
    case sparseInt8
  }

  let name: String, key: String
  var compression: EmbeddingFidelityStudy.Variant = .dense
  var weights: Weights = .dense
  var attention = AttentionPrecision.float32
  /// Whether a run without `--shapes` times it (`--shapes winnow` selects every variant).
  var inDefaultRun = true

  static let all: [MiniLMVariant] = [
    MiniLMVariant(name: "winnow fp32 (fused)", key: "winnow_fp32"),
    MiniLMVariant(name: "winnow int8 weights + dynamic int8 activations (VNNI)", key: "winnow_int8", weights: .int8),
    MiniLMVariant(
      name: "winnow int8 (VNNI) + bf16 attention (AVX512-BF16)", key: "winnow_int8_bf16attn", weights: .int8,
      attention: .bfloat16),
    MiniLMVariant(name: "Wanda 20 % (fastest of dense/CSR/BSR)", key: "winnow_wanda20", compression: .wanda(sparsity: 0.2), weights: .sparse),
    MiniLMVariant(name: "Wanda 30 % (fastest of dense/CSR/BSR)", key: "winnow_wanda30", compression: .wanda(sparsity: 0.3), weights: .sparse),
    MiniLMVariant(name: "Wanda 50 % (fastest of dense/CSR/BSR)", key: "winnow_wanda50", compression: .wanda(sparsity: 0.5), weights: .sparse),
    MiniLMVariant(name: "Wanda 2:4 (fastest of dense/2:4)", key: "winnow_wanda2of4", compression: .wandaNM(n: 2, m: 4), weights: .nm(n: 2, m: 4)),
    MiniLMVariant(name: "heads: keep 9 per layer (dense, smaller)", key: "winnow_heads9", compression: .heads(keep: 9)),
    MiniLMVariant(name: "int4 weights, groups of 32 (weight-only)", key: "winnow_int4g32", weights: .int4(groupSize: 32)),
    MiniLMVariant(
      name: "Wanda 30 % + int8 (VNNI) + bf16 attention", key: "winnow_wanda30_int8", compression: .wanda(sparsity: 0.3),
      weights: .int8, attention: .bfloat16),
    MiniLMVariant(
      name: "Wanda 50 % + int8 (fastest of VNNI/CSR-int8) + bf16 attention", key: "winnow_wanda50_int8",
      compression: .wanda(sparsity: 0.5), weights: .sparseInt8, attention: .bfloat16),
    MiniLMVariant(
      name: "heads: keep 9 + int8 (VNNI) + bf16 attention", key: "winnow_heads9_int8", compression: .heads(keep: 9),
      weights: .int8, attention: .bfloat16),
  ]

  /// This variant of `embedder`'s model, packed, and the kernels its 24 weight matrices run
  /// on (`kernel×count`, most used first, comma-separated); `calibration` is computed on first need.
  func make(_ embedder: SentenceEmbedder, calibration: () -> BERTCompression.Calibration) throws -> (BERTInference, kernels: String) {
    var model = embedder.model
    if case .dense = compression {} else {
      model = try EmbeddingFidelityStudy.compressedModel(embedder.model, compression, calibration: calibration())
    }
    var kernels: [String: Int] = [:]
    let inference = BERTInference(model, pack: { weight in
      let packed = pack(weight)
      kernels[packed.kernelName, default: 0] += 1
      return packed
    }, attention: attention)
    let summary = kernels.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key)×\($0.value)" }
    return (inference, summary.joined(separator: ","))
  }

  func pack(_ weight: Tensor) -> any PackedLinearWeights {
    let (n, k, values) = (weight.shape[0], weight.shape[1], weight.scalars)
    let dense = BERTInference.dense(weight)
    switch weights {
    case .dense: return dense
    case .int8: return BERTInference.int8(weight)
    case .int4(let g): return Int4LinearWeights.quantizingGroupwise(values, outputFeatures: n, inputFeatures: k, groupSize: g)
    case .sparse:
      return chosen(n, k, Self.fastest([
        dense, CSRMatrix(dense: values, rows: n, columns: k),
        BSRMatrix(dense: values, rows: n, columns: k, blockRows: 8, blockColumns: 1),
      ], rows: 128))
    case .nm(let keep, let group):
      return chosen(n, k, Self.fastest([dense, NMSparseMatrix(pruning: values, rows: n, columns: k, n: keep, m: group)], rows: 128))
    case .sparseInt8:
      return chosen(n, k, Self.fastest([BERTInference.int8(weight), CSRInt8Matrix(quantizing: values, rows: n, columns: k)], rows: 128))
    }
  }

  /// Logs the kernel kept for an `n×k` matrix (stderr) and returns it.
  func chosen(_ n: Int, _ k: Int, _ w: any PackedLinearWeights) -> any PackedLinearWeights {
    FileHandle.standardError.write(Data("minilm: \(key) \(n)×\(k): \(w.kernelName)\n".utf8))
    return w
  }

  /// The fastest candidate over 128 rows of seeded random input, at the thread count in force
  /// (the benchmark's first): candidates take turns for 8 rounds of ≥ 5 ms each and keep
  /// their best round. The first candidate (dense) is kept unless another is ≥ 5 % faster,
  /// so timing noise cannot pick a sparse format that only ties.
  static func fastest(_ candidates: [any PackedLinearWeights], rows m: Int) -> any PackedLinearWeights {
    guard let first = candidates.first else { preconditionFailure("no candidates") }
    var rng = RandomGenerator(seed: 7)
    let x = Tensor.randomNormal([m, first.inputFeatures], using: &rng).scalars
    var y = [Float](repeating: 0, count: m * first.outputFeatures)
    var best = [Double](repeating: .infinity, count: candidates.count)
    for _ in 0..<8 {
      for (i, w) in candidates.enumerated() {
        var calls = 0
        let start = Date()
        repeat {
          x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { w.multiply(xp.baseAddress!, m: m, bias: nil, activation: .none, into: $0.baseAddress!) }
          }
          calls += 1
        } while Date().timeIntervalSince(start) < 0.005
        best[i] = min(best[i], Date().timeIntervalSince(start) / Double(calls))
      }
    }
    let winner = best.indices.min { best[$0] < best[$1] }!
    return best[winner] < 0.95 * best[0] ? candidates[winner] : first
  }


}
