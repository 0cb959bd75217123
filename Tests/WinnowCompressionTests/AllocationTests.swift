import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// An MLP (64 → 128 → 64 → 10) trained for 2 epochs on 256 digits, and 128 held-out images.
private func trainedDigitsMLP() throws -> (model: Layer, calibration: Tensor) {
  let (train, test) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
  var configuration = TrainingConfiguration()
  configuration.epochs = 2
  configuration.batchSize = 32
  configuration.seed = 3
  let trainer = Trainer(spec: ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10), configuration: configuration)
  try trainer.run(train: train.subset(Array(0..<256)), test: nil)
  return (trainer.model, test.subset(Array(0..<128)).images)
}

private func names(_ model: Layer) -> [String] { prunableParameters(of: model).map(\.name) }

/// Layer-adaptive allocation: rate-distortion DP, PQ Index and SAP.
@Suite struct AllocationTests {
  @Suite struct RateDistortionAllocationTests {
    // 98% once failed: every layer's capacity (then 98%) rounded down to whole bins fell short.
    @Test(arguments: [0.5, 0.8, 0.9, 0.98])
    func meetsTheBudgetWithinOneBin(sparsity: Double) throws {
      let (model, calibration) = try trainedDigitsMLP()
      let rd = try RateDistortionAllocation()
      let allocation = try rd.allocate(try rd.curves(for: model, calibration: calibration), sparsity: sparsity)
      let pruned = allocation.prunedCounts.values.reduce(0, +)
      #expect(pruned >= allocation.budget && pruned < allocation.budget + allocation.binSize)
      #expect(allocation.budget == pruneCount(sparsity: sparsity, count: 64 * 128 + 128 * 64 + 64 * 10))
      // Applying the plan prunes exactly those counts.
      let masks = try Pruning.apply(allocation.plan, to: model)
      for (name, count) in allocation.prunedCounts {
        #expect(masks[name]!.scalars.filter { $0 == 0 }.count == count, "\(name)")
        #expect(count % allocation.binSize == 0)
        #expect(Double(count) <= rd.grid.last! * Double(masks[name]!.count) && count < masks[name]!.count, "\(name) pruned beyond the grid")
      }
    }

    /// The point of the method: at the same budget, the DP's plan distorts the trained
    /// model's logits less than uniform sparsity, measured with all layers pruned together.
    @Test(arguments: [0.7, 0.9])
    func distortsLessThanUniformAllocation(sparsity: Double) throws {
      let (model, calibration) = try trainedDigitsMLP()
      let plan = try RateDistortionAllocation().plan(for: model, sparsity: sparsity, calibration: calibration)
      let uniform = try PruningPlan.allocate(.uniform, sparsity: sparsity, over: prunableParameters(of: model))
      let dp = try RateDistortionAllocation.outputDistortion(of: plan, on: model, calibration: calibration)
      let flat = try RateDistortionAllocation.outputDistortion(of: uniform, on: model, calibration: calibration)
      #expect(dp <= flat, "DP \(dp) vs uniform \(flat)\n\(plan)")
    }

    @Test func curvesStartAtZeroAndLeaveTheModelUnchanged() throws {
      let (model, calibration) = try trainedDigitsMLP()
      let values = parameterValues(of: model)
      let curves = try RateDistortionAllocation().curves(for: model, calibration: calibration)
      #expect(curves.map(\.name) == names(model))
      for curve in curves {
        #expect(curve.distortions[0] == 0)
        #expect(curve.distortions.last! > 0)
        #expect(curve.prunedCounts == RateDistortionAllocation.defaultGrid.map { pruneCount(sparsity: $0, count: curve.count) })
        #expect(curve.prunedCounts.last! < curve.count, "\(curve.name) emptied")
      }
      #expect(parameterValues(of: model) == values)
      #expect(MaskSet(of: model) == MaskSet())
    }

    /// The DP is exact for its (binned, interpolated) problem: it equals exhaustive search.
    @Test(arguments: [0.3, 0.5, 0.77])
    func dynamicProgrammingEqualsExhaustiveSearch(sparsity: Double) throws {
      var rng = RandomGenerator(seed: 11)
      let counts = [40, 30, 20]
      let rd = try RateDistortionAllocation(grid: [0, 0.25, 0.5, 0.75, 0.9], bins: 90)
      let curves = counts.enumerated().map { i, n in
        // Random increasing steps, with one dip so the curve is not convex.
        var d = [0.0]
        for _ in 1..<5 { d.append(d.last! + Double(rng.nextUnitFloat()) * Double(i + 1)) }
        d[2] = d[1] * 0.5
        return RateDistortionAllocation.DistortionCurve(name: "layer\(i)", count: n, prunedCounts: rd.grid.map { pruneCount(sparsity: $0, count: n) },
                                                        distortions: d)
      }
      let allocation = try rd.allocate(curves, sparsity: sparsity)
      #expect(allocation.binSize == 1)
      var best = Double.infinity
      for a in 0...curves[0].prunedCounts.last! {
        for b in 0...curves[1].prunedCounts.last! {
          let c = allocation.budget - a - b
          guard c >= 0 && c <= curves[2].prunedCounts.last! else { continue }
          best = min(best, curves[0].distortion(pruning: a) + curves[1].distortion(pruning: b) + curves[2].distortion(pruning: c))
        }
      }
      #expect(abs(allocation.predictedDistortion - best) < 1e-12)
      let chosen = curves.reduce(0.0) { $0 + $1.distortion(pruning: allocation.prunedCounts[$1.name]!) }
      #expect(abs(chosen - allocation.predictedDistortion) < 1e-12)
    }

