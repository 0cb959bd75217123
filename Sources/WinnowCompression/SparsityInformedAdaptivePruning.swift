import Foundation
import WinnowCore
import WinnowNN

/// Sparsity-informed adaptive pruning, SAP (Diao et al. 2023, "Pruning Deep Neural Networks
/// from a Sparsity Perspective", Algorithm 1): iterative magnitude pruning in which the PQ
/// Index of the surviving weights sets how many to prune each round.
///
/// Round t, with d_t surviving weights of PQ Index I_t (``PQIndex``, p < q):
///
///     r_t = ⌈d_t · (1 + η_r)^(−q/(q−p)) · (1 − I_t)^(qp/(q−p))⌉     (lower bound on weights to keep)
///     c_t = ⌊d_t · min(γ · (1 − r_t/d_t), β)⌋                      (weights to prune)
///
/// and the c_t smallest-magnitude survivors are pruned. r_t is the paper's bound on the number
/// of weights needed to keep ‖w − w_kept‖ within a tolerance set by η_r; γ scales the step and
/// β caps the fraction pruned in one round. A sparse (high-PQI) network is pruned hard, a
/// dense-looking one gently. Defaults are the paper's code's: p = 0.5, q = 1, η_r = 0, γ = 1,
/// β = 0.9, global scope; with them c_t = ⌊d_t · min(1 − ⌈d_t(1 − I_t)⌉/d_t, 0.9)⌋ ≈ I_t·d_t.
///
/// In between rounds the network is (re)trained, and the paper rewinds the survivors to their
/// initial values (lottery-ticket style); ``run(_:names:rounds:rewindTo:train:)`` does both.
///
/// **Stopping before collapse.** The rule shrinks the step as PQI falls, but it has no floor,
/// so Winnow adds one: a round never prunes the last `minimumPerOutput` surviving weights
/// (the largest) of any output row — one row per output unit or filter, the first axis of the
/// weight — so no unit is disconnected and no layer is emptied. When a round can prune nothing
/// (c_t = 0, or every survivor is protected) it reports `stopped` and ``run(_:names:rounds:rewindTo:train:)``
/// ends.
public struct SparsityInformedAdaptivePruning: Sendable, Hashable {
  public enum Scope: String, Sendable, Codable, CaseIterable {
    /// One PQI and one count over all layers; the smallest weights of the network are pruned.
    case global
    /// A PQI and a count per layer; each layer prunes its own smallest weights.
    case layerwise
  }

  public var p: Double
  public var q: Double
  /// η_r ≥ 0: tolerance of the retained-weights bound (larger keeps fewer).
  public var etaR: Double
  /// γ > 0: scales the pruned fraction.
  public var gamma: Double
  /// β in (0, 1): the largest fraction of the survivors pruned in one round.
  public var beta: Double
  public var scope: Scope
  /// Surviving weights each output row always keeps (≥ 1).
  public var minimumPerOutput: Int

  public init(
    p: Double = 0.5, q: Double = 1, etaR: Double = 0, gamma: Double = 1, beta: Double = 0.9,
    scope: Scope = .global, minimumPerOutput: Int = 1
  ) throws(PruningError) {
    try PQIndex.requireNorms(p: p, q: q)
    guard etaR >= 0 && etaR.isFinite else { throw .malformedPlan(reason: "SAP needs η_r ≥ 0, got \(etaR)") }
    guard gamma > 0 && gamma.isFinite else { throw .malformedPlan(reason: "SAP needs γ > 0, got \(gamma)") }
    guard beta > 0 && beta < 1 else { throw .malformedPlan(reason: "SAP needs 0 < β < 1, got \(beta)") }
    guard minimumPerOutput >= 1 else { throw .malformedPlan(reason: "SAP must keep at least one weight per output, got \(minimumPerOutput)") }
    (self.p, self.q, self.etaR, self.gamma, self.beta) = (p, q, etaR, gamma, beta)
    self.scope = scope
    self.minimumPerOutput = minimumPerOutput
  }

  /// What one round measured and did.
  public struct Round: Sendable, Equatable {
    /// PQI of all surviving weights together, before pruning.
    public var globalPQIndex: Double
    /// PQI of each layer's surviving weights, before pruning.
    public var layerPQIndex: [String: Double]
    public var remainingBefore: Int
    /// c_t from the formula (summed over layers for the layer-wise scope).
    public var requested: Int
    /// Weights actually pruned: c_t less what the collapse guard protected.
    public var pruned: Int
    public var remainingAfter: Int { remainingBefore - pruned }
    /// Nothing could be pruned: SAP has converged.
    public var stopped: Bool { pruned == 0 }
  }

  /// r = ⌈d·(1 + η_r)^(−q/(q−p))·(1 − I)^(qp/(q−p))⌉, at most d.
  public func retainedBound(remaining d: Int, pqIndex: Double) -> Int {
    let r = Double(d) * pow(1 + etaR, -q / (q - p)) * pow(max(1 - pqIndex, 0), q * p / (q - p))
    return min(d, Int(r.rounded(.up)))
  }

