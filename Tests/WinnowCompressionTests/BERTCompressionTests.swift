import Testing
import WinnowCore
import WinnowNN
import WinnowCompression
import WinnowTestSupport

@Suite struct BERTCompressionTests {
  static let configuration = BERTConfiguration(
    vocabularySize: 30, hiddenSize: 16, layers: 2, heads: 4, intermediateSize: 24, maximumPositions: 12)

  static func model(seed: UInt64 = 3) -> BERTModel {
    var rng = RandomGenerator(seed: seed)
    return BERTModel(configuration, rng: &rng)
  }

  static func batch() -> TokenBatch {
    var rng = RandomGenerator(seed: 9)
    return TokenBatch(sequences: [6, 3, 12].map { n in (0..<n).map { _ in Int(rng.next() % 30) } }, paddingID: 0)
  }

  @Test func linearNamesCoverEveryEncoderProjection() {
    let names = BERTCompression.linearWeightNames(Self.model())
    #expect(names.count == 12)
    #expect(names.first == "encoder.layer.0.attention.self.query.weight")
    #expect(names.last == "encoder.layer.1.output.dense.weight")
  }

  /// Removing heads physically computes what masking their columns of W_o computes.
  @Test func prunedHeadsEqualMaskedHeads() throws {
    let keep = [[0, 2, 3], [1]]
    let masked = Self.model(), pruned = Self.model()
    for (layer, heads) in zip(masked.layers, keep) {
      var mask = Tensor.zeros([16, 16])
      for h in heads { for r in 0..<16 { for c in (h * 4)..<((h + 1) * 4) { mask[r, c] = 1 } } }
      layer.attention.output.weight.mask = mask
    }
    try BERTCompression.pruneHeads(pruned, keep: keep)
    #expect(pruned.layers[0].attention.heads == 3 && pruned.layers[1].attention.query.weight.shape == [4, 16])
    #expect(pruned.layers[1].attention.output.weight.shape == [16, 4])
    let batch = Self.batch()
    for fused in [true, false] {
      let a = embed(masked, batch, fused: fused), b = embed(pruned, batch, fused: fused)
      #expect(allClose(a, b, rtol: 1e-5, atol: 1e-5), "fused \(fused): \(differenceReport(a, b))")
    }
    #expect(throws: PruningError.self) { try BERTCompression.pruneHeads(Self.model(), keep: [[0, 0], [1]]) }
  }

  func embed(_ model: BERTModel, _ batch: TokenBatch, fused: Bool) -> Tensor {
    if fused { return BERTInference(model).pooledEmbeddings(batch, normalize: false) }
    let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + (4..<30).map { "w\($0)" }
    let tokenizer = BERTTokenizer(vocabulary: try! WordPieceVocabulary(tokens: words))
    return SentenceEmbedder(tokenizer: tokenizer, model: model, normalize: false).referenceEmbeddings(batch)
  }

