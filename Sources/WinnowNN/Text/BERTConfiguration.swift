import Foundation
import WinnowCore

/// The shape of a BERT encoder, as in a Hugging Face `config.json`.
///
/// all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads of 32, feed-forward 1536, vocabulary
/// 30,522, 512 positions, 2 token types, GELU (erf), layer-norm ε = 1e-12.
public struct BERTConfiguration: Sendable, Equatable, Decodable {
  public var vocabularySize: Int
  public var hiddenSize: Int
  public var layers: Int
  public var heads: Int
  public var intermediateSize: Int
  public var maximumPositions: Int
  public var tokenTypes: Int
  public var layerNormEpsilon: Float
  public var activation: Activation.Kind

  enum CodingKeys: String, CodingKey {
    case vocabularySize = "vocab_size", hiddenSize = "hidden_size", layers = "num_hidden_layers"
    case heads = "num_attention_heads", intermediateSize = "intermediate_size"
    case maximumPositions = "max_position_embeddings", tokenTypes = "type_vocab_size"
    case layerNormEpsilon = "layer_norm_eps", activation = "hidden_act"
  }

  public init(
    vocabularySize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
    maximumPositions: Int = 512, tokenTypes: Int = 2, layerNormEpsilon: Float = 1e-12,
    activation: Activation.Kind = .gelu
  ) {
    self.vocabularySize = vocabularySize
    self.hiddenSize = hiddenSize
    self.layers = layers
    self.heads = heads
    self.intermediateSize = intermediateSize
    self.maximumPositions = maximumPositions
    self.tokenTypes = tokenTypes
    self.layerNormEpsilon = layerNormEpsilon
    self.activation = activation
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
    hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
    layers = try c.decode(Int.self, forKey: .layers)
    heads = try c.decode(Int.self, forKey: .heads)
    intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
    maximumPositions = try c.decodeIfPresent(Int.self, forKey: .maximumPositions) ?? 512
    tokenTypes = try c.decodeIfPresent(Int.self, forKey: .tokenTypes) ?? 2
    layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-12
    let name = try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu"
    // Hugging Face names: "gelu" is the erf form, "gelu_new"/"gelu_pytorch_tanh" the tanh one.
    let kinds: [String: Activation.Kind] = [
      "gelu": .gelu, "gelu_new": .geluTanh, "gelu_pytorch_tanh": .geluTanh, "relu": .relu, "silu": .silu,
      "swish": .silu, "tanh": .tanh,
    ]
    guard let kind = kinds[name] else {
      throw DecodingError.dataCorruptedError(forKey: .activation, in: c, debugDescription: "unsupported activation '\(name)'")
    }
    activation = kind
  }

  /// all-MiniLM-L6-v2's configuration.
  public static let miniLML6 = BERTConfiguration(
    vocabularySize: 30522, hiddenSize: 384, layers: 6, heads: 12, intermediateSize: 1536)

  /// What is wrong with these sizes, or nil.
  public var problem: String? {
    let sizes = [vocabularySize, hiddenSize, layers, heads, intermediateSize, maximumPositions, tokenTypes]
    if sizes.contains(where: { $0 <= 0 }) { return "every size must be positive" }
    if hiddenSize % heads != 0 { return "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)" }
    if !(layerNormEpsilon > 0) { return "layer_norm_eps must be positive" }
    return nil
  }

  /// Reads a Hugging Face `config.json` (only the keys above are used).
  public static func read(path: String) throws(FormatError) -> BERTConfiguration {
    let bytes = try readFileBytes(path)
    let configuration: BERTConfiguration
    do {
      configuration = try JSONDecoder().decode(BERTConfiguration.self, from: Data(bytes))
    } catch let DecodingError.keyNotFound(key, _) {
      throw .corrupt(file: path, reason: "missing key '\(key.stringValue)'")
    } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
      let key = context.codingPath.map(\.stringValue).joined(separator: ".")
      throw .corrupt(file: path, reason: "key '\(key)': \(context.debugDescription)")
    } catch let DecodingError.typeMismatch(_, context) {
      throw .corrupt(file: path, reason: "key '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
    } catch {
      throw .corrupt(file: path, reason: "not a BERT config.json: \(error)")
    }
    if let problem = configuration.problem { throw .corrupt(file: path, reason: problem) }
    return configuration
  }
}
