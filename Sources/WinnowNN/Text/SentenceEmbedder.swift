import Foundation
import WinnowCore

/// Sentence embeddings from a BERT encoder: tokenize, encode, mean-pool over real tokens,
/// and (for models such as all-MiniLM-L6-v2) L2-normalise, as sentence-transformers does.
///
///     texts → BERTTokenizer → ids B×T, mask B×T → BERTModel → B×T×C → mean pool → B×C → ‖·‖ = 1
public final class SentenceEmbedder {
  public let tokenizer: BERTTokenizer
  public let model: BERTModel
  /// Whether embeddings are scaled to unit length (sentence-transformers' `Normalize` module).
  public var normalize: Bool
  /// Sentences encoded together; batches are formed from sentences of similar length.
  public var batchSize = 32

  public init(tokenizer: BERTTokenizer, model: BERTModel, normalize: Bool = true) {
    self.tokenizer = tokenizer
    self.model = model
    self.normalize = normalize
  }

  /// Embeddings `N×C` of `texts`, row `i` for `texts[i]`.
  ///
  /// `fused` runs the fused inference kernels (``BERTInference``); otherwise the Tensor
  /// reference path. Both honour pruning masks.
  public func embed(_ texts: [String], fused: Bool = true) -> Tensor {
    if fused { return embed(texts, using: BERTInference(model)) }
    return embed(texts) { referenceEmbeddings($0) }
  }

  /// Embeddings `N×C` of `texts` computed by `inference` (for example the model packed with
  /// int8 or sparse weights, ``BERTInference/init(_:pack:)``); tokenizer and pooling as above.
  public func embed(_ texts: [String], using inference: BERTInference) -> Tensor {
    embed(texts) { inference.pooledEmbeddings($0, normalize: normalize) }
  }

  private func embed(_ texts: [String], batchEmbeddings: (TokenBatch) -> Tensor) -> Tensor {
    let width = model.configuration.hiddenSize
    guard !texts.isEmpty else { return Tensor.zeros([0, width]) }
    let sequences = texts.map(tokenizer.encode)
    // Similar lengths together waste less on padding; the order is restored below.
    let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
    var rows = [Float](repeating: 0, count: texts.count * width)
    for start in stride(from: 0, to: order.count, by: max(1, batchSize)) {
      let members = Array(order[start..<min(start + max(1, batchSize), order.count)])
      let batch = TokenBatch(sequences: members.map { sequences[$0] }, paddingID: tokenizer.vocabulary.paddingID)
      batchEmbeddings(batch).withUnsafeBufferPointer { values in
        for (row, index) in members.enumerated() {
          for j in 0..<width { rows[index * width + j] = values[row * width + j] }
        }
      }
    }
    return Tensor(shape: [texts.count, width], scalars: rows)
  }

  /// Pooled (and normalised) embeddings of one batch through the Tensor reference path.
  public func referenceEmbeddings(_ batch: TokenBatch) -> Tensor {
    let shape = [batch.batchSize, batch.sequenceLength]
    let ids = Tensor(shape: shape, scalars: batch.ids.map(Float.init))
    let mask = Tensor(shape: shape, scalars: batch.mask.map(Float.init))
    let hidden = model.forward(ids: ids, mask: mask, ForwardContext(training: false))
    let pooled = meanPool(hidden, mask: mask)
    return normalize ? l2Normalized(pooled) : pooled
  }
}

extension SentenceEmbedder {
  /// Loads a sentence-transformers model directory: `config.json`, `model.safetensors` and
  /// `vocab.txt` (required); `tokenizer_config.json` (`do_lower_case`),
  /// `sentence_bert_config.json` (`max_seq_length`, default 256), `modules.json` (normalise
  /// if it lists a `Normalize` module; without the file, normalise) and
  /// `1_Pooling/config.json` or `pooling/config.json` (must ask for mean pooling) if present.
  ///
  /// - Throws: ``FormatError`` naming the directory or file and the problem, or
  ///   ``TokenizerError`` for a vocabulary that does not parse.
  public static func load(directory: String) throws -> SentenceEmbedder {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw FormatError.io(file: directory, reason: "model directory does not exist")
    }
    for required in ["config.json", "model.safetensors", "vocab.txt"]
    where !FileManager.default.fileExists(atPath: directory + "/" + required) {
      throw FormatError.io(file: directory, reason: "model directory has no \(required)")
    }
    let configuration = try BERTConfiguration.read(path: directory + "/config.json")
    let settings = try ModelDirectorySettings(directory: directory)
    let vocabulary = try WordPieceVocabulary.read(path: directory + "/vocab.txt")
    guard vocabulary.count <= configuration.vocabularySize else {
      throw FormatError.corrupt(
        file: directory + "/vocab.txt",
        reason: "\(vocabulary.count) tokens but config.json has vocab_size \(configuration.vocabularySize)")
    }
    var rng = RandomGenerator(seed: 0)  // every value is overwritten by the file
    let model = BERTModel(configuration, rng: &rng)
    let weightsPath = directory + "/model.safetensors"
    let weights = try SafetensorsFile.read(path: weightsPath)
    try loadStateDictionary(weights.tensors, into: model, file: weightsPath)
    let maximumLength = min(settings.maximumLength, configuration.maximumPositions)
    let tokenizer = BERTTokenizer(vocabulary: vocabulary, lowercase: settings.lowercase, maximumLength: maximumLength)
    return SentenceEmbedder(tokenizer: tokenizer, model: model, normalize: settings.normalize)
  }
}

/// The optional sentence-transformers files of a model directory.
struct ModelDirectorySettings {
  var lowercase = true
  var maximumLength = 256
  var normalize = true

  init(directory: String) throws(FormatError) {
    if let tokenizer = try Self.object(directory + "/tokenizer_config.json"),
      let lower = tokenizer["do_lower_case"] as? Bool
    {
      lowercase = lower
    }
    if let sentence = try Self.object(directory + "/sentence_bert_config.json"),
      let length = sentence["max_seq_length"] as? Int
    {
      guard length >= 2 else {
        throw .corrupt(file: directory + "/sentence_bert_config.json", reason: "max_seq_length \(length) is below 2")
      }
      maximumLength = length
    }
    let modulesPath = directory + "/modules.json"
    if FileManager.default.fileExists(atPath: modulesPath) {
      let json = try readFileBytes(modulesPath)
      guard let modules = (try? JSONSerialization.jsonObject(with: Data(json))) as? [[String: Any]] else {
        throw .corrupt(file: modulesPath, reason: "not a JSON list of modules")
      }
      normalize = modules.contains { ($0["type"] as? String)?.hasSuffix("Normalize") == true }
    }
    for pooling in ["/1_Pooling/config.json", "/pooling/config.json"] {
      if let config = try Self.object(directory + pooling), config["pooling_mode_mean_tokens"] as? Bool != true {
        throw .corrupt(file: directory + pooling, reason: "only mean pooling (pooling_mode_mean_tokens) is supported")
      }
    }
  }

  /// The JSON object in `path`, nil if there is no such file.
  static func object(_ path: String) throws(FormatError) -> [String: Any]? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let bytes = try readFileBytes(path)
    guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
      throw .corrupt(file: path, reason: "not a JSON object")
    }
    return object
  }
}
