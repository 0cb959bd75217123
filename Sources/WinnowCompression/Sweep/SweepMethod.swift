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

  public var isBaseline: Bool { [.randomSameLayers, .randomERK, .randomERKInit, .smallDense].contains(self) }

  /// Methods that prune a fresh network and train it from scratch.
  public var prunesAtInitialisation: Bool { [.snip, .grasp, .synflow, .randomERKInit].contains(self) }

  /// The N:M pattern with exactly this sparsity, if there is a common one.
  public static func pattern(for sparsity: Double) -> (n: Int, m: Int)? {
    for (n, m) in [(2, 4), (1, 4), (1, 8), (1, 2), (2, 8), (1, 16)] where abs(1 - Double(n) / Double(m) - sparsity) < 1e-9 {
      return (n, m)
    }
    return nil
  }
}
