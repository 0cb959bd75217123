import Testing
import WinnowCore
import WinnowKernels
import WinnowNN
import WinnowTestSupport

/// The fused path's workspace, profile and int8 variant against the Tensor path of a tiny
/// random BERT (no asset needed).
@Suite struct BERTInferenceTests {
  static func model(seed: UInt64) -> BERTModel {
    var rng = RandomGenerator(seed: seed)
    return BERTModel(BERTTests.tiny, rng: &rng)
  }

  static func batch(_ lengths: [Int], seed: UInt64) -> TokenBatch {
    var rng = RandomGenerator(seed: seed)
    return TokenBatch(sequences: lengths.map { n in (0..<n).map { _ in Int(rng.next() % 40) } }, paddingID: 0)
  }

  /// One value reused for a large, a small, then a larger batch (the kept workspace is too
  /// small, then large enough, then too small again) gives what a fresh value gives, bit for
  /// bit: no buffer carries state from one call or block to the next.
  @Test func reusedWorkspaceGivesTheSameEmbeddingsAsAFreshOne() {
    let model = Self.model(seed: 21)
    let inference = BERTInference(model)
    let batches = [Self.batch([9, 16, 3], seed: 1), Self.batch([2], seed: 2), Self.batch([16, 16, 16, 5, 1], seed: 3)]
    for batch in batches + batches.reversed() {
      let reused = inference.pooledEmbeddings(batch, normalize: true)
      let fresh = BERTInference(model).pooledEmbeddings(batch, normalize: true)
      #expect(reused.scalars == fresh.scalars, "lengths \(batch.lengths)")
      #expect(inference.hiddenStates(batch) == BERTInference(model).hiddenStates(batch), "lengths \(batch.lengths)")
    }
  }

  /// Without an observer, a block runs by groups of whole sequences of ~96 tokens (151 and 300
  /// tokens: 2 and 3 groups), or, with one group (100 tokens), attention over all tokens and
  /// the FFN in 2 token blocks; with an observer, over all tokens in one piece. Every token's
  /// hidden state must not depend on the cut: the int8 path bit for bit (integer sums, same
  /// epilogue), the fp32 path to float rounding.
  @Test(arguments: [
    [16, 16, 16, 16, 16, 16, 16, 16, 16, 7], Array(repeating: 15, count: 20), [15, 15, 15, 15, 15, 15, 10],
  ])
  func blockPiecesGiveTheSameHiddenStatesAsOnePiece(lengths: [Int]) {
    let model = Self.model(seed: 25)
    let batch = Self.batch(lengths, seed: 7)
    for (name, pack) in [("int8", BERTInference.int8), ("fp32", BERTInference.dense)] {
      let inference = BERTInference(model, pack: pack)
      let blocked = inference.hiddenStates(batch)
      let whole = inference.hiddenStates(batch, observer: { _, _, _, _ in })
      #expect(blocked.count == lengths.reduce(0, +) * BERTTests.tiny.hiddenSize)
      let largest = zip(blocked, whole).map { abs($0 - $1) }.max() ?? 0
      #expect(name == "int8" ? blocked == whole : largest <= 1e-5, "\(name): largest difference \(largest)")
    }
  }

  @Test func profiledEmbeddingsEqualPlainOnesAndTimeEveryPhase() {
    let inference = BERTInference(Self.model(seed: 22))
    let batch = Self.batch([7, 12], seed: 4)
    let (embeddings, profile) = inference.profiledEmbeddings(batch, normalize: false)
    #expect(embeddings.scalars == inference.pooledEmbeddings(batch, normalize: false).scalars)
    #expect(Set(profile.seconds.keys) == Set(BERTInferencePhase.allCases))
    #expect(profile.seconds.values.allSatisfy { $0 >= 0 })
  }

  /// Int8 weights with dynamic per-token activations against the Tensor path of the same model
  /// with its Linear weights replaced by their dequantized int8 values: what remains is the
  /// activations' rounding (half a step of a token's range / 255 per input, random in sign),
  /// which moves a pooled embedding by well under 1 % here; a wrong scale, zero point or
  /// layout moves it by far more (cosine < 0.9).
  @Test func int8VariantMatchesTheTensorPathOfTheDequantizedModel() throws {
    let model = Self.model(seed: 23)
    let quantized = BERTInference(model, pack: BERTInference.int8)
    model.visitParameters { name, p in
      guard name.hasSuffix(".weight"), p.value.rank == 2, name.hasPrefix("encoder.") else { return }
      let (n, k) = (p.value.shape[0], p.value.shape[1])
      let int8 = Int8LinearWeights.quantizingPerChannel(p.effective.scalars, outputFeatures: n, inputFeatures: k)
      p.value = Tensor(shape: [n, k], scalars: int8.dequantized())
    }
    let embedder = SentenceEmbedder(tokenizer: try tinyTokenizer(), model: model, normalize: true)
    let batch = Self.batch([7, 2, 16, 1, 11], seed: 5)
    let reference = embedder.referenceEmbeddings(batch).scalars
    let fused = quantized.pooledEmbeddings(batch, normalize: true).scalars
    let c = BERTTests.tiny.hiddenSize
    for row in 0..<batch.batchSize {
      let cos = cosine(fused[(row * c)..<((row + 1) * c)], Array(reference[(row * c)..<((row + 1) * c)]))
      #expect(cos >= 0.999, "sequence \(row): cosine \(cos)")
    }
  }

  /// bf16 attention (where the CPU has AVX512-BF16; elsewhere it is the float32 path) keeps
  /// the embeddings of the float32 path to within bf16's 2⁻⁹ relative rounding of Q, K, V
  /// and P: cosine ≥ 0.9999 on the tiny model, where a wrong layout or scale gives < 0.9.
  @Test func bfloat16AttentionStaysCloseToFloat32() {
    let model = Self.model(seed: 24)
    let batch = Self.batch([7, 2, 16, 1, 13], seed: 6)
    let exact = BERTInference(model).pooledEmbeddings(batch, normalize: true).scalars
    let bf16 = BERTInference(model, attention: .bfloat16).pooledEmbeddings(batch, normalize: true).scalars
    let c = BERTTests.tiny.hiddenSize
    for row in 0..<batch.batchSize {
      let cos = cosine(bf16[(row * c)..<((row + 1) * c)], Array(exact[(row * c)..<((row + 1) * c)]))
      #expect(cos >= 0.9999, "sequence \(row): cosine \(cos)")
    }
  }
}
