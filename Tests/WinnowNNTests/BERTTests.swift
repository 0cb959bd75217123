import Foundation
import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// Reference embeddings of all-MiniLM-L6-v2 from Utilities/Reference/make_minilm_fixtures.py
/// (sentence-transformers 6.2.0, mean pooling, normalised).
struct EmbeddingFixture: Decodable {
  let sentences: [String]
  let ids: [[Int]]
  let embeddings: [[Float]]

  static func load() throws -> EmbeddingFixture {
    let url = try #require(Bundle.module.url(forResource: "minilm_embeddings", withExtension: "json", subdirectory: "Fixtures"))
    return try JSONDecoder().decode(EmbeddingFixture.self, from: Data(contentsOf: url))
  }
}

func cosine(_ a: ArraySlice<Float>, _ b: [Float]) -> Double {
  var dot = 0.0, na = 0.0, nb = 0.0
  for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x * x); nb += Double(y * y) }
  return dot / max((na * nb).squareRoot(), 1e-30)
}

@Suite struct BERTTests {
  static let tiny = BERTConfiguration(
    vocabularySize: 40, hiddenSize: 24, layers: 2, heads: 4, intermediateSize: 40, maximumPositions: 16)

  /// Sequences of different lengths (one of length 1 after [CLS]… no: [CLS] alone is not
  /// produced by the tokenizer, but the kernels must not care), padded into one batch.
  static func batch() -> TokenBatch {
    var rng = RandomGenerator(seed: 5)
    let lengths = [7, 2, 16, 1, 11]
    return TokenBatch(sequences: lengths.map { n in (0..<n).map { _ in Int(rng.next() % 40) } }, paddingID: 0)
  }

  @Test func fusedInferenceEqualsTensorPathWithPaddingAndMasks() throws {
    var rng = RandomGenerator(seed: 11)
    let model = BERTModel(Self.tiny, rng: &rng)
    // A pruning mask on one projection and a non-trivial LayerNorm: the fused path must
    // use effective weights and every parameter.
    model.layers[1].intermediate.weight.mask = randomTensor([40, 24], seed: 3, in: 0...1).mapToMask()
    model.layers[0].attentionNorm.weight.value = randomTensor([24], seed: 4, in: 0.5...1.5)
    let embedder = SentenceEmbedder(tokenizer: try tinyTokenizer(), model: model, normalize: false)
    let batch = Self.batch()
    let reference = embedder.referenceEmbeddings(batch)
    let fused = BERTInference(model).pooledEmbeddings(batch, normalize: false)
    // Both are float32 computations of the same function in a different summation order.
    #expect(allClose(fused, reference, rtol: 1e-4, atol: 1e-5), "\(differenceReport(fused, reference))")
  }

  @Test func loadsMiniLMAndMatchesSentenceTransformers() throws {
    guard let directory = miniLMDirectory else { return }  // asset absent: skip (see README)
    let fixture = try EmbeddingFixture.load()
    let embedder = try SentenceEmbedder.load(directory: directory)
    #expect(fixture.sentences.map(embedder.tokenizer.encode) == fixture.ids)
    for fused in [true, false] {
      let embeddings = embedder.embed(fixture.sentences, fused: fused).scalars
      for (i, expected) in fixture.embeddings.enumerated() {
        let c = cosine(embeddings[(i * 384)..<((i + 1) * 384)], expected)
        #expect(c >= 0.9999, "sentence \(i) fused \(fused): cosine \(c)")
      }
    }
  }

  @Test func badModelDirectoriesAreNamed() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-bert-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    func message(_ body: () throws -> Void) -> String {
      do { try body(); return "no error" } catch { return "\(error)" }
    }
    #expect(message { _ = try SentenceEmbedder.load(directory: root) }.contains("model directory does not exist"))
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    #expect(message { _ = try SentenceEmbedder.load(directory: root) }.contains("has no config.json"))

    let config = #"{"vocab_size": 40, "hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 40, "max_position_embeddings": 16}"#
    try config.write(toFile: root + "/config.json", atomically: true, encoding: .utf8)
    try ((try tinyTokenizer()).vocabulary.tokens.joined(separator: "\n") + "\n")
      .write(toFile: root + "/vocab.txt", atomically: true, encoding: .utf8)
    var rng = RandomGenerator(seed: 1)
    var tensors = stateDictionary(of: BERTModel(Self.tiny, rng: &rng))
    tensors["encoder.layer.1.output.dense.weight"] = nil
    try SafetensorsFile(tensors: tensors).write(path: root + "/model.safetensors")
    #expect(message { _ = try SentenceEmbedder.load(directory: root) }
      == "\(root)/model.safetensors: no tensor named 'encoder.layer.1.output.dense.weight'")
    tensors["encoder.layer.1.output.dense.weight"] = .zeros([24, 41])
    try SafetensorsFile(tensors: tensors).write(path: root + "/model.safetensors")
    #expect(message { _ = try SentenceEmbedder.load(directory: root) }.contains("has shape [24, 41] but [24, 40]"))
    tensors["encoder.layer.1.output.dense.weight"] = .zeros([24, 40])
    try SafetensorsFile(tensors: tensors).write(path: root + "/model.safetensors")
    #expect(message { _ = try SentenceEmbedder.load(directory: root) } == "no error")

    try #"{"vocab_size": 40, "hidden_size": 24}"#.write(toFile: root + "/config.json", atomically: true, encoding: .utf8)
    #expect(message { _ = try SentenceEmbedder.load(directory: root) } == "\(root)/config.json: missing key 'num_hidden_layers'")
  }
}

/// A 40-token vocabulary for the tiny model.
func tinyTokenizer() throws -> BERTTokenizer {
  let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<40).map { "w\($0)" }
  return BERTTokenizer(vocabulary: try WordPieceVocabulary(tokens: words), maximumLength: 16)
}

extension Tensor {
  /// 1 where the value is at least 0.3, else 0 (a ~70 %-dense mask from uniform values).
  func mapToMask() -> Tensor { Tensor(shape: shape, scalars: scalars.map { $0 >= 0.3 ? 1 : 0 }) }
}
