import WinnowCore
import WinnowNN

/// Layer-adaptive sparsities by rate–distortion optimisation (Xu et al. 2023, "Efficient
/// Joint Optimization of Layer-Adaptive Weight Pruning in Deep Neural Networks").
///
/// The output distortion caused by magnitude-pruning several layers is, to a good
/// approximation, the sum of the distortions each layer causes alone. So:
///
/// 1. **Measure** (``curves(for:calibration:names:)``): for every prunable layer i and every
///    sparsity s in `grid`, magnitude-prune layer i alone to s and record
///    D_i(s) = mean over the calibration batch of (f(x) − f₀(x))², the mean squared change
///    of the model's outputs (logits). L·|grid| inference passes.
/// 2. **Optimise** (``allocate(_:sparsity:)``): choose pruned counts k_i minimising
///    Σ D_i(k_i) subject to Σ k_i ≥ B = round(s·Σ n_i), by dynamic programming over layers.
///    Counts are discretised into bins of b = ⌈Σ n_i / bins⌉ weights; the DP state is the
///    number of bins pruned so far, and it requires exactly K = ⌈B / b⌉ bins in total, so the
///    plan prunes between B and B + b − 1 weights (the budget within one bin). Cost
///    O(K · Σ_i n_i / b) = O(bins²), independent of the model size.
///
/// Between grid points D_i is interpolated linearly in the pruned count (the paper evaluates
/// its grid points only; interpolation lets the DP meet the budget to a bin instead of to a
/// grid step). No layer is pruned beyond the largest grid sparsity (99.9% by default), and
/// never to its last weight: a grid count is at most n_i − 1, so no layer is emptied.
///
/// The grid reaches past the overall sparsities one asks for (98% in the pruning sweeps): its
/// top was once 98%, and since each layer's capacity is rounded down to whole bins, an
/// overall 98% could not be met at all.
///
///     let rd = try RateDistortionAllocation()
///     let plan = try rd.plan(for: model, sparsity: 0.9, calibration: batch.images)
///     try Pruning.apply(plan, to: model)
public struct RateDistortionAllocation: Sendable, Hashable {
  /// 0%, 5%, …, 95%, 98%, 99%, 99.5%, 99.9%.
  public static let defaultGrid: [Double] = (0..<20).map { Double($0) / 20 } + [0.98, 0.99, 0.995, 0.999]

  /// Candidate per-layer sparsities: strictly increasing, starting at 0, all below 1.
  public var grid: [Double]
  /// How many bins the total weight count is split into for the DP.
  public var bins: Int

