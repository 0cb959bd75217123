import WinnowCore

/// Multi-head self-attention over `B×T×C` input (Vaswani et al. 2017).
///
///     Q, K, V = x·Wqᵀ + bq, …   split into H heads of D = C/H
///     out = concat_h softmax(Q_h·K_hᵀ/√D + mask) · V_h,  then ·Woᵀ + bo
///
/// Separate q/k/v projections (rather than PyTorch's packed `in_proj_weight`) so that each
/// can be pruned or quantized on its own; heads are contiguous slices of C.
public final class MultiHeadSelfAttention: Layer {
  public let query: Linear, key: Linear, value: Linear, output: Linear
  /// Number of heads; structured pruning may lower it (each head keeps its width).
  public var heads: Int

  public init(dimension: Int, heads: Int, rng: inout RandomGenerator) {
    precondition(dimension % heads == 0, "dimension \(dimension) not divisible by \(heads) heads")
    query = Linear(dimension, dimension, rng: &rng)
    key = Linear(dimension, dimension, rng: &rng)
    value = Linear(dimension, dimension, rng: &rng)
    output = Linear(dimension, dimension, rng: &rng)
    self.heads = heads
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    forward(input, mask: nil, context)
  }

  /// `mask`, when given, is added to the attention scores; broadcastable to `B×H×T×T`
  /// (use a large negative value at padded keys).
  public func forward(_ input: Tensor, mask: Tensor?, _ context: ForwardContext) -> Tensor {
    precondition(input.rank == 3, "attention needs B×T×C input, got \(input.shape)")
    let (b, t) = (input.shape[0], input.shape[1])
    let c = query.outFeatures  // heads·d; equals the model width until heads are pruned
    let d = c / heads
    func split(_ x: Tensor) -> Tensor { x.reshaped([b, t, heads, d]).permuted([0, 2, 1, 3]) }
    let q = split(query.forward(input, context))
    let k = split(key.forward(input, context))
    let v = split(value.forward(input, context))
    var scores = q.matmul(k, transposeB: true) * (1 / Float(d).squareRoot())
    if let mask { scores = scores + mask }
    let attended = scores.softmax(axis: -1).matmul(v)
    return output.forward(attended.permuted([0, 2, 1, 3]).reshaped([b, t, c]), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(query, "q_proj", body)
    try visit(key, "k_proj", body)
    try visit(value, "v_proj", body)
    try visit(output, "out_proj", body)
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("q_proj", query); try body("k_proj", key); try body("v_proj", value); try body("out_proj", output)
  }
}

/// A transformer encoder block, post-norm like PyTorch's default `TransformerEncoderLayer`:
/// `x = norm1(x + attn(x)); x = norm2(x + linear2(dropout(act(linear1(x)))))`.
public final class TransformerEncoderLayer: Layer {
  public let attention: MultiHeadSelfAttention
  public let linear1: Linear, linear2: Linear
  public let norm1: LayerNorm, norm2: LayerNorm
  public let dropout: Dropout
  public let activation: Activation

  public init(
    dimension: Int, heads: Int, feedForward: Int, dropout: Float = 0,
    activation: Activation.Kind = .gelu, rng: inout RandomGenerator
  ) {
    attention = MultiHeadSelfAttention(dimension: dimension, heads: heads, rng: &rng)
    linear1 = Linear(dimension, feedForward, rng: &rng)
    linear2 = Linear(feedForward, dimension, rng: &rng)
    norm1 = LayerNorm(dimension)
    norm2 = LayerNorm(dimension)
    self.dropout = Dropout(dropout)
    self.activation = Activation(activation)
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let a = norm1.forward(input + dropout.forward(attention.forward(input, context), context), context)
    let hidden = dropout.forward(activation.forward(linear1.forward(a, context), context), context)
    return norm2.forward(a + dropout.forward(linear2.forward(hidden, context), context), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(attention, "self_attn", body)
    try visit(linear1, "linear1", body)
    try visit(linear2, "linear2", body)
    try visit(norm1, "norm1", body)
    try visit(norm2, "norm2", body)
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("self_attn", attention); try body("linear1", linear1); try body("linear2", linear2)
    try body("norm1", norm1); try body("norm2", norm2)
  }
}
