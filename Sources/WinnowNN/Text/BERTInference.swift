import WinnowCore
import WinnowKernels

/// Fast inference for a ``BERTModel``: the same function as its Tensor path, computed with
/// batched GEMMs and fused row kernels and no padding.
///
/// The real tokens of every sequence in a batch are packed into one `M×C` matrix
/// (`M = Σ lengths`), so each projection is a single GEMM over all tokens and padding costs
/// nothing. Attention runs per (sequence, head) on that sequence's rows only, which is
/// exactly what masking padded keys computes for the real tokens; padded positions never
/// influence real ones, and pooling ignores them. Per layer:
///
///     QKV[M×3C'] = X·[Wq;Wk;Wv]ᵀ + b            one GEMM (C' = heads·d, C unless heads were pruned)
///     per sequence s, head h:  S = Q·Kᵀ (n×n), softmax(S/√d), O = S·V   → context[M×C']
///     A = LayerNorm(X + context·Woᵀ + bo)
///     X = LayerNorm(A + gelu(A·W1ᵀ + b1)·W2ᵀ + b2)
///
/// The weights are a snapshot of the model's *effective* (masked) values at construction,
/// packed by `pack` (dense, ``dense(_:)``, by default; a sparse or quantized ``PackedLinearWeights``
/// drops in). Work is split over `Parallelism.threads`.
public struct BERTInference: Sendable {
  /// One encoder block's packed weights.
  struct Block: Sendable {
    var queryKeyValue: any PackedLinearWeights, queryKeyValueBias: [Float]
    var attentionOutput: any PackedLinearWeights, attentionOutputBias: [Float]
    var attentionNorm: (gamma: [Float], beta: [Float])
    var intermediate: any PackedLinearWeights, intermediateBias: [Float]
    var output: any PackedLinearWeights, outputBias: [Float]
    var outputNorm: (gamma: [Float], beta: [Float])
    var heads: Int, headWidth: Int
  }

  let configuration: BERTConfiguration
  let wordEmbeddings: [Float], positionEmbeddings: [Float], tokenType: [Float]
  let embeddingNorm: (gamma: [Float], beta: [Float])
  let blocks: [Block]
  /// How attention's two products are computed (float32, or bf16 where the CPU has AVX512-BF16).
  public let attentionPrecision: AttentionPrecision
  /// The last call's buffers, kept for the next (see ``Workspace``).
  let workspaceCache = WorkspaceCache()

  /// Packs `model`'s current effective weights; `pack` receives each `N×K` weight matrix.
  public init(
    _ model: BERTModel, pack: (Tensor) -> any PackedLinearWeights = BERTInference.dense,
    attention: AttentionPrecision = .float32
  ) {
    configuration = model.configuration
    attentionPrecision = attention
    let e = model.embeddings
    wordEmbeddings = e.words.weight.effective.scalars
    positionEmbeddings = e.positions.weight.effective.scalars
    tokenType = Array(e.tokenTypes.weight.effective.scalars.prefix(configuration.hiddenSize))
    embeddingNorm = (e.norm.weight.effective.scalars, e.norm.bias.effective.scalars)
    blocks = model.layers.map { Self.block($0, pack: pack) }
  }

  /// Dense Float32 weights: panel-packed for Winnow's AVX-512 GEMM where the CPU has it
  /// (faster than OpenBLAS on these shapes, docs/PERFORMANCE.md), else BLAS.
  public static func dense(_ weight: Tensor) -> any PackedLinearWeights {
    PanelPackedWeights.best(values: weight.scalars, outputFeatures: weight.shape[0], inputFeatures: weight.shape[1])
  }

  /// Dense Float32 weights on the platform BLAS.
  public static func blas(_ weight: Tensor) -> any PackedLinearWeights {
    DenseLinearWeights(values: weight.scalars, outputFeatures: weight.shape[0], inputFeatures: weight.shape[1])
  }

  /// Int8 weights (symmetric, one scale per output channel: `max|W[n, :]| / 127`, round to
  /// nearest) with int8 activations quantized per token at run time (`Int8LinearWeights`,
  /// the AVX-512 VNNI kernel where the CPU has it). The compressed variant of
  /// docs/PERFORMANCE.md: no calibration data needed.
  public static func int8(_ weight: Tensor) -> any PackedLinearWeights {
    Int8LinearWeights.quantizingPerChannel(
      weight.scalars, outputFeatures: weight.shape[0], inputFeatures: weight.shape[1], activationQuantization: .dynamicPerToken)
  }