  /// c = ⌊d · min(γ·(1 − r/d), β)⌋ with r = ``retainedBound(remaining:pqIndex:)``.
  public func pruneCount(remaining d: Int, pqIndex: Double) -> Int {
    guard d > 0 else { return 0 }
    let ratio = min(max(gamma * (1 - Double(retainedBound(remaining: d, pqIndex: pqIndex)) / Double(d)), 0), beta)
    return Int((Double(d) * ratio).rounded(.down))
  }

  /// One SAP pruning round on the weights `names` (default: all of rank ≥ 2): measures PQI,
  /// prunes c_t weights by magnitude (never the protected largest `minimumPerOutput` of a
  /// row), and applies the grown masks.
  @discardableResult
  public func pruneRound(_ model: Layer, names: [String]? = nil) throws(PruningError) -> Round {
    let names = names ?? prunableParameters(of: model).map(\.name)
    try requireParameters(names, of: model)
    let layers = names.map { LayerWeights(model: model, name: $0, keep: minimumPerOutput) }
    let layerPQI = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, PQIndex.value($0.survivors, p: p, q: q)) })
    let globalPQI = PQIndex.value(layers.flatMap(\.survivors), p: p, q: q)
    let remaining = layers.reduce(0) { $0 + $1.live.count }
    var requested = 0
    var chosen: [[Int]] = []
    switch scope {
    case .global:
      requested = pruneCount(remaining: remaining, pqIndex: globalPQI)
      let all = layers.flatMap { layer in layer.candidates.map { abs(layer.values[$0]) } }
      let picked = Set(lowestIndices(all, count: min(requested, all.count)))
      var offset = 0
      for layer in layers {
        chosen.append(layer.candidates.indices.filter { picked.contains(offset + $0) }.map { layer.candidates[$0] })
        offset += layer.candidates.count
      }
    case .layerwise:
      for layer in layers {
        let c = pruneCount(remaining: layer.live.count, pqIndex: layerPQI[layer.name]!)
        requested += c
        let magnitudes = layer.candidates.map { abs(layer.values[$0]) }
        chosen.append(lowestIndices(magnitudes, count: min(c, magnitudes.count)).map { layer.candidates[$0] })
      }
    }
    var masks = MaskSet()
    for (layer, prune) in zip(layers, chosen) {
      var mask = layer.mask
      for i in prune { mask[i] = 0 }
      masks[layer.name] = Tensor(shape: layer.shape, scalars: mask)
    }
    try masks.apply(to: model)
    return Round(globalPQIndex: globalPQI, layerPQIndex: layerPQI, remainingBefore: remaining,
                 requested: requested, pruned: chosen.reduce(0) { $0 + $1.count })
  }

  /// The SAP loop: for each of at most `rounds` rounds, `train(model, round)`, prune one
  /// round, and rewind the weights to `rewindTo` (e.g. ``parameterValues(of:)`` taken at
  /// initialisation; nil keeps the trained weights). Stops early when a round prunes nothing.
  /// Train the returned sub-network once more to finish.
  public func run(
    _ model: Layer, names: [String]? = nil, rounds: Int, rewindTo initial: [String: Tensor]? = nil,
    train: (Layer, Int) throws -> Void
  ) throws -> [Round] {
    guard rounds >= 1 else { throw PruningError.malformedPlan(reason: "SAP needs at least one round, got \(rounds)") }
    var history: [Round] = []
    for t in 0..<rounds {
      try train(model, t)
      let round = try pruneRound(model, names: names)
      history.append(round)
      if let initial { try rewindParameters(of: model, to: initial) }
      if round.stopped { break }
    }
    return history
  }
}

/// One layer's weights as SAP sees them: values, mask, survivors and the survivors it may prune.
private struct LayerWeights {
  var name: String
  var shape: [Int]
  var values: [Float]
  var mask: [Float]
  /// Indices of surviving weights.
  var live: [Int]
  /// Surviving weights outside the protected largest `keep` of each row.
  var candidates: [Int]
  var survivors: [Float] { live.map { values[$0] } }

  init(model: Layer, name: String, keep: Int) {
    var found: Parameter?
    model.visitParameters { n, p in if n == name { found = p } }
    let parameter = found!
    let values = parameter.effective.scalars
    let mask = parameter.mask?.scalars ?? [Float](repeating: 1, count: values.count)
    let rows = parameter.shape.count >= 2 ? parameter.shape[0] : 1
    let rowLength = values.count / max(rows, 1)
    var protected = Set<Int>()
    for row in 0..<rows {
      let rowLive = (row * rowLength..<(row + 1) * rowLength).filter { mask[$0] != 0 }
      // Largest magnitudes first; ties keep the lower index.
      let largest = rowLive.sorted { a, b in abs(values[a]) > abs(values[b]) || (abs(values[a]) == abs(values[b]) && a < b) }
      protected.formUnion(largest.prefix(keep))
    }
    self.name = name
    shape = parameter.shape
    self.values = values
    self.mask = mask
    live = mask.indices.filter { mask[$0] != 0 }
    candidates = live.filter { !protected.contains($0) }
  }
}
