import WinnowCore

/// BERT's input embeddings: word + position + token type, then layer norm.
///
///     ids B×T  →  E_word[ids] + E_position[0..<T] + E_type[0]  →  LayerNorm  →  B×T×C
///
/// Every sequence is one segment (token type 0), as for sentence embeddings.
public final class BERTEmbeddings: Layer {
  public let words: Embedding, positions: Embedding, tokenTypes: Embedding
  public let norm: LayerNorm

  public init(_ configuration: BERTConfiguration, rng: inout RandomGenerator) {
    let c = configuration
    words = Embedding(c.vocabularySize, c.hiddenSize, rng: &rng)
    positions = Embedding(c.maximumPositions, c.hiddenSize, rng: &rng)
    tokenTypes = Embedding(c.tokenTypes, c.hiddenSize, rng: &rng)
    norm = LayerNorm(c.hiddenSize, epsilon: c.layerNormEpsilon)
  }

  /// `input`: `B×T` token ids (as Float).
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    precondition(input.rank == 2, "BERT embeddings need B×T ids, got \(input.shape)")
    let t = input.shape[1]
    precondition(t <= positions.weight.shape[0], "\(t) tokens exceed \(positions.weight.shape[0]) positions")
    let position = positions.weight.effective.slice(axis: 0, 0..<t)
    let type = tokenTypes.weight.effective.slice(axis: 0, 0..<1)
    return norm.forward(words.forward(input, context) + (position + type), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(words, "word_embeddings", body)
    try visit(positions, "position_embeddings", body)
    try visit(tokenTypes, "token_type_embeddings", body)
    try visit(norm, "LayerNorm", body)
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("word_embeddings", words); try body("position_embeddings", positions)
    try body("token_type_embeddings", tokenTypes); try body("LayerNorm", norm)
  }
}

/// One post-norm BERT block (Devlin et al. 2019), Hugging Face parameter names:
///
///     a = LayerNorm₁(x + attention(x))                attention.self.{query,key,value},
///                                                     attention.output.{dense,LayerNorm}
///     y = LayerNorm₂(a + W₂·gelu(W₁·a + b₁) + b₂)     intermediate.dense, output.{dense,LayerNorm}
///
/// The attention is a ``MultiHeadSelfAttention`` (its `output` is `attention.output.dense`);
/// its projections are reported as children under the BERT names, so layer names and
/// parameter names agree (`encoder.layer.0.attention.self.query` ↔ `….query.weight`).
public final class BERTLayer: Layer {
  public let attention: MultiHeadSelfAttention
  public let attentionNorm: LayerNorm
  public let intermediate: Linear, output: Linear
  public let outputNorm: LayerNorm
  public let activation: Activation

  public init(_ configuration: BERTConfiguration, rng: inout RandomGenerator) {
    let c = configuration
    attention = MultiHeadSelfAttention(dimension: c.hiddenSize, heads: c.heads, rng: &rng)
    attentionNorm = LayerNorm(c.hiddenSize, epsilon: c.layerNormEpsilon)
    intermediate = Linear(c.hiddenSize, c.intermediateSize, rng: &rng)
    output = Linear(c.intermediateSize, c.hiddenSize, rng: &rng)
    outputNorm = LayerNorm(c.hiddenSize, epsilon: c.layerNormEpsilon)
    activation = Activation(c.activation)
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    forward(input, mask: nil, context)
  }

  /// `mask`: additive attention mask broadcastable to `B×H×T×T` (0 or a large negative).
  public func forward(_ input: Tensor, mask: Tensor?, _ context: ForwardContext) -> Tensor {
    let a = attentionNorm.forward(input + attention.forward(input, mask: mask, context), context)
    let hidden = activation.forward(intermediate.forward(a, context), context)
    return outputNorm.forward(a + output.forward(hidden, context), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visitChildren { name, child in try visit(child, name, body) }
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("attention.self.query", attention.query)
    try body("attention.self.key", attention.key)
    try body("attention.self.value", attention.value)
    try body("attention.output.dense", attention.output)
    try body("attention.output.LayerNorm", attentionNorm)
    try body("intermediate.dense", intermediate)
    try body("output.dense", output)
    try body("output.LayerNorm", outputNorm)
  }
}

/// A BERT encoder with Hugging Face `BertModel` parameter names (`embeddings.…`,
/// `encoder.layer.N.…`), so a `model.safetensors` loads name for name.
///
/// `B×T` token ids (and a `B×T` 0/1 attention mask) in, `B×T×C` hidden states out. This
/// is the differentiable reference path built from Tensor operations; ``BERTInference``
/// computes the same values with fused kernels for speed.
public final class BERTModel: Layer {
  public let configuration: BERTConfiguration
  public let embeddings: BERTEmbeddings
  public let layers: [BERTLayer]

  public init(_ configuration: BERTConfiguration, rng: inout RandomGenerator) {
    precondition(configuration.problem == nil, configuration.problem ?? "")
    self.configuration = configuration
    embeddings = BERTEmbeddings(configuration, rng: &rng)
    layers = (0..<configuration.layers).map { _ in BERTLayer(configuration, rng: &rng) }
  }

  /// Hidden states with every token attended to.
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    forward(ids: input, mask: nil, context)
  }

  /// Hidden states `B×T×C`; `mask` (`B×T`, 1 = token, 0 = padding) keeps padded keys out of
  /// attention. Padded positions get values too; pooling ignores them.
  public func forward(ids: Tensor, mask: Tensor?, _ context: ForwardContext) -> Tensor {
    let additive = mask.map { m in
      // 0 where attended, −10⁹ at padding: exp underflows to exactly 0 after the max shift.
      ((m - 1) * 1e9).reshaped([m.shape[0], 1, 1, m.shape[1]])
    }
    var x = embeddings.forward(ids, context)
    for layer in layers { x = layer.forward(x, mask: additive, context) }
    return x
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visitChildren { name, child in try visit(child, name, body) }
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("embeddings", embeddings)
    for (i, layer) in layers.enumerated() { try body("encoder.layer.\(i)", layer) }
  }
}

/// Mean of the hidden states over real tokens, `B×T×C` and a `B×T` 0/1 mask → `B×C`
/// (sentence-transformers' mean pooling).
public func meanPool(_ hidden: Tensor, mask: Tensor) -> Tensor {
  let (b, t) = (hidden.shape[0], hidden.shape[1])
  let weights = mask.reshaped([b, t, 1])
  let counts = mask.sum(axes: [1], keepDims: true).clamped(1e-9, .greatestFiniteMagnitude)
  return (hidden * weights).sum(axes: [1]) / counts
}

/// Rows divided by their Euclidean norm (at least 10⁻¹², as `torch.nn.functional.normalize`).
public func l2Normalized(_ rows: Tensor) -> Tensor {
  let norms = rows.squared().sum(axes: [-1], keepDims: true).sqrt().clamped(1e-12, .greatestFiniteMagnitude)
  return rows / norms
}
