import WinnowCore
import WinnowKernels
import WinnowNN

/// One-shot compression of a ``BERTModel``'s encoder: which weights, what calibration data
/// says about them, and physical removal of attention heads.
public enum BERTCompression {
  /// The weight names of every Linear layer in the encoder (6 per block: query, key, value,
  /// attention output, intermediate, output), in block order. Embeddings stay dense.
  public static func linearWeightNames(_ model: BERTModel) -> [String] {
    model.namedLayers.filter { $0.name.hasPrefix("encoder.") && $0.layer is Linear }.map { $0.name + ".weight" }
  }

  /// Statistics of the inputs of every encoder Linear over calibration batches: the squared
  /// Euclidean norm of each input feature over all real tokens (`Σₜ X[t, j]²`, Wanda's
  /// ‖X_j‖₂²), and each head's output energy `Σₜ ‖context_h[t]·W_o,hᵀ‖²` (how much the head
  /// adds to the residual stream), by layer.
  public struct Calibration: Sendable {
    public var inputSquaredNorms: [String: [Double]] = [:]
    public var headEnergy: [[Double]] = []
    public var tokens = 0
  }

  /// Runs `batches` through the fused inference path and accumulates ``Calibration``.
  public static func calibrate(_ model: BERTModel, batches: [TokenBatch]) -> Calibration {
    var calibration = Calibration()
    calibration.headEnergy = model.layers.map { [Double](repeating: 0, count: $0.attention.heads) }
    let inference = BERTInference(model)
    let outputs = Dictionary(uniqueKeysWithValues: model.layers.enumerated().map {
      ("encoder.layer.\($0.offset).attention.output.dense", ($0.offset, $0.element.attention))
    })
    for batch in batches {
      calibration.tokens += batch.lengths.reduce(0, +)
      _ = inference.hiddenStates(batch) { name, input, rows, columns in
        var sums = calibration.inputSquaredNorms[name] ?? [Double](repeating: 0, count: columns)
        for r in 0..<rows { for j in 0..<columns { sums[j] += Double(input[r * columns + j] * input[r * columns + j]) } }
        calibration.inputSquaredNorms[name] = sums
        if let (layer, attention) = outputs[name] {
          let context = Tensor(shape: [rows, columns], scalars: Array(UnsafeBufferPointer(start: input, count: rows * columns)))
          let energy = headEnergy(context, attention)
          for h in energy.indices { calibration.headEnergy[layer][h] += energy[h] }
        }
      }
    }
    return calibration
  }

  /// `Σₜ ‖context_h[t]·W_o,hᵀ‖²` for each head `h` (its slice of columns of the output projection).
  static func headEnergy(_ context: Tensor, _ attention: MultiHeadSelfAttention) -> [Double] {
    let width = attention.query.outFeatures / attention.heads
    let wo = attention.output.weight.effective
    return (0..<attention.heads).map { h in
      let part = context.slice(axis: 1, (h * width)..<((h + 1) * width))
        .matmul(wo.slice(axis: 1, (h * width)..<((h + 1) * width)), transposeB: true)
      return part.scalars.reduce(0) { $0 + Double($1) * Double($1) }
    }
  }

  /// Wanda scores (Sun et al. 2023, "A Simple and Effective Pruning Approach for LLMs"):
  /// `S[i, j] = |W[i, j]| · ‖X_j‖₂`, the weight magnitude scaled by the norm of the input
  /// feature it multiplies. Compared within each output row (see ``perRowMasks``).
  public static func wandaScores(_ model: BERTModel, calibration: Calibration, names: [String]) -> [String: Tensor] {
    let magnitudes = ImportanceScores.magnitude(of: model, names: names)
    var scores: [String: Tensor] = [:]
    for (name, magnitude) in magnitudes {
      let layer = String(name.dropLast(".weight".count))
      guard let squares = calibration.inputSquaredNorms[layer] else { continue }
      let norms = Tensor(shape: [1, squares.count], scalars: squares.map { Float($0.squareRoot()) })
      scores[name] = magnitude * norms
    }
    return scores
  }

  /// Prunes `sparsity` of every output row on its own (Wanda's comparison group): each row of
  /// `K` inputs keeps its `K − round(sparsity·K)` highest scores.
  public static func perRowMasks(scores: [String: Tensor], sparsity: Double) throws(PruningError) -> MaskSet {
    var masks: [String: Tensor] = [:]
    for (name, score) in scores {
      let k = score.shape[1]
      let keep = k - pruneCount(sparsity: sparsity, count: k)
      guard keep > 0 && keep < k else { throw .impossibleSparsity(layer: name, sparsity: sparsity) }
      // N:M with M = the whole row is exactly "keep the N best of the row".
      masks[name] = try MaskSelection.nm(scores: [name: score], n: keep, m: k).masks[name]
    }
    return MaskSet(masks)
  }

  /// Removes attention heads physically: in every layer, keeps the heads listed in
  /// `keep[layer]` (in order), cutting their rows out of the query, key and value
  /// projections (weights, biases, masks) and their columns out of the output projection.
  /// The smaller model computes what the original computes with those heads' outputs zeroed.
  public static func pruneHeads(_ model: BERTModel, keep: [[Int]]) throws(PruningError) {
    precondition(keep.count == model.layers.count, "one list of heads per layer")
    for (layer, heads) in zip(model.layers, keep) {
      let attention = layer.attention
      let width = attention.query.outFeatures / attention.heads
      guard !heads.isEmpty, Set(heads).count == heads.count, heads.allSatisfy({ (0..<attention.heads).contains($0) }) else {
        throw .malformedPlan(reason: "heads \(heads) for a layer with \(attention.heads) heads")
      }
      let rows = heads.flatMap { h in (h * width)..<((h + 1) * width) }
      for projection in [attention.query, attention.key, attention.value] {
        projection.weight = cut(projection.weight, rows, axis: 0)
        if let bias = projection.bias { projection.bias = cut(bias, rows, axis: 0) }
      }
      attention.output.weight = cut(attention.output.weight, rows, axis: 1)
      attention.heads = heads.count
    }
  }

  static func cut(_ parameter: Parameter, _ indices: [Int], axis: Int) -> Parameter {
    Parameter(parameter.value.selecting(indices, alongAxis: axis),
              mask: parameter.mask.map { $0.selecting(indices, alongAxis: axis) })
  }

  /// Per layer, the `count` heads with the most ``Calibration/headEnergy`` (ties: lower index).
  public static func strongestHeads(_ calibration: Calibration, count: Int) -> [[Int]] {
    calibration.headEnergy.map { energy in
      Array(energy.indices.sorted { (energy[$0], -$0) > (energy[$1], -$1) }.prefix(count)).sorted()
    }
  }
}
