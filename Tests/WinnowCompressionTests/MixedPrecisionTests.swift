import Testing
import WinnowCompression
import WinnowCore

@Suite struct MixedPrecisionTests {
  typealias Candidate = MixedPrecision.Candidate

  /// Random multiple-choice knapsacks (1–5 layers, 1–4 candidates each, sizes 1…60 bits,
  /// losses with ties) and budgets from infeasible to loose.
  static func instances() -> [(candidates: [[Candidate]], budget: Int)] {
    var rng = RandomGenerator(seed: 41)
    return (0..<300).map { _ in
      let layers = (0..<(1 + Int(rng.next() % 5))).map { _ in
        (0..<(1 + Int(rng.next() % 4))).map { _ in
          Candidate(bits: 1 + Int(rng.next() % 60), lossIncrease: Double(rng.next() % 20) / 8)
        }
      }
      let largest = layers.reduce(0) { $0 + $1.map(\.bits).max()! }
      return (layers, Int(rng.next() % UInt64(largest + 10)))
    }
  }

  /// Every combination: the least summed loss within the budget (nil when none fits).
  static func bruteForce(_ candidates: [[Candidate]], budget: Int) -> Double? {
    var best: Double?
    func search(_ layer: Int, _ bits: Int, _ loss: Double) {
      guard bits <= budget else { return }
      guard layer < candidates.count else { best = min(best ?? loss, loss); return }
      for c in candidates[layer] { search(layer + 1, bits + c.bits, loss + c.lossIncrease) }
    }
    search(0, 0, 0)
    return best
  }

  /// The dynamic program equals brute force on 300 random instances (same least loss; losses
  /// are multiples of 1/8, so the sums are exact), never exceeds the budget, finds a solution
  /// exactly when one exists, and is never worse than greedy.
  @Test func optimalEqualsBruteForceAndStaysWithinBudget() {
    var greedyWorse = 0
    for (candidates, budget) in Self.instances() {
      let expected = Self.bruteForce(candidates, budget: budget)
      let choice = MixedPrecision.optimalChoice(candidates, budget: budget)
      #expect((choice == nil) == (expected == nil), "feasibility differs at budget \(budget)")
      guard let choice, let expected else { continue }
      let bits = zip(candidates, choice).reduce(0) { $0 + $1.0[$1.1].bits }
      let loss = zip(candidates, choice).reduce(0.0) { $0 + $1.0[$1.1].lossIncrease }
      #expect(bits <= budget && loss == expected, "bits \(bits) / \(budget), loss \(loss) vs \(expected)")
      if let greedy = MixedPrecision.greedyChoice(candidates, budget: budget) {
        let greedyLoss = zip(candidates, greedy).reduce(0.0) { $0 + $1.0[$1.1].lossIncrease }
        #expect(zip(candidates, greedy).reduce(0) { $0 + $1.0[$1.1].bits } <= budget && greedyLoss >= loss)
        if greedyLoss > loss { greedyWorse += 1 }
      }
    }
    // The instances are hard enough to separate the methods.
    #expect(greedyWorse > 0)
  }

  /// A case greedy gets wrong: its first, cheapest-per-bit step (layer B 40 → 20 bits) turns
  /// out useless, because the budget can only be met by dropping layer A to 10 bits, after
  /// which B could have stayed whole.
  @Test func optimalBeatsGreedyOnAKnownCase() {
    let candidates: [[Candidate]] = [
      [Candidate(bits: 80, lossIncrease: 0), Candidate(bits: 60, lossIncrease: 2), Candidate(bits: 10, lossIncrease: 8)],
      [Candidate(bits: 40, lossIncrease: 0), Candidate(bits: 20, lossIncrease: 1), Candidate(bits: 10, lossIncrease: 8)],
    ]
    #expect(MixedPrecision.optimalChoice(candidates, budget: 50) == [2, 0])  // 50 bits, loss 8
    #expect(MixedPrecision.greedyChoice(candidates, budget: 50) == [2, 1])   // 30 bits, loss 9
    #expect(MixedPrecision.optimalChoice(candidates, budget: 19) == nil && MixedPrecision.greedyChoice(candidates, budget: 19) == nil)
  }
}
