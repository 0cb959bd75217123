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

  /// Packs `model`'s current effective weights; `pack` receives each `N×K` weight matrix.
  public init(_ model: BERTModel, pack: (Tensor) -> any PackedLinearWeights = BERTInference.dense) {
    configuration = model.configuration
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
    let c = configuration.hiddenSize
    let m = batch.lengths.reduce(0, +)
    var x = embed(batch)
    var attended = [Float](repeating: 0, count: m * c)
    x.withUnsafeMutableBufferPointer { px in
      attended.withUnsafeMutableBufferPointer { pa in
        for (i, block) in blocks.enumerated() {
          let observe = observer.map { o in { (name: String, p: UnsafePointer<Float>, k: Int) in o("encoder.layer.\(i)." + name, p, m, k) } }
          run(block, batch.lengths, x: px.baseAddress!, scratch: pa.baseAddress!, observe: observe)
        }
      }
    }
    return x
  }

  /// Mean-pooled (and with `normalize`, unit-length) embeddings `B×C`.
  public func pooledEmbeddings(_ batch: TokenBatch, normalize: Bool) -> Tensor {
    let c = configuration.hiddenSize
    let hidden = hiddenStates(batch)
    return Tensor(shape: [batch.batchSize, c]) { out in
      var row = 0
      for (s, length) in batch.lengths.enumerated() {
        var sums = [Double](repeating: 0, count: c)
        for t in 0..<length { for j in 0..<c { sums[j] += Double(hidden[(row + t) * c + j]) } }
        row += length
        let mean = sums.map { $0 / Double(Swift.max(length, 1)) }
        let norm = normalize ? Swift.max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12) : 1
        for j in 0..<c { out[s * c + j] = Float(mean[j] / norm) }
      }
    }
  }

  /// Word + position + type embeddings of every real token, layer-normalised: `M×C`.
  func embed(_ batch: TokenBatch) -> [Float] {
    let c = configuration.hiddenSize
    let m = batch.lengths.reduce(0, +)
    var x = [Float](repeating: 0, count: m * c)
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
    x.withUnsafeMutableBufferPointer { p in
      layerNorm(p.baseAddress!, residual: nil, embeddingNorm, rows: m)
    }
    return x
  }

  /// One block in place on `x` (`M×C`); `scratch` holds `M×C` values.
  func run(
    _ block: Block, _ lengths: [Int], x: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    observe: ((String, UnsafePointer<Float>, Int) -> Void)? = nil
  ) {
    let c = configuration.hiddenSize
    let m = lengths.reduce(0, +)
    let inner = block.heads * block.headWidth
    let qkv = UnsafeMutablePointer<Float>.allocate(capacity: m * 3 * inner)
    let context = UnsafeMutablePointer<Float>.allocate(capacity: m * inner)
    let hidden = UnsafeMutablePointer<Float>.allocate(capacity: m * configuration.intermediateSize)
    defer { qkv.deallocate(); context.deallocate(); hidden.deallocate() }
    for name in ["attention.self.query", "attention.self.key", "attention.self.value"] { observe?(name, x, c) }
    block.queryKeyValueBias.withUnsafeBufferPointer {
      block.queryKeyValue.multiply(x, m: m, bias: $0.baseAddress, activation: .none, into: qkv)
    }
    attention(qkv, lengths, heads: block.heads, width: block.headWidth, into: context)
    observe?("attention.output.dense", context, inner)
    block.attentionOutputBias.withUnsafeBufferPointer {
      block.attentionOutput.multiply(context, m: m, bias: $0.baseAddress, activation: .none, into: scratch)
    }
    layerNorm(scratch, residual: x, block.attentionNorm, rows: m)
    observe?("intermediate.dense", scratch, c)
    block.intermediateBias.withUnsafeBufferPointer {
      block.intermediate.multiply(scratch, m: m, bias: $0.baseAddress, activation: .none, into: hidden)
    }
    let width = configuration.intermediateSize
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
    observe?("output.dense", hidden, width)
    block.outputBias.withUnsafeBufferPointer {
      block.output.multiply(hidden, m: m, bias: $0.baseAddress, activation: .none, into: x)
    }
    layerNorm(x, residual: scratch, block.outputNorm, rows: m)
  }

  /// Scaled dot-product attention of each sequence's rows, head by head, in parallel.
  /// `qkv` rows are `[q (C') | k (C') | v (C')]`; `context` rows are `C'` (heads side by side).
  func attention(
    _ qkv: UnsafeMutablePointer<Float>, _ lengths: [Int], heads: Int, width: Int,
    into context: UnsafeMutablePointer<Float>
  ) {
    let inner = heads * width, stride = 3 * inner
    var offsets = [0]
    for length in lengths { offsets.append(offsets.last! + length) }
    let longest = lengths.max() ?? 0
    let scale = 1 / Float(width).squareRoot()
    let packedPath = PanelPackedWeights.isAvailable
    parallelFor(lengths.count * heads) { jobs in
      let scores = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(longest * longest, 1))
      // Packed K and Vᵀ for the panel GEMM: ceil(n/32)·32·d and ceil(d/32)·32·n floats.
      let packCapacity = Swift.max(PanelGEMM.packedCount(n: longest, k: width), PanelGEMM.packedCount(n: width, k: longest), 1)
      let packed = UnsafeMutablePointer<Float>.allocate(capacity: packCapacity)
      defer { scores.deallocate(); packed.deallocate() }
      for job in jobs {
        let (s, h) = job.quotientAndRemainder(dividingBy: heads)
        let n = lengths[s]
        guard n > 0 else { continue }
        let q = qkv + offsets[s] * stride + h * width
        let out = context + offsets[s] * inner + h * width
        if packedPath {
          PanelGEMM.pack(q + inner, n: n, k: width, ldw: stride, into: packed)
          PanelGEMM.multiply(q, m: n, k: width, lda: stride, packed: packed, n: n, into: scores, ldy: n)
          RowKernels.softmax(scores, rows: n, length: n, stride: n, scale: scale)
          PanelGEMM.packTransposed(q + 2 * inner, k: n, n: width, ldv: stride, into: packed)
          PanelGEMM.multiply(scores, m: n, k: n, lda: n, packed: packed, n: width, into: out, ldy: inner)
        } else {
          sgemm(transposeA: false, transposeB: true, m: n, n: n, k: width, alpha: 1, a: q, lda: stride,
                b: q + inner, ldb: stride, beta: 0, c: scores, ldc: n)
          RowKernels.softmax(scores, rows: n, length: n, stride: n, scale: scale)
          sgemm(transposeA: false, transposeB: false, m: n, n: width, k: n, alpha: 1, a: scores, lda: n,
                b: q + 2 * inner, ldb: stride, beta: 0, c: out, ldc: inner)
        }
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
