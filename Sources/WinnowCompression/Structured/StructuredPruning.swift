import WinnowCore
import WinnowNN

/// Removes whole channel groups (filters, neurons, attention heads) so the network becomes a
/// physically smaller dense network.
public enum StructuredPruning {
  /// How a group is scored; lower scores are removed first.
  public enum Importance: Sendable, Hashable {
    /// L2 norm of all the group's parameter slices together (Torch-Pruning's group norm).
    case l2
    /// L1 norm of all the group's slices.
    case l1
    /// Seeded random scores: the random structured baseline.
    case random(seed: UInt64)
  }

  /// Scores of every group of `graph`, read from `model`'s current (effective) weights.
  public static func scores(_ graph: DependencyGraph, model: Layer, importance: Importance) -> [Float] {
    if case .random(let seed) = importance {
      var rng = RandomGenerator(seed: seed)
      return graph.groups.map { _ in rng.nextUnitFloat() }
    }
    var values: [String: Tensor] = [:]
    model.visitParameters { name, p in values[name] = p.effective.detached }
    var sliceCache: [DependencyGraph.ParameterAxis: [Float]] = [:]
    func sliceNorms(_ key: DependencyGraph.ParameterAxis) -> [Float] {
      if let cached = sliceCache[key] { return cached }
      let t = values[key.parameter]!
      let (outer, length, inner) = (t.shape[..<key.axis].reduce(1, *), t.shape[key.axis], t.shape[(key.axis + 1)...].reduce(1, *))
      var norms = [Float](repeating: 0, count: length)
      t.withUnsafeBufferPointer { p in
        for o in 0..<outer {
          for i in 0..<length {
            for k in 0..<inner {
              let v = p[(o * length + i) * inner + k]
              norms[i] += importance == .l1 ? Swift.abs(v) : v * v
            }
          }
        }
      }
      sliceCache[key] = norms
      return norms
    }
    return graph.groups.map { g in
      let total = g.members.reduce(Float(0)) { $0 + sliceNorms(.init(parameter: $1.parameter, axis: $1.axis))[$1.index] }
      return importance == .l1 ? total : total.squareRoot()
    }
  }

  /// Picks `ratio` of the groups of every family (rounded down, at least one group kept per
  /// family) with the lowest scores.
  public static func select(_ graph: DependencyGraph, scores: [Float], ratio: Double) throws(PruningError) -> Set<Int> {
    guard ratio >= 0 && ratio < 1 else { throw .impossibleSparsity(layer: "(channel ratio)", sparsity: ratio) }
    var removed = Set<Int>()
    for (_, groups) in graph.families {
      let count = min(Int(ratio * Double(groups.count)), groups.count - 1)
      let order = groups.map(\.id).sorted { (scores[$0], $0) < (scores[$1], $1) }
      removed.formUnion(order.prefix(count))
    }
    return removed
  }

  /// Masks that zero exactly the slices of the `removed` groups: the masked model computes
  /// what the physically pruned model computes.
  public static func equivalentMasks(_ graph: DependencyGraph, removing removed: Set<Int>) -> MaskSet {
    var zeroed: [String: [(axis: Int, index: Int)]] = [:]
    for id in removed { for m in graph.groups[id].members { zeroed[m.parameter, default: []].append((m.axis, m.index)) } }
    var masks = MaskSet()
    for (name, slices) in zeroed {
      let shape = graph.parameterShapes[name]!
      masks[name] = Tensor(shape: shape) { mask in
        mask.update(repeating: 1)
        for (axis, index) in slices {
          let (outer, length, inner) = (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
          for o in 0..<outer { for k in 0..<inner { mask[(o * length + index) * inner + k] = 0 } }
        }
      }
    }
    return masks
  }

  /// Number of parameter elements left after removing `removed`.
  public static func predictedParameterCount(_ graph: DependencyGraph, removing removed: Set<Int>) -> Int {
    let kept = keptIndices(graph, removing: removed)
    return graph.parameterShapes.reduce(0) { total, entry in
      total + entry.value.indices.reduce(1) { $0 * (kept[.init(parameter: entry.key, axis: $1)]?.count ?? entry.value[$1]) }
    }
  }

  static func keptIndices(_ graph: DependencyGraph, removing removed: Set<Int>) -> [DependencyGraph.ParameterAxis: [Int]] {
    var drop: [DependencyGraph.ParameterAxis: Set<Int>] = [:]
    for id in removed { for m in graph.groups[id].members { drop[.init(parameter: m.parameter, axis: m.axis), default: []].insert(m.index) } }
    var kept: [DependencyGraph.ParameterAxis: [Int]] = [:]
    for (key, indices) in drop {
      kept[key] = (0..<graph.parameterShapes[key.parameter]![key.axis]).filter { !indices.contains($0) }
    }
    return kept
  }

  /// Cuts the `removed` groups out of `model`: parameters (and their masks), the matching
  /// entries of per-channel buffers (batch-norm statistics), depthwise convolution groups and
  /// attention head counts. The model must be the one `graph` was traced from.
  public static func apply(_ graph: DependencyGraph, removing removed: Set<Int>, to model: Layer) {
    let kept = keptIndices(graph, removing: removed)
    // Head width is fixed; pruning removes whole heads (the trace groups a head's rows).
    let headWidths = model.namedLayers.compactMap { $0.layer as? MultiHeadSelfAttention }
      .map { ($0, $0.query.outFeatures / $0.heads) }
    var oldShapes: [String: [Int]] = [:]
    model.visitParameters { name, p in
      oldShapes[name] = p.shape
      var value = p.value.detached, mask = p.mask
      for axis in p.shape.indices {
        guard let indices = kept[.init(parameter: name, axis: axis)] else { continue }
        value = value.selecting(indices, alongAxis: axis)
        mask = mask?.selecting(indices, alongAxis: axis)
      }
      p.mask = nil
      p.value = value
      p.mask = mask
    }
    // A per-channel buffer follows the `weight` beside it (batch norm: running_mean/var).
    model.visitBuffers { name, buffer in
      guard buffer.rank >= 1, let dot = name.lastIndex(of: ".") else { return }
      let owner = name[..<dot] + ".weight"
      guard let indices = kept[.init(parameter: String(owner), axis: 0)],
            oldShapes[String(owner)]?.first == buffer.shape[0] else { return }
      buffer = buffer.selecting(indices, alongAxis: 0)
    }
    for (_, layer) in model.namedLayers {
      if let conv = layer as? Conv2d, conv.groups > 1, conv.weight.shape[1] == 1 { conv.groups = conv.weight.shape[0] }
    }
    for (attention, width) in headWidths { attention.heads = attention.query.outFeatures / width }
  }
}