  static func block(_ layer: BERTLayer, pack: (Tensor) -> any PackedLinearWeights) -> Block {
    let a = layer.attention
    func bias(_ linear: Linear) -> [Float] {
      linear.bias?.effective.scalars ?? [Float](repeating: 0, count: linear.outFeatures)
    }
    let qkv = Tensor.concat([a.query.weight.effective, a.key.weight.effective, a.value.weight.effective], axis: 0)
    return Block(
      queryKeyValue: pack(qkv.detached), queryKeyValueBias: bias(a.query) + bias(a.key) + bias(a.value),
      attentionOutput: pack(a.output.weight.effective.detached), attentionOutputBias: bias(a.output),
      attentionNorm: (layer.attentionNorm.weight.effective.scalars, layer.attentionNorm.bias.effective.scalars),
      intermediate: pack(layer.intermediate.weight.effective.detached), intermediateBias: bias(layer.intermediate),
      output: pack(layer.output.weight.effective.detached), outputBias: bias(layer.output),
      outputNorm: (layer.outputNorm.weight.effective.scalars, layer.outputNorm.bias.effective.scalars),
      heads: a.heads, headWidth: a.query.outFeatures / a.heads)
  }

  /// Sees the input of every Linear layer: its name (`encoder.layer.2.intermediate.dense`),
  /// and the `rows × columns` inputs of the real tokens (calibration for activation-aware
  /// pruning, such as Wanda's input norms).
  public typealias InputObserver = (_ layer: String, _ input: UnsafePointer<Float>, _ rows: Int, _ columns: Int) -> Void

  /// Hidden states of the real tokens, packed: `Σ lengths × C`, sequence after sequence.
  public func hiddenStates(_ batch: TokenBatch, observer: InputObserver? = nil) -> [Float] {
    let count = batch.lengths.reduce(0, +) * configuration.hiddenSize
    return withWorkspace(batch) { workspace in
      encode(batch, workspace, observer: observer, clock: nil)
      return Array(UnsafeBufferPointer(start: workspace.hidden, count: count))
    }
  }

  /// Mean-pooled (and with `normalize`, unit-length) embeddings `B×C`.
  public func pooledEmbeddings(_ batch: TokenBatch, normalize: Bool) -> Tensor {
    withWorkspace(batch) { workspace in
      encode(batch, workspace, observer: nil, clock: nil)
      return pool(workspace.hidden, batch.lengths, normalize: normalize)
    }
  }

  /// ``pooledEmbeddings(_:normalize:)`` with the process CPU time of each phase (a few
  /// `clock_gettime` calls per block; meant for one thread, where it is that thread's time).
  public func profiledEmbeddings(_ batch: TokenBatch, normalize: Bool) -> (Tensor, BERTInferenceProfile) {
    let clock = PhaseClock()
    let pooled = withWorkspace(batch) { workspace in
      encode(batch, workspace, observer: nil, clock: clock)
      let pooled = pool(workspace.hidden, batch.lengths, normalize: normalize)
      clock.lap(.pooling)
      return pooled
    }
    return (pooled, clock.profile)
  }

  /// Embeddings and every block, leaving the hidden states in `workspace.hidden`.
  func encode(_ batch: TokenBatch, _ workspace: Workspace, observer: InputObserver?, clock: PhaseClock?) {
    let m = batch.lengths.reduce(0, +)
    embed(batch, into: workspace.hidden)
    clock?.lap(.embeddings)
    for (i, block) in blocks.enumerated() {
      let observe = observer.map { o in { (name: String, p: UnsafePointer<Float>, k: Int) in o("encoder.layer.\(i)." + name, p, m, k) } }
      run(block, batch.lengths, workspace, observe: observe, clock: clock)
    }
  }

  /// Mean over each sequence's rows of `hidden` (`Σ lengths × C`), optionally L2-normalised: `B×C`.
  func pool(_ hidden: UnsafePointer<Float>, _ lengths: [Int], normalize: Bool) -> Tensor {
    let c = configuration.hiddenSize
    return Tensor(shape: [lengths.count, c]) { out in
      var row = 0
      var sums = [Double](repeating: 0, count: c)
      for (s, length) in lengths.enumerated() {
        for j in 0..<c { sums[j] = 0 }
        for t in 0..<length { for j in 0..<c { sums[j] += Double(hidden[(row + t) * c + j]) } }
        row += length
        let divisor = Double(Swift.max(length, 1))
        var squares = 0.0
        for j in 0..<c { squares += (sums[j] / divisor) * (sums[j] / divisor) }
        let norm = normalize ? Swift.max(squares.squareRoot(), 1e-12) : 1
        for j in 0..<c { out[s * c + j] = Float(sums[j] / divisor / norm) }
      }
    }
  }

