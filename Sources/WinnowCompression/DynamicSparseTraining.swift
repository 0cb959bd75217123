import Foundation
import WinnowCore
import WinnowNN

/// Dynamic sparse training at fixed sparsity: the connections of each layer change during
/// training, their number never does.
///
/// Starting from random masks (``initialize(_:sparsity:allocation:)``, uniform or ERK
/// per-layer sparsity), at every update step t (t > 0, t ≡ 0 mod ΔT, t < T_end) each masked
/// layer with `a` active weights
///
/// 1. drops the `k = round(ζ_t·a)` active weights of smallest magnitude;
/// 2. grows `k` connections among the positions not active after the drop (a connection
///    just dropped may come back):
///    - SET (Mocanu et al. 2018, "Scalable Training of Artificial Neural Networks with
///      Adaptive Sparse Connectivity inspired by Network Science"): at random;
///    - RigL (Evci et al. 2020, "Rigging the Lottery: Making All Tickets Winners"): where
///      the dense gradient |∂L/∂W| of the current batch is largest;
/// 3. initialises the grown weights to exactly 0.
///
/// The drop fraction is constant (SET) or cosine-annealed (RigL):
///
///     ζ_t = ζ/2 · (1 + cos(π·t / T_end))
///
/// Selection ties go to the lower flat index; SET's random scores come from a generator
/// seeded by (seed, step), so a resumed run makes exactly the updates of an uninterrupted one.
/// Per update, drop and grow are O(n log n) in the layer size n.
public struct DynamicSparseTraining: Sendable {
  public enum Growth: String, Sendable, Hashable, Codable {
    /// SET: new connections at random.
    case random
    /// RigL: new connections where the dense gradient is largest.
    case gradient
  }

  public enum DropSchedule: String, Sendable, Hashable, Codable {
    case constant
    /// ζ_t = ζ/2·(1 + cos(π·t/T_end)).
    case cosine
  }

  /// What one update did to one layer: flat indices, ascending.
  public struct LayerUpdate: Sendable, Hashable {
    public var dropped: [Int]
    public var grown: [Int]

    public init(dropped: [Int], grown: [Int]) {
      self.dropped = dropped
      self.grown = grown
    }
  }

  public var growth: Growth
  /// ζ: fraction of the active weights replaced at an update (before annealing).
  public var dropFraction: Double
  public var dropSchedule: DropSchedule
  /// ΔT: steps between updates.
  public var updateInterval: Int
  /// T_end: no updates from this step on.
  public var endStep: Int
  public var seed: UInt64

  public init(growth: Growth, dropFraction: Double, dropSchedule: DropSchedule, updateInterval: Int, endStep: Int, seed: UInt64) throws(PruningError) {
    guard dropFraction > 0 && dropFraction < 1 else {
      throw .malformedPlan(reason: "drop fraction must be in (0, 1), got \(dropFraction)")
    }
    guard updateInterval >= 1, endStep >= 0 else {
      throw .malformedPlan(reason: "dynamic sparse training needs an update interval ≥ 1 and an end step ≥ 0")
    }
    self.growth = growth
    self.dropFraction = dropFraction
    self.dropSchedule = dropSchedule
    self.updateInterval = updateInterval
    self.endStep = endStep
    self.seed = seed
  }

  /// SET: random growth, constant ζ (0.3 in the paper; the paper updates once per epoch).
  public static func set(dropFraction: Double = 0.3, updateInterval: Int, endStep: Int, seed: UInt64) throws(PruningError) -> Self {
    try Self(growth: .random, dropFraction: dropFraction, dropSchedule: .constant, updateInterval: updateInterval, endStep: endStep, seed: seed)
  }

  /// RigL: gradient growth, cosine-annealed ζ (the paper: ζ = 0.3, ΔT = 100, T_end = 75% of
  /// training).
  public static func rigL(dropFraction: Double = 0.3, updateInterval: Int = 100, endStep: Int, seed: UInt64) throws(PruningError) -> Self {
    try Self(growth: .gradient, dropFraction: dropFraction, dropSchedule: .cosine, updateInterval: updateInterval, endStep: endStep, seed: seed)
  }

  /// Random initial masks on every weight of rank ≥ 2 (``Pruning/random(_:sparsity:allocation:seed:)``).
  @discardableResult
  public func initialize(_ model: Layer, sparsity: Double, allocation: LayerAllocation) throws(PruningError) -> MaskSet {
    try Pruning.random(model, sparsity: sparsity, allocation: allocation, seed: seed)
  }

  /// Whether the connectivity changes at step `t`.
  public func updates(at t: Int) -> Bool { t > 0 && t < endStep && t % updateInterval == 0 }