  public init(grid: [Double] = RateDistortionAllocation.defaultGrid, bins: Int = 1000) throws(PruningError) {
    guard grid.first == 0, zip(grid, grid.dropFirst()).allSatisfy({ $0 < $1 }), grid.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
      throw .malformedPlan(reason: "rate-distortion grid must start at 0, increase strictly and stay below 1, got \(grid)")
    }
    guard bins >= 1 else { throw .malformedPlan(reason: "rate-distortion allocation needs at least one bin, got \(bins)") }
    self.grid = grid
    self.bins = bins
  }

  /// The measured distortion of one layer pruned alone, at the grid's pruned counts.
  public struct DistortionCurve: Sendable, Equatable {
    public var name: String
    /// Weights in the layer.
    public var count: Int
    /// min(round(s·count), count − 1) for each grid sparsity s (see ``prunedCount(sparsity:of:)``).
    public var prunedCounts: [Int]
    /// Mean squared change of the outputs at each of `prunedCounts`.
    public var distortions: [Double]

    public init(name: String, count: Int, prunedCounts: [Int], distortions: [Double]) {
      precondition(!prunedCounts.isEmpty && prunedCounts.count == distortions.count && prunedCounts.first == 0,
                   "\(name): a distortion curve needs one distortion per pruned count, starting at 0 pruned")
      (self.name, self.count, self.prunedCounts, self.distortions) = (name, count, prunedCounts, distortions)
    }

    /// D(k), linear between measured counts; k must not exceed the last measured count.
    public func distortion(pruning k: Int) -> Double {
      precondition(k >= 0 && k <= prunedCounts.last!, "\(name): \(k) pruned weights is outside the measured range")
      let j = prunedCounts.lastIndex { $0 <= k }!
      if prunedCounts[j] == k || j == prunedCounts.count - 1 { return distortions[j] }
      let t = Double(k - prunedCounts[j]) / Double(prunedCounts[j + 1] - prunedCounts[j])
      return distortions[j] + t * (distortions[j + 1] - distortions[j])
    }
  }

  /// The DP's choice.
  public struct Allocation: Sendable, Equatable {
    /// Per-layer sparsities k_i / n_i.
    public var plan: PruningPlan
    /// k_i, each a multiple of `binSize`.
    public var prunedCounts: [String: Int]
    /// Σ D_i(k_i): the distortion the additive model predicts.
    public var predictedDistortion: Double
    /// B = round(sparsity · Σ n_i), the pruned weights asked for.
    public var budget: Int
    public var binSize: Int
  }

  /// Step 1: D_i(s) for every layer `names` (default: all weights of rank ≥ 2) and grid
  /// sparsity, measured against the model as it is (masks included) on `calibration`, a
  /// batch of inputs, in inference mode. The model is left unchanged.
  ///
  /// - Throws: `.unknownLayer`; `.emptyCalibrationData` when `calibration` holds no example.
  public func curves(for model: Layer, calibration: Tensor, names: [String]? = nil) throws(PruningError) -> [DistortionCurve] {
    let names = names ?? prunableParameters(of: model).map(\.name)
    try requireParameters(names, of: model)
    try requireExamples(calibration)
    let context = ForwardContext(training: false)
    let reference = model.forward(calibration, context).detached
    let weights = ImportanceScores.magnitude(of: model, names: names)
    let saved = ModelState(of: model)
    defer { saved.restore(into: model) }
    return names.map { name in
      let magnitude = weights[name]!
      let counts = grid.map { Self.prunedCount(sparsity: $0, of: magnitude.count) }
      let distortions = counts.map { k in
        let mask = MaskSelection.maskPruningLowest(magnitude, count: k)
        model.visitParameters { n, p in if n == name { p.mask = mask } }
        let d = meanSquaredDifference(model.forward(calibration, context), reference)
        saved.restore(into: model)
        return d
      }
      return DistortionCurve(name: name, count: magnitude.count, prunedCounts: counts, distortions: distortions)
    }
  }

  /// Step 2: the per-layer pruned counts minimising Σ D_i(k_i) with Σ k_i = K bins ≥ the
  /// budget, by dynamic programming over layers (exact for the binned, interpolated curves).
  ///
  /// - Throws: `.impossibleSparsity` unless 0 ≤ sparsity < 1 or when even the largest grid
  ///   sparsity in every layer cannot meet the budget; `.malformedPlan` without curves.
  public func allocate(_ curves: [DistortionCurve], sparsity: Double) throws(PruningError) -> Allocation {
    try requireSparsity(sparsity)
    guard !curves.isEmpty else { throw .malformedPlan(reason: "rate-distortion allocation needs at least one layer") }
    let total = curves.reduce(0) { $0 + $1.count }
    let budget = pruneCount(sparsity: sparsity, count: total)
    let binSize = max(1, (total + bins - 1) / bins)
    let target = (budget + binSize - 1) / binSize
    let capacity = curves.map { $0.prunedCounts.last! / binSize }
    guard capacity.reduce(0, +) >= target else {
      throw .malformedPlan(reason: String(
        format: "rate-distortion allocation cannot prune %g of the weights (%d of %d, in bins of %d) without pruning a layer beyond the grid's largest sparsity %g",
        sparsity, budget, total, binSize, grid.last!))
    }

    // best[t]: least Σ D over the layers so far with t bins pruned; picks[i][t]: layer i's bins.
    var best = [Double](repeating: .infinity, count: target + 1)
    best[0] = 0
    var picks: [[Int]] = []
    for (curve, cap) in zip(curves, capacity) {
      let cost = (0...cap).map { curve.distortion(pruning: $0 * binSize) }
      var next = [Double](repeating: .infinity, count: target + 1)
      var pick = [Int](repeating: 0, count: target + 1)
      for t in 0...target {
        for k in 0...min(cap, t) where best[t - k] < .infinity && best[t - k] + cost[k] < next[t] {
          next[t] = best[t - k] + cost[k]
          pick[t] = k
        }
      }
      best = next
      picks.append(pick)
    }

    var remaining = target
    var counts: [String: Int] = [:]
    var layers: [String: PruningPlan.Target] = [:]
    for (i, curve) in curves.enumerated().reversed() {
      let k = picks[i][remaining] * binSize
      remaining -= picks[i][remaining]
      counts[curve.name] = k
      layers[curve.name] = .sparsity(Double(k) / Double(curve.count))
    }
    return Allocation(plan: PruningPlan(layers: layers), prunedCounts: counts, predictedDistortion: best[target],
                      budget: budget, binSize: binSize)
  }

  /// The weights a grid sparsity `s` prunes in a layer of `count`: round(s·count), but at
  /// most count − 1 so that no layer is emptied (a small layer at 99.9% keeps one weight).
  public static func prunedCount(sparsity s: Double, of count: Int) -> Int {
    min(pruneCount(sparsity: s, count: count), max(count - 1, 0))
  }

  /// Steps 1 and 2: the plan for `sparsity` of the weights `names` (default: all of rank ≥ 2).
  public func plan(for model: Layer, sparsity: Double, calibration: Tensor, names: [String]? = nil) throws(PruningError) -> PruningPlan {
    try requireSparsity(sparsity)
    return try allocate(curves(for: model, calibration: calibration, names: names), sparsity: sparsity).plan
  }

  /// The distortion actually caused by magnitude-pruning all layers of `plan` together:
  /// mean over `calibration` of (f(x) − f₀(x))². The model is left unchanged.
  public static func outputDistortion(of plan: PruningPlan, on model: Layer, calibration: Tensor) throws(PruningError) -> Double {
    try plan.validate(against: model)
    try requireExamples(calibration)
    let context = ForwardContext(training: false)
    let reference = model.forward(calibration, context).detached
    let masks = try plan.masks(scores: ImportanceScores.magnitude(of: model, names: Array(plan.layers.keys)))
    let saved = ModelState(of: model)
    defer { saved.restore(into: model) }
    model.visitParameters { name, p in if let m = masks[name] { p.mask = m } }
    return meanSquaredDifference(model.forward(calibration, context), reference)
  }
}

/// Mean of (a − b)² over all elements, accumulated in Double.
func meanSquaredDifference(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.shape == b.shape, "outputs \(a.shape) and \(b.shape) differ in shape")
  var sum = 0.0
  a.withUnsafeBufferPointer { x in
    b.withUnsafeBufferPointer { y in for i in x.indices { let d = Double(x[i]) - Double(y[i]); sum += d * d } }
  }
  return sum / Double(max(a.count, 1))
}

private func requireExamples(_ calibration: Tensor) throws(PruningError) {
  guard calibration.rank >= 1, calibration.shape[0] > 0, calibration.count > 0 else {
    throw .emptyCalibrationData(method: "rate-distortion allocation")
  }
}
