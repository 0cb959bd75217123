import WinnowCore
import WinnowNN

/// Trained Rank Pruning (Xu et al. 2019, "Trained Rank Pruning for Efficient Deep Neural
/// Networks"): low-rank approximation alternates with training, so the network learns to
/// live with the truncation instead of being cut once after training.
///
/// - Every `period` steps each target layer's weight `W` (`N×K`; convolutions reshaped) is
///   replaced by its truncation `U_r·Σ_r·V_rᵀ`, with `r` from the rank rule (the paper's
///   energy threshold: keep ≥ e of `Σσᵢ²`).
/// - Every step, the nuclear-norm regulariser `λ·‖W‖_*` adds its sub-gradient `λ·U·Vᵀ`
///   (over the non-zero singular values of the current `W`) to the weight's gradient,
///   which shrinks every singular value by the same amount and so concentrates the energy
///   in fewer directions.
/// - At the end ``finalize(_:)`` factorizes each layer at the rank rule (the truncated
///   ranks), into ``LowRankLinear`` / ``LowRankConv2d``, with no fine-tuning.
///
/// Both hooks depend only on the model and the step, so a resumed run repeats them exactly.
public struct TrainedRankPruning: Sendable {
  public let layers: [String]
  public let selection: RankSelection
  public let period: Int
  /// λ of the nuclear-norm regulariser (0 turns it off).
  public let nuclearWeight: Float
  /// Steps between recomputations of the sub-gradient `U·Vᵀ`; in between the last one is
  /// reused. 1 (exact every step) costs one SVD per layer per step; larger values trade a
  /// slightly stale direction for speed, and a resumed run then recomputes at its first
  /// step, so it matches an uninterrupted run only when the interval is 1.
  public let subgradientInterval: Int

  /// Checks the rule, the period, λ, and that every layer can be factorized in `model`.
  public init(model: Layer, layers: [String]? = nil, selection: RankSelection, period: Int, nuclearWeight: Float,
              subgradientInterval: Int = 1) throws(LowRankError) {
    try selection.validate()
    guard period >= 1 else { throw .invalidSchedule(reason: "the truncation period must be at least 1 step, got \(period)") }
    guard nuclearWeight >= 0, nuclearWeight.isFinite else {
      throw .invalidSchedule(reason: "the nuclear-norm weight must be finite and not negative, got \(nuclearWeight)")
    }
    guard subgradientInterval >= 1 else {
      throw .invalidSchedule(reason: "the sub-gradient interval must be at least 1 step, got \(subgradientInterval)")
    }
    let eligible = LowRankFactorization.eligibleLayers(of: model)
    let layers = layers ?? eligible
    for name in layers where !eligible.contains(name) { throw .unknownLayer(name, known: eligible) }
    self.layers = layers
    self.selection = selection
    self.period = period
    self.nuclearWeight = nuclearWeight
    self.subgradientInterval = subgradientInterval
  }

  /// The target layers of `model` with their weight matrices (`N×K`).
  private func targets(_ model: Layer) -> [(name: String, layer: Layer, matrix: Tensor)] {
    let byName = Dictionary(model.namedLayers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
    return layers.compactMap { name in
      guard let layer = byName[name], let matrix = LowRankFactorization.weightMatrix(of: layer) else { return nil }
      return (name, layer, matrix)
    }
  }

  /// Replaces each target weight by its truncation; returns the rank chosen per layer.
  @discardableResult
  public func truncate(_ model: Layer) -> [String: Int] {
    var ranks: [String: Int] = [:]
    for (name, layer, matrix) in targets(model) {
      let svd = SingularValueDecomposition(matrix)
      // The rule was validated and explicit ranks checked against this layer at init… except
      // `.rank`, whose bound depends on the layer: clamp it rather than trap mid-training.
      let rank = (try? selection.rank(for: svd, layer: name)) ?? svd.k
      ranks[name] = rank
      let truncated = svd.truncated(rank: rank)
      if let linear = layer as? Linear {
        linear.weight.value = truncated
        linear.weight.applyMask()
      } else if let conv = layer as? Conv2d {
        conv.weight.value = truncated.reshaped(conv.weight.shape).detached
        conv.weight.applyMask()
      }
    }
    return ranks
  }

  /// `U·Vᵀ` of each target weight, shaped like the weight and keyed by its parameter name.
  public func nuclearSubgradients(_ model: Layer) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    for (name, layer, matrix) in targets(model) {
      let shape = (layer as? Conv2d)?.weight.shape ?? matrix.shape
      out[name + ".weight"] = SingularValueDecomposition(matrix).nuclearNormSubgradient().reshaped(shape).detached
    }
    return out
  }

  /// Truncates before every `period`-th step (not the first) and adds `λ·U·Vᵀ` to the
  /// weight gradients of every step (recomputed every `subgradientInterval` steps).
  public func install(on trainer: Trainer) {
    let method = self
    trainer.beforeStep = { model, state in
      if state.globalStep > 0, state.globalStep % method.period == 0 { method.truncate(model) }
    }
    guard nuclearWeight > 0 else { return }
    let cache = SubgradientCache()
    trainer.transformGradients = { model, gradients, state in
      if cache.values.isEmpty || state.globalStep % method.subgradientInterval == 0 {
        cache.values = method.nuclearSubgradients(model)
      }
      for (name, subgradient) in cache.values {
        let added = subgradient * method.nuclearWeight
        gradients[name] = (gradients[name].map { $0 + added } ?? added).detached
      }
    }
  }

  /// Factorizes every target layer at the rank rule (what the last truncation would keep).
  @discardableResult
  public func finalize(_ model: Layer) throws(LowRankError) -> [FactorizationEntry] {
    try LowRankFactorization.factorize(model, selection: selection, layers: layers)
  }
}

/// The last `U·Vᵀ` per weight, shared by the steps between recomputations.
private final class SubgradientCache {
  var values: [String: Tensor] = [:]
}