  /// ζ_t.
  public func dropFraction(at t: Int) -> Double {
    switch dropSchedule {
    case .constant: return dropFraction
    case .cosine: return dropFraction / 2 * (1 + cos(Double.pi * Double(t) / Double(max(endStep, 1))))
    }
  }

  /// Drops and grows connections in every masked parameter of `model`, as at step `t`.
  /// Gradient growth needs `denseGradients` (∂L/∂W of the whole weight, not masked).
  @discardableResult
  public func update(_ model: Layer, step t: Int, denseGradients: Gradients? = nil) throws(PruningError) -> [String: LayerUpdate] {
    let fraction = dropFraction(at: t)
    var rng = RandomGenerator(seed: seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(t + 1)))
    var updates: [String: LayerUpdate] = [:]
    var failure: PruningError?
    model.visitParameters { name, p in
      guard failure == nil, var mask = p.mask else { return }
      var layerRNG = rng.split()
      let scores: [Float]
      switch growth {
      case .random:
        scores = (0..<mask.count).map { _ in layerRNG.nextUnitFloat() }
      case .gradient:
        guard let g = denseGradients?[name], g.shape == p.shape else {
          failure = .malformedPlan(reason: "gradient growth needs the dense gradient of '\(name)'")
          return
        }
        scores = g.scalars.map { Swift.abs($0) }
      }
      let change = Self.dropAndGrow(magnitudes: p.value.scalars.map { Swift.abs($0) }, mask: mask.scalars,
                                    growScores: scores, fraction: fraction)
      mask.withUnsafeMutableBufferPointer { m in
        for i in change.dropped { m[i] = 0 }
        for i in change.grown { m[i] = 1 }
      }
      p.value.withUnsafeMutableBufferPointer { w in for i in change.grown { w[i] = 0 } }
      p.mask = mask
      p.applyMask()
      updates[name] = change
    }
    if let failure { throw failure }
    return updates
  }

  /// Drops the `round(fraction·active)` smallest-magnitude active positions and grows as many
  /// highest-scoring positions among those not active after the drop.
  static func dropAndGrow(magnitudes: [Float], mask: [Float], growScores: [Float], fraction: Double) -> LayerUpdate {
    let active = mask.indices.filter { mask[$0] != 0 }
    let k = pruneCount(sparsity: fraction, count: active.count)
    guard k > 0 else { return LayerUpdate(dropped: [], grown: []) }
    let dropped = lowestIndices(active.map { magnitudes[$0] }, count: k).map { active[$0] }
    var remaining = [Bool](repeating: false, count: mask.count)
    for i in active { remaining[i] = true }
    for i in dropped { remaining[i] = false }
    let candidates = mask.indices.filter { !remaining[$0] }
    let grown = lowestIndices(candidates.map { -growScores[$0] }, count: k).map { candidates[$0] }
    return LayerUpdate(dropped: dropped.sorted(), grown: grown.sorted())
  }

  /// Updates the connectivity inside `trainer`'s steps (replacing its `beforeStep` and
  /// `transformGradients` hooks).
  ///
  /// RigL's dense gradient comes from the step's own backward pass: on an update step the
  /// masked parameters are made ``Parameter/straightThrough`` before the forward pass, which
  /// leaves the forward unchanged (pruned weights are exactly 0) and lets the gradient reach
  /// every weight. After the update the step's gradient is masked with the new connectivity
  /// and zero on grown connections, so the optimizer makes an ordinary sparse step and new
  /// connections start learning, from 0, on the next step. Optimizer moments are not reset
  /// (the hooks cannot reach them): never-active positions have none, but a connection
  /// dropped and regrown keeps its decayed momentum.
  public func install(on trainer: Trainer) {
    let method = self
    trainer.beforeStep = { model, state in
      guard method.growth == .gradient, method.updates(at: state.globalStep) else { return }
      model.visitParameters { _, p in if p.mask != nil { p.straightThrough = true } }
    }
    trainer.transformGradients = { model, gradients, state in
      guard method.updates(at: state.globalStep) else { return }
      model.visitParameters { _, p in if p.mask != nil { p.straightThrough = false } }
      let changes: [String: LayerUpdate]
      // The trainer computes every parameter's gradient, so RigL always has its dense gradient.
      do { changes = try method.update(model, step: state.globalStep, denseGradients: gradients) } catch {
        preconditionFailure("dynamic sparse training: \(error)")
      }
      model.visitParameters { name, p in
        guard var keep = p.mask, let g = gradients[name] else { return }
        if let grown = changes[name]?.grown { keep.withUnsafeMutableBufferPointer { m in for i in grown { m[i] = 0 } } }
        gradients[name] = (g * keep).detached
      }
    }
  }
}