    @Test func badRequestsAreRejected() throws {
      let model = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 0)
      let rd = try RateDistortionAllocation()
      let calibration = randomTensor([4, 1, 8, 8], seed: 1)
      #expect(throws: PruningError.emptyCalibrationData(method: "rate-distortion allocation")) {
        try rd.curves(for: model, calibration: Tensor.zeros([0, 1, 8, 8]))
      }
      #expect(throws: PruningError.unknownLayer("fc9.weight", known: names(model))) {
        try rd.curves(for: model, calibration: calibration, names: ["fc9.weight"])
      }
      for s in [-0.5, 1.0] {
        #expect(throws: PruningError.impossibleSparsity(layer: "(global)", sparsity: s)) {
          try rd.plan(for: model, sparsity: s, calibration: calibration)
        }
      }
      // Beyond the largest grid sparsity in every layer: named as such, not as an invalid sparsity.
      do {
        _ = try rd.plan(for: model, sparsity: 0.999, calibration: calibration)
        Issue.record("99.9% overall met with a grid that stops at 99.9% per layer")
      } catch {
        #expect(error.description.contains("beyond the grid's largest sparsity 0.999"), "\(error)")
      }
      // A grid count never empties a layer, even a tiny one at the top of the grid.
      #expect(RateDistortionAllocation.prunedCount(sparsity: 0.999, of: 10) == 9)
      #expect(RateDistortionAllocation.prunedCount(sparsity: 0.5, of: 10) == 5)
      #expect(RateDistortionAllocation.prunedCount(sparsity: 0.999, of: 1) == 0)
      for grid in [[0.1, 0.5], [0, 0.5, 0.5], [0, 1.0], []] {
        #expect(throws: PruningError.self) { try RateDistortionAllocation(grid: grid) }
      }
      #expect(throws: PruningError.self) { try RateDistortionAllocation(bins: 0) }
      #expect(throws: PruningError.self) { try rd.allocate([], sparsity: 0.5) }
    }
  }

  @Suite struct PQIndexTests {
    static let norms: [(Double, Double)] = [(0.5, 1), (1, 2), (0.2, 1.5), (0.5, 3)]

    @Test func equalMagnitudesGiveZero() throws {
      let w = Tensor((0..<100).map { $0 % 2 == 0 ? 0.3 : -0.3 })
      for (p, q) in Self.norms { #expect(abs(try PQIndex.of(w, p: p, q: q)) < 1e-12, "p \(p), q \(q)") }
    }

    @Test func oneHotGivesTheMaximum() throws {
      for d in [1, 2, 10, 1000] {
        var values = [Float](repeating: 0, count: d)
        values[d / 2] = -4
        for (p, q) in Self.norms {
          let expected = 1 - pow(Double(d), 1 / q - 1 / p)
          #expect(abs(try PQIndex.of(Tensor(values), p: p, q: q) - expected) < 1e-12, "d \(d), p \(p), q \(q)")
        }
      }
    }

    /// k equal non-zeros among d: PQI = 1 − (k/d)^(1/p − 1/q), rising as k falls.
    @Test func flatSparseVectorsFollowTheClosedForm() throws {
      let d = 64
      var previous = -1.0
      for k in stride(from: d, through: 1, by: -1) {
        let w = Tensor((0..<d).map { $0 < k ? 1.5 : 0 })
        let value = try PQIndex.of(w)
        #expect(abs(value - (1 - pow(Double(k) / Double(d), 1 / 0.5 - 1))) < 1e-12, "k \(k)")
        #expect(value > previous)
        previous = value
      }
    }

    @Test func scaleInvariantBoundedAndMaskAware() throws {
      let w = randomTensor([200], seed: 4)
      let base = try PQIndex.of(w)
      for c: Float in [1e-3, 7, -2] { #expect(abs(try PQIndex.of(w * c) - base) < 1e-6, "c \(c)") }  // Float32 rounding of w·c
      for (p, q) in Self.norms {
        let value = try PQIndex.of(w, p: p, q: q)
        #expect(value >= 0 && value <= 1 - pow(200, 1 / q - 1 / p))
      }
      let mask = Tensor((0..<200).map { $0 % 3 == 0 ? 0 : 1 })
      let kept = Tensor(zip(w.scalars, mask.scalars).filter { $1 == 1 }.map(\.0))
      #expect(try PQIndex.of(w, mask: mask) == PQIndex.of(kept))
      #expect(try PQIndex.of(Tensor.zeros([5])) == 0)
    }

    @Test func reportCoversEveryLayerAndTheWholeModel() throws {
      let model = ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: 0)
      try Pruning.magnitude(model, sparsity: 0.7, global: true)
      let report = try PQIndex.report(for: model)
      #expect(report.entries.map(\.name) == names(model))
      let sparsity = SparsityReport(model: model)
      for e in report.entries {
        #expect(e.remaining == sparsity.entries.first { $0.name == e.name }!.nonZero, "\(e.name)")
        #expect(e.pqIndex > 0 && e.pqIndex < 1)
      }
      #expect(report.global > 0 && report.global < 1)
      #expect(report.description.contains("fc1.weight"))
    }

    @Test func badNormsAreRejected() {
      for (p, q) in [(0.0, 1.0), (1, 1), (1, 0.5), (0.5, .infinity), (-1, 1)] {
        #expect(throws: PruningError.self) { try PQIndex.of(Tensor([1, 2]), p: p, q: q) }
      }
      #expect(throws: PruningError.self) { try PQIndex.of(Tensor([1, 2]), mask: Tensor([1, 0, 1])) }
      #expect(throws: PruningError.self) { try PQIndex.report(for: Linear(weight: .ones([2, 2]), bias: nil), names: ["w"]) }
    }
  }

  @Suite struct SparsityInformedAdaptivePruningTests {
    /// With p = 0.5, q = 1 the bound is r = ⌈d·(1 + η)^(−2)·(1 − I)⌉; values chosen to be exact in binary.
    @Test func pruneCountFollowsThePaperFormula() throws {
      let sap = try SparsityInformedAdaptivePruning()
      #expect(sap.retainedBound(remaining: 100, pqIndex: 0.25) == 75)
      #expect(sap.pruneCount(remaining: 100, pqIndex: 0.25) == 25)
      #expect(sap.pruneCount(remaining: 128, pqIndex: 1 - 1.0 / 32) == 115)  // 1 − 4/128 capped at β = 0.9
      #expect(sap.pruneCount(remaining: 100, pqIndex: 0) == 0)
      #expect(try SparsityInformedAdaptivePruning(gamma: 0.5).pruneCount(remaining: 100, pqIndex: 0.25) == 12)
      let eta = try SparsityInformedAdaptivePruning(etaR: 1)
      #expect(eta.retainedBound(remaining: 100, pqIndex: 0.25) == 19)  // ⌈100·¼·¾⌉
      #expect(eta.pruneCount(remaining: 100, pqIndex: 0.25) == 81)
    }

    @Test func globalRoundPrunesTheSmallestSurvivorsItWasAskedFor() throws {
      let model = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 2)
      let before = ImportanceScores.magnitude(of: model, names: names(model))
      let sap = try SparsityInformedAdaptivePruning()
      let round = try sap.pruneRound(model)
      #expect(round.remainingBefore == 64 * 128 + 128 * 64 + 64 * 10)
      #expect(round.requested == sap.pruneCount(remaining: round.remainingBefore, pqIndex: round.globalPQIndex))
      #expect(round.pruned == round.requested && round.pruned > 0)
      let masks = MaskSet(of: model)
      var kept = Float.infinity, pruned: Float = 0
      for name in names(model) {
        for (w, m) in zip(before[name]!.scalars, masks[name]!.scalars) { if m == 1 { kept = min(kept, w) } else { pruned = max(pruned, w) } }
      }
      #expect(pruned <= kept)
      #expect(abs(round.globalPQIndex - (try PQIndex.report(for: ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 2)).global)) < 1e-12)
    }

    @Test func layerwiseRoundUsesEachLayersOwnIndex() throws {
      let model = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 3)
      let pqi = try PQIndex.report(for: model)
      let sap = try SparsityInformedAdaptivePruning(scope: .layerwise)
      try sap.pruneRound(model)
      for (e, entry) in zip(SparsityReport(model: model).entries.filter(\.masked), pqi.entries) {
        #expect(e.count - e.nonZero == sap.pruneCount(remaining: entry.count, pqIndex: entry.pqIndex), "\(e.name)")
      }
    }

    /// A layer with one large weight per row: PQI is high, γ = 4 and β = 0.95 ask for 30 of
    /// the 32 weights, but the guard keeps each row's largest, and the next round stops.
    @Test func collapseGuardKeepsOneWeightPerOutputAndStops() throws {
      var weights = [Float](repeating: 0, count: 32)
      for r in 0..<4 {
        for c in 0..<8 { weights[r * 8 + c] = c == (r * 3) % 8 ? 10 + Float(r) : 0.01 * Float(c + 1) }
      }
      let layer = Linear(weight: Tensor(shape: [4, 8], scalars: weights), bias: nil)
      let sap = try SparsityInformedAdaptivePruning(gamma: 4, beta: 0.95)
      let rounds = try sap.run(layer, names: ["weight"], rounds: 10) { _, _ in }
      #expect(rounds.count == 2)
      #expect(rounds[0].requested == 30 && rounds[0].pruned == 28)
      #expect(rounds[1].stopped)
      let mask = layer.weight.mask!
      for r in 0..<4 {
        let kept: Float = (0..<8).reduce(0) { $0 + mask[r, $1] }
        #expect(mask[r, (r * 3) % 8] == 1 && kept == 1, "row \(r)")
      }
    }

    /// Left alone (no training between rounds) SAP prunes the smallest survivors until they are
    /// nearly equal; PQI falls toward 0 and the steps shrink with it. No output is disconnected
    /// and masks only grow.
    @Test func stepsShrinkAsThePQIndexFallsAndNoOutputIsDisconnected() throws {
      let model = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 4)
      let sap = try SparsityInformedAdaptivePruning(gamma: 4)
      var previous = MaskSet()
      let rounds = try sap.run(model, rounds: 30) { model, _ in
        let masks = MaskSet(of: model)
        for (name, old) in previous.masks {
          for (a, b) in zip(old.scalars, masks[name]!.scalars) where a == 0 { #expect(b == 0) }
        }
        previous = masks
      }
      #expect(zip(rounds, rounds.dropFirst()).allSatisfy { $0.remainingAfter == $1.remainingBefore })
      let fraction = rounds.map { Double($0.pruned) / Double($0.remainingBefore) }
      #expect(fraction.last! < fraction.first! / 10, "\(fraction)")
      #expect(rounds.last!.globalPQIndex < rounds.first!.globalPQIndex)
      model.visitParameters { name, p in
        guard let mask = p.mask else { return }
        let rowLength = mask.count / p.shape[0]
        for row in 0..<p.shape[0] {
          #expect(mask.scalars[(row * rowLength)..<((row + 1) * rowLength)].contains(1), "\(name) row \(row) disconnected")
        }
      }
    }

    @Test func runWithRewindingIsReproducible() throws {
      func run() throws -> (MaskSet, [SparsityInformedAdaptivePruning.Round], [String: Tensor]) {
        let (train, _) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
        let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
        var configuration = TrainingConfiguration()
        configuration.epochs = 1
        configuration.batchSize = 64
        let model = spec.build(seed: 5)
        let initial = parameterValues(of: model)
        let rounds = try SparsityInformedAdaptivePruning().run(model, rounds: 3, rewindTo: initial) { model, _ in
          try Trainer(spec: spec, configuration: configuration, model: model).run(train: train.subset(Array(0..<128)), test: nil)
        }
        let masks = MaskSet(of: model)
        // Survivors are back at their initial values.
        model.visitParameters { name, p in #expect(p.value == (masks[name].map { initial[name]! * $0 } ?? initial[name]!), "\(name)") }
        return (masks, rounds, parameterValues(of: model))
      }
      let (a, b) = (try run(), try run())
      #expect(a.0 == b.0)
      #expect(a.1 == b.1)
      #expect(a.2 == b.2)
      #expect(a.1.count == 3 && a.1.allSatisfy { $0.pruned > 0 })
    }

    @Test func badSettingsAreRejected() throws {
      #expect(throws: PruningError.self) { try SparsityInformedAdaptivePruning(p: 1, q: 1) }
      #expect(throws: PruningError.self) { try SparsityInformedAdaptivePruning(etaR: -0.1) }
      #expect(throws: PruningError.self) { try SparsityInformedAdaptivePruning(gamma: 0) }
      #expect(throws: PruningError.self) { try SparsityInformedAdaptivePruning(beta: 1) }
      #expect(throws: PruningError.self) { try SparsityInformedAdaptivePruning(minimumPerOutput: 0) }
      let sap = try SparsityInformedAdaptivePruning()
      let model = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 0)
      #expect(throws: PruningError.self) { try sap.run(model, rounds: 0) { _, _ in } }
      #expect(throws: PruningError.self) { try sap.pruneRound(model, names: ["fc9.weight"]) }
    }
  }
}
