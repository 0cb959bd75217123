import Foundation
import WinnowCore
import WinnowNN

/// The PQ Index, a measure of how compressible (how sparse) a weight vector is (Diao et al.
/// 2023, "Pruning Deep Neural Networks from a Sparsity Perspective"):
///
///     PQI_{p,q}(w) = 1 − d^(1/q − 1/p) · ‖w‖_p / ‖w‖_q,     0 < p < q
///
/// over the d surviving (unmasked) weights. Winnow's defaults are the paper's and its code's,
/// p = 0.5 and q = 1. Properties (by Hölder's inequality):
///
/// - 0 ≤ PQI ≤ 1 − d^(1/q − 1/p); the larger, the sparser (more compressible) w is;
/// - PQI = 0 exactly when all |wᵢ| are equal (nothing stands out to be kept);
/// - PQI = 1 − d^(1/q − 1/p), the maximum, for a one-hot vector;
/// - PQI(c·w) = PQI(w) for any c ≠ 0 (scale invariance), and it ignores signs and order.
///
/// With p = 0.5, q = 1: PQI = 1 − (Σ√|wᵢ|)² / (d·Σ|wᵢ|). The paper observes that during
/// iterative pruning PQI first falls (the network is being usefully regularised), then rises
/// when compressibility reaches its limit, and falls again as the model collapses.
///
/// A vector with no surviving or no non-zero weight has PQI 0 by convention (nothing to prune).
public enum PQIndex {
  /// PQI of `tensor`'s elements, or of those where `mask` is non-zero (then d is their count).
  ///
  /// - Throws: `.malformedPlan` unless 0 < p < q < ∞; `.maskShapeMismatch` for a mask of
  ///   another shape.
  public static func of(_ tensor: Tensor, p: Double = 0.5, q: Double = 1, mask: Tensor? = nil) throws(PruningError) -> Double {
    try requireNorms(p: p, q: q)
    if let mask, mask.shape != tensor.shape {
      throw .maskShapeMismatch(layer: "(PQ Index)", expected: tensor.shape, actual: mask.shape)
    }
    return value(survivors(tensor, mask: mask), p: p, q: q)
  }

  /// PQI of every layer `names` (default: all weights of rank ≥ 2) over its surviving
  /// weights, and of all of them together (the global PQI).
  public static func report(for model: Layer, names: [String]? = nil, p: Double = 0.5, q: Double = 1) throws(PruningError) -> PQIndexReport {
    let names = names ?? prunableParameters(of: model).map(\.name)
    try requireParameters(names, of: model)
    try requireNorms(p: p, q: q)
    var byName: [String: (count: Int, live: [Float])] = [:]
    model.visitParameters { name, param in
      byName[name] = (param.value.count, survivors(param.effective.detached, mask: param.mask))
    }
    let entries = names.map { name in
      let (count, live) = byName[name]!
      return PQIndexReport.Entry(name: name, count: count, remaining: live.count, pqIndex: value(live, p: p, q: q))
    }
    let global = value(names.flatMap { byName[$0]!.live }, p: p, q: q)
    return PQIndexReport(p: p, q: q, entries: entries, global: global)
  }

  /// 1 − d^(1/q − 1/p)·‖w‖_p/‖w‖_q in Double, after dividing by max|w| (PQI is scale
  /// invariant; this keeps |w|^p and |w|^q in range), in the log domain.
  static func value(_ w: [Float], p: Double, q: Double) -> Double {
    let largest = w.reduce(0) { max($0, abs(Double($1))) }
    guard !w.isEmpty, largest > 0 else { return 0 }
    var sumP = 0.0, sumQ = 0.0
    for v in w {
      let x = abs(Double(v)) / largest
      sumP += pow(x, p)
      sumQ += pow(x, q)
    }
    let logRatio = (1 / q - 1 / p) * log(Double(w.count)) + log(sumP) / p - log(sumQ) / q
    return max(0, 1 - exp(logRatio))
  }

  static func requireNorms(p: Double, q: Double) throws(PruningError) {
    guard p > 0, q > p, q.isFinite else {
      throw .malformedPlan(reason: "PQ Index needs 0 < p < q < ∞, got p = \(p), q = \(q)")
    }
  }

  /// The elements of `tensor` where `mask` is non-zero (all without a mask).
  static func survivors(_ tensor: Tensor, mask: Tensor?) -> [Float] {
    guard let mask else { return tensor.scalars }
    return zip(tensor.scalars, mask.scalars).compactMap { $1 != 0 ? $0 : nil }
  }
}

/// PQ Index per layer and over all layers together.
public struct PQIndexReport: Sendable, Equatable, CustomStringConvertible {
  public struct Entry: Sendable, Equatable {
    public var name: String
    /// All weights of the layer.
    public var count: Int
    /// Surviving (unmasked) weights: the d of the formula.
    public var remaining: Int
    public var pqIndex: Double
  }

  public var p: Double
  public var q: Double
  public var entries: [Entry]
  /// PQI of the surviving weights of all layers concatenated.
  public var global: Double

  public var description: String {
    let width = min(entries.map(\.name.count).max() ?? 5, 48)
    var lines = ["layer".padding(toLength: width, withPad: " ", startingAt: 0) + "   remaining        PQI (p = \(p), q = \(q))"]
    for e in entries {
      let remaining = "\(e.remaining)/\(e.count)".padding(toLength: 16, withPad: " ", startingAt: 0)
      lines.append(e.name.padding(toLength: width, withPad: " ", startingAt: 0) + "   \(remaining) \(String(format: "%.4f", e.pqIndex))")
    }
    lines.append("global PQI: \(String(format: "%.4f", global))")
    return lines.joined(separator: "\n")
  }
}
