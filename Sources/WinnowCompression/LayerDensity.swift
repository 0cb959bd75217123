/// How a global sparsity budget is shared among layers.
public enum LayerAllocation: String, Sendable, Codable, CaseIterable {
  /// Every layer gets the same sparsity.
  case uniform
  /// Erdős–Rényi-Kernel (Evci et al. 2020, "Rigging the Lottery"; Liu et al. 2022, "The
  /// Unreasonable Effectiveness of Random Pruning"): density ∝ Σ dims / Π dims, so small
  /// layers stay denser. For a linear layer that is (n_in + n_out)/(n_in·n_out).
  case erdosRenyiKernel

  /// Per-layer sparsities whose total number of kept weights equals `(1 − sparsity)` of all
  /// weights (up to rounding), for layers of the given shapes.
  public func sparsities(for shapes: [(name: String, shape: [Int])], globalSparsity: Double) throws(PruningError) -> [String: Double] {
    guard globalSparsity >= 0 && globalSparsity < 1 else { throw .impossibleSparsity(layer: "(global)", sparsity: globalSparsity) }
    switch self {
    case .uniform:
      return Dictionary(uniqueKeysWithValues: shapes.map { ($0.name, globalSparsity) })
    case .erdosRenyiKernel:
      return erdosRenyiSparsities(shapes, density: 1 - globalSparsity)
    }
  }
}

/// Solves for ε with density_l = min(1, ε·score_l) and Σ density_l·n_l = density·Σ n_l:
/// layers that would exceed density 1 are made dense and ε is solved again without them.
func erdosRenyiSparsities(_ shapes: [(name: String, shape: [Int])], density: Double) -> [String: Double] {
  let counts = shapes.map { Double($0.shape.reduce(1, *)) }
  let scores = shapes.map { s in Double(s.shape.reduce(0, +)) / Double(s.shape.reduce(1, *)) }
  let budget = density * counts.reduce(0, +)
  var dense = Set<Int>()
  while true {
    let denseCount = dense.reduce(0.0) { $0 + counts[$1] }
    let rest = shapes.indices.filter { !dense.contains($0) }
    let weighted = rest.reduce(0.0) { $0 + scores[$1] * counts[$1] }
    guard weighted > 0 else { break }
    let epsilon = (budget - denseCount) / weighted
    let overflow = rest.filter { epsilon * scores[$0] > 1 }
    if overflow.isEmpty {
      var result: [String: Double] = [:]
      for i in shapes.indices {
        result[shapes[i].name] = dense.contains(i) ? 0 : max(0, 1 - epsilon * scores[i])
      }
      return result
    }
    dense.formUnion(overflow)
  }
  return Dictionary(uniqueKeysWithValues: shapes.map { ($0.name, 0.0) })
}