  /// The calibration norms of the first block's query input are those of the embedding
  /// output over real tokens only, computed here through the Tensor path.
  @Test func calibrationNormsAndWandaScores() throws {
    let model = Self.model(), batch = Self.batch()
    let stats = BERTCompression.calibrate(model, batches: [batch])
    #expect(stats.tokens == 21)
    let ids = Tensor(shape: [3, 12], scalars: batch.ids.map(Float.init))
    let embedded = model.embeddings(ids)
    var expected = [Double](repeating: 0, count: 16)
    for s in 0..<3 { for t in 0..<batch.lengths[s] { for j in 0..<16 { expected[j] += Double(embedded[s, t, j] * embedded[s, t, j]) } } }
    let got = try #require(stats.inputSquaredNorms["encoder.layer.0.attention.self.query"])
    for j in 0..<16 { #expect(abs(got[j] - expected[j]) <= 1e-4 * expected[j] + 1e-6) }

    let name = "encoder.layer.0.attention.self.query.weight"
    let scores = try #require(BERTCompression.wandaScores(model, calibration: stats, names: [name])[name])
    let w = model.layers[0].attention.query.weight.value
    #expect(abs(scores[3, 5] - abs(w[3, 5]) * Float(expected[5].squareRoot())) <= 1e-4 * scores[3, 5])

    let masks = try BERTCompression.perRowMasks(scores: [name: scores], sparsity: 0.25)
    let mask = try #require(masks.masks[name])
    for r in 0..<16 {
      let row = (0..<16).map { mask[r, $0] }
      #expect(row.filter { $0 == 0 }.count == 4, "row \(r) keeps 12 of 16")
      let kept = (0..<16).filter { row[$0] == 1 }.map { scores[r, $0] }
      let dropped = (0..<16).filter { row[$0] == 0 }.map { scores[r, $0] }
      #expect(dropped.max()! <= kept.min()!, "row \(r) drops its lowest scores")
    }
  }

  @Test func studyReportsDenseAsExact() throws {
    let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + (4..<30).map { "w\($0)" }
    let tokenizer = BERTTokenizer(vocabulary: try WordPieceVocabulary(tokens: words), maximumLength: 12)
    let embedder = SentenceEmbedder(tokenizer: tokenizer, model: Self.model())
    let text = (0..<12).map { i in (0..<(i % 8 + 1)).map { "w\(4 + (i * 7 + $0 * 3) % 26)" }.joined(separator: " ") }
    let rows = try EmbeddingFidelityStudy.run(
      embedder, evaluation: text, calibration: Array(text.prefix(5)),
      variants: [.dense, .wanda(sparsity: 0.5), .magnitudeNM(n: 2, m: 4), .headsAndWanda(keep: 2, sparsity: 0.5),
                 .weights(.int8(symmetric: true, perChannel: true))])
    #expect(rows.count == 5)
    #expect(rows[4].weightBits == 8 && rows[4].meanCosine > 0.99 && rows[4].density > 0.98)
    #expect(abs(rows[0].meanCosine - 1) < 1e-6 && rows[0].density == 1)
    #expect(abs(rows[1].density - 0.5) < 0.01 && abs(rows[2].density - 0.5) < 0.01)
    #expect(abs(rows[3].density - (0.5 * (4 * 16 * 8 + 2 * 16 * 24) / (4 * 16 * 16 + 2 * 16 * 24))) < 0.01)
    #expect(rows.allSatisfy { $0.minimumCosine <= $0.meanCosine && $0.meanCosine <= 1 + 1e-9 })
    #expect(EvaluationSentences.generate(count: 5, seed: 4) == EvaluationSentences.generate(count: 5, seed: 4))
  }
  /// The builder the benchmark uses: a compressed copy (heads physically removed, Wanda zeros
  /// in every row), the original untouched.
  @Test func compressedModelIsACopy() throws {
    let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + (4..<30).map { "w\($0)" }
    let tokenizer = BERTTokenizer(vocabulary: try WordPieceVocabulary(tokens: words), maximumLength: 12)
    let original = Self.model()
    let before = original.layers[0].intermediate.weight.effective.scalars
    let embedder = SentenceEmbedder(tokenizer: tokenizer, model: original)
    let stats = EmbeddingFidelityStudy.calibrate(embedder, sentences: ["w4 w5 w6", "w7 w8", "w9 w10 w11 w12"])
    #expect(stats.tokens > 0)
    let pruned = try EmbeddingFidelityStudy.compressedModel(original, .headsAndWanda(keep: 2, sparsity: 0.5), calibration: stats)
    #expect(pruned.layers.allSatisfy { $0.attention.heads == 2 } && original.layers.allSatisfy { $0.attention.heads == 4 })
    let weights = pruned.layers[0].intermediate.weight.effective
    #expect(weights.scalars.filter { $0 == 0 }.count == weights.count / 2)
    #expect(original.layers[0].intermediate.weight.effective.scalars == before)
  }
}
