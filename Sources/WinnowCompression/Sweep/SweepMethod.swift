/// The methods a pruning sweep compares, baselines included.
public enum SweepMethod: String, Sendable, Codable, CaseIterable {
  /// Magnitude, every layer pruned to the same sparsity, then fine-tuned.
  case magnitude
  /// Magnitude ranked over all layers together, then fine-tuned.
  case globalMagnitude = "global-magnitude"
  /// Gradual magnitude pruning (cubic schedule) during the fine-tuning.
  case gradual
  /// N:M by magnitude where the sparsity is one (50% → 2:4, 75% → 1:4, 87.5% → 1:8).
  case nm
  /// LAMP scores ranked globally (layer-adaptive magnitude), then fine-tuned.
  case lamp
  /// Per-layer sparsities from the rate-distortion dynamic programme, magnitude within layers.
  case rateDistortion = "rate-distortion"
  /// Pruning at initialisation, then training from scratch for the whole budget.
  case snip, grasp, synflow
  /// Baseline: random pruning with the per-layer sparsities global magnitude chose.
  case randomSameLayers = "random-same-layers"
  /// Baseline: random pruning with Erdős–Rényi-Kernel per-layer sparsities.
  case randomERK = "random-erk"
  /// Baseline for pruning at initialisation: random ERK masks on a fresh network, trained
  /// from scratch for the whole budget (Liu et al. 2022).
  case randomERKInit = "random-erk-init"
  /// Structured: remove channels (lowest L2 group norm) until about the same number of
  /// parameters remain, then fine-tune.
  case channels
  /// Baseline: a dense network with fewer channels in every layer and about the same number
  /// of parameters, trained from scratch for the whole budget. It is also the
  /// "train the pruned architecture from scratch" baseline of the channel method
  /// (Liu et al. 2019, "Rethinking the Value of Network Pruning").
  case smallDense = "small-dense"
  /// Baseline of the channel method: exactly the architecture channel pruning leaves,
  /// freshly initialised and trained from scratch for the whole budget (Liu et al. 2019).
  case channelsScratch = "channels-scratch"
  /// N:M learned from scratch with SR-STE (Zhou et al. 2021) for the whole budget, at the
  /// sparsities that are an N:M pattern (50% → 2:4, 75% → 1:4, 87.5% → 1:8).
  case srste
  /// Dynamic sparse training from scratch at fixed sparsity (ERK layer ratios) for the whole
  /// budget: SET (random regrowth, Mocanu et al. 2018) and RigL (gradient regrowth, Evci et
  /// al. 2020). Their static counterpart is `random-erk-init`.
  case set, rigl
  /// One-shot lottery ticket (Frankle & Carbin 2019): global magnitude mask of the trained
  /// dense network on its initial weights, trained for the whole budget.
  case lottery
  /// Baseline of the lottery ticket: the same mask on a fresh random initialisation.
  case lotteryReinit = "lottery-reinit"
  /// Sparse model soup (Zimmer et al. 2024): two copies of the global-magnitude network
  /// fine-tuned with different seeds for the fine-tuning budget each, averaged (batch-norm
  /// statistics recomputed). Each ingredient has the budget; the soup costs twice the compute.
  case soup

  public var isBaseline: Bool {
    [.randomSameLayers, .randomERK, .randomERKInit, .smallDense, .channelsScratch, .lotteryReinit].contains(self)
  }

  /// The baselines this method must beat, most specific first: the report marks a method that
  /// loses to the first of them present at the same sparsity.
  public var baselines: [SweepMethod] {
    switch self {
    case .channels: return [.channelsScratch, .smallDense]
    case .lottery: return [.lotteryReinit, .randomSameLayers]
    case .snip, .grasp, .synflow, .set, .rigl: return [.randomERKInit]
    case _ where isBaseline: return []
    default: return [.randomSameLayers]
    }
  }

  /// Methods that train a fresh (sparse) network from scratch for the whole budget.
  public var prunesAtInitialisation: Bool {
    [.snip, .grasp, .synflow, .randomERKInit, .srste, .set, .rigl, .lottery, .lotteryReinit].contains(self)
  }

  /// The N:M pattern with exactly this sparsity, if there is a common one.
  public static func pattern(for sparsity: Double) -> (n: Int, m: Int)? {
    for (n, m) in [(2, 4), (1, 4), (1, 8), (1, 2), (2, 8), (1, 16)] where abs(1 - Double(n) / Double(m) - sparsity) < 1e-9 {
      return (n, m)
    }
    return nil
  }
}
