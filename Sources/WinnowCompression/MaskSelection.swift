import WinnowCore

/// Turns importance scores into masks. Lower scores are pruned first; ties are broken by
/// position (earlier first), so the result is deterministic.
public enum MaskSelection {
  /// Prunes `sparsity[name]` of each layer on its own (layer-wise magnitude pruning when the
  /// scores are magnitudes; PyTorch's `l1_unstructured`).
  public static func layerwise(scores: [String: Tensor], sparsity: [String: Double]) throws(PruningError) -> MaskSet {
    var masks: [String: Tensor] = [:]
    for (name, s) in sparsity.sorted(by: { $0.key < $1.key }) {
      guard let score = scores[name] else { throw .unknownLayer(name, known: scores.keys.sorted()) }
      guard s >= 0 && s < 1 else { throw .impossibleSparsity(layer: name, sparsity: s) }
      masks[name] = maskPruningLowest(score, count: pruneCount(sparsity: s, count: score.count))
    }
    return MaskSet(masks)
  }

  /// Masks that prune exactly as many weights of each layer as `masks` do, chosen by `scores`
  /// instead (the random baseline "same layer sparsities" when the scores are random). Unlike a
  /// plan of realised sparsities this also reproduces a layer that `masks` emptied entirely,
  /// which global pruning at high sparsity does.
  public static func sameCounts(as masks: MaskSet, scores: [String: Tensor]) throws(PruningError) -> MaskSet {
    var result: [String: Tensor] = [:]
    for (name, mask) in masks.masks.sorted(by: { $0.key < $1.key }) {
      guard let score = scores[name], score.shape == mask.shape else { throw .unknownLayer(name, known: scores.keys.sorted()) }
      let pruned = mask.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
      result[name] = maskPruningLowest(score, count: pruned)
    }
    return MaskSet(result)
  }

  /// Prunes `sparsity` of all the named layers together, ranking every weight against every
  /// other (PyTorch's `global_unstructured`). `names` fixes the order of concatenation.
  public static func global(scores: [String: Tensor], names: [String], sparsity: Double) throws(PruningError) -> MaskSet {
    guard sparsity >= 0 && sparsity < 1 else { throw .impossibleSparsity(layer: "(global)", sparsity: sparsity) }
    var all: [Float] = []
    for name in names {
      guard let s = scores[name] else { throw .unknownLayer(name, known: scores.keys.sorted()) }
      all += s.scalars
    }
    let pruned = Set(lowestIndices(all, count: pruneCount(sparsity: sparsity, count: all.count)))
    var masks: [String: Tensor] = [:]
    var offset = 0
    for name in names {
      let shape = scores[name]!.shape
      let count = shape.reduce(1, *)
      let start = offset
      masks[name] = Tensor(shape: shape) { m in for i in m.indices { m[i] = pruned.contains(start + i) ? 0 : 1 } }
      offset += count
    }
    return MaskSet(masks)
  }

  /// Keeps the `n` highest-scoring weights in every group of `m` consecutive weights of each
  /// output row (the row is the flattened `in` or `in·kH·kW` axis — the GEMM's K), so every
  /// group holds exactly `m − n` zeros. Rows must be a multiple of `m` long.
  public static func nm(scores: [String: Tensor], n: Int, m: Int) throws(PruningError) -> MaskSet {
    guard n > 0 && n < m else { throw .invalidPattern(n: n, m: m) }
    var masks: [String: Tensor] = [:]
    for (name, score) in scores.sorted(by: { $0.key < $1.key }) {
      let rowLength = score.rank >= 2 ? score.count / score.shape[0] : score.count
      guard rowLength % m == 0 else { throw .patternDoesNotDivide(layer: name, n: n, m: m, rowLength: rowLength) }
      masks[name] = Tensor(shape: score.shape) { mask in
        score.withUnsafeBufferPointer { s in
          for start in stride(from: 0, to: s.count, by: m) {
            let group = Array(s[start..<(start + m)])
            let drop = Set(lowestIndices(group, count: m - n))
            for j in 0..<m { mask[start + j] = drop.contains(j) ? 0 : 1 }
          }
        }
      }
    }
    return MaskSet(masks)
  }

  /// A mask of `score`'s shape with the `count` lowest scores set to 0.
  static func maskPruningLowest(_ score: Tensor, count: Int) -> Tensor {
    let pruned = lowestIndices(score.scalars, count: count)
    return Tensor(shape: score.shape) { m in
      m.update(repeating: 1)
      for i in pruned { m[i] = 0 }
    }
  }
}

/// Indices of the `count` smallest values (NaN counts as smallest), ties by lower index.
func lowestIndices(_ values: [Float], count: Int) -> [Int] {
  guard count > 0 else { return [] }
  let order = values.indices.sorted { a, b in
    let (x, y) = (values[a], values[b])
    if x.isNaN != y.isNaN { return x.isNaN }
    return x < y || (x == y && a < b) || (x.isNaN && y.isNaN && a < b)
  }
  return Array(order.prefix(count))
}