  /// Word + position + type embeddings of every real token, layer-normalised, into `x` (`M×C`).
  func embed(_ batch: TokenBatch, into x: UnsafeMutablePointer<Float>) {
    let c = configuration.hiddenSize
    let m = batch.lengths.reduce(0, +)
    var row = 0
    for (s, length) in batch.lengths.enumerated() {
      precondition(length <= configuration.maximumPositions, "\(length) tokens exceed \(configuration.maximumPositions) positions")
      for t in 0..<length {
        let id = batch.ids[s * batch.sequenceLength + t]
        precondition(id >= 0 && id < configuration.vocabularySize, "token id \(id) outside the vocabulary")
        for j in 0..<c {
          x[(row + t) * c + j] = wordEmbeddings[id * c + j] + (positionEmbeddings[t * c + j] + tokenType[j])
        }
      }
      row += length
    }
    layerNorm(x, residual: nil, embeddingNorm, rows: m)
  }

  /// One block in place on `workspace.hidden` (`M×C`), using the workspace's other buffers:
  /// by groups of whole sequences where there are enough (see BERTInference+Blocks.swift).
  func run(
    _ block: Block, _ lengths: [Int], _ workspace: Workspace,
    observe: ((String, UnsafePointer<Float>, Int) -> Void)? = nil, clock: PhaseClock? = nil
  ) {
    let threads = clock == nil ? Parallelism.threads : 1
    if observe == nil {
      let groups = Self.sequenceGroups(lengths)
      if groups.count >= Swift.max(2, threads) {
        runGrouped(block, lengths, groups, workspace, threads: threads, clock: clock)
        return
      }
    }
    let c = configuration.hiddenSize
    let m = lengths.reduce(0, +)
    let inner = block.heads * block.headWidth
    let (x, scratch) = (workspace.hidden, workspace.scratch)
    for name in ["attention.self.query", "attention.self.key", "attention.self.value"] { observe?(name, x, c) }
    block.queryKeyValueBias.withUnsafeBufferPointer {
      block.queryKeyValue.multiply(x, m: m, bias: $0.baseAddress, activation: .none, into: workspace.queryKeyValue)
    }
    clock?.lap(.queryKeyValue)
    attention(workspace, lengths, heads: block.heads, width: block.headWidth)
    clock?.lap(.attention)
    observe?("attention.output.dense", workspace.context, inner)
    block.attentionOutputBias.withUnsafeBufferPointer {
      block.attentionOutput.multiply(workspace.context, m: m, bias: $0.baseAddress, activation: .none, into: scratch)
    }
    clock?.lap(.attentionOutput)
    layerNorm(scratch, residual: x, block.attentionNorm, rows: m)
    clock?.lap(.layerNorm)
    observe?("intermediate.dense", scratch, c)
    feedForward(block, rows: m, workspace, observe: observe, clock: clock)
  }

  /// The FFN activation in place on `rows × width` values, rows split over threads.
  func activate(_ hidden: UnsafeMutablePointer<Float>, rows m: Int, width: Int) {
    let activation = configuration.activation
    parallelFor(m, minimumPerChunk: 16) { rows in
      let start = hidden + rows.lowerBound * width
      switch activation {
      case .gelu: RowKernels.gelu(start, start, count: rows.count * width)
      case .geluTanh: UnaryFunction.geluTanh.forward(start, start, count: rows.count * width)
      case .relu: UnaryFunction.relu.forward(start, start, count: rows.count * width)
      case .silu: UnaryFunction.silu.forward(start, start, count: rows.count * width)
      case .tanh: UnaryFunction.tanh.forward(start, start, count: rows.count * width)
      case .sigmoid: UnaryFunction.sigmoid.forward(start, start, count: rows.count * width)
      }
    }
  }

  func layerNorm(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, _ norm: (gamma: [Float], beta: [Float]), rows: Int
  ) {
    let c = configuration.hiddenSize, epsilon = configuration.layerNormEpsilon
    norm.gamma.withUnsafeBufferPointer { gamma in
      norm.beta.withUnsafeBufferPointer { beta in
        parallelFor(rows, minimumPerChunk: 64) { r in
          RowKernels.addLayerNorm(
            x + r.lowerBound * c, residual: residual.map { $0 + r.lowerBound * c }, gamma: gamma.baseAddress!,
            beta: beta.baseAddress!, rows: r.count, width: c, epsilon: epsilon)
        }
      }
    }
  }
}
