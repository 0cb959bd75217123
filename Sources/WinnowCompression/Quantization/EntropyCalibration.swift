import Foundation

/// A histogram of `|x|` with `bins` equal bins from 0: bin `j` counts `j·w ≤ |x| < (j+1)·w`
/// (the last bin also takes everything above). It grows with the data: when a value beyond
/// `bins·w` arrives, neighbouring bins are merged in pairs and `w` doubles, which is exact
/// because the new edges are a subset of the old ones — so one histogram can take any number
/// of calibration batches without a first pass for the maximum and without sampling.
///
///     width 0.5, counts [3, 1, 0, 2]  + a value 3.1  →  width 1, counts [4, 2, 0, 0] + 1 in bin 3
public struct AbsoluteHistogram: Sendable, Equatable {
  public private(set) var counts: [Double]
  /// Bin width `w`; 0 until a non-zero value has been seen (zeros then sit in bin 0).
  public private(set) var width: Double
  /// `1/w`, kept as `bins / max` (not `1 / w`) so binning rounds like the reference script.
  private var inverseWidth: Double

  public init(bins: Int = 2048) {
    precondition(bins >= 2 && bins % 2 == 0, "the histogram needs an even number of bins, got \(bins)")
    counts = [Double](repeating: 0, count: bins)
    width = 0
    inverseWidth = 0
  }

  /// The histogram of `values` over `[0, max|x|]` (width `max|x| / bins`).
  public init<Values: Sequence>(_ values: Values, bins: Int = 2048) where Values.Element == Float {
    self.init(bins: bins)
    add(values)
  }

  public var bins: Int { counts.count }
  public var total: Double { counts.reduce(0, +) }

  /// Adds the finite values of `values` (non-finite ones are skipped, as in min–max).
  public mutating func add<Values: Sequence>(_ values: Values) where Values.Element == Float {
    var largest: Float = 0
    for v in values where v.isFinite { largest = Swift.max(largest, abs(v)) }
    if width == 0, largest > 0 { (width, inverseWidth) = (Double(largest) / Double(bins), Double(bins) / Double(largest)) }
    // The slack keeps the maximum that set the width (at `bins` within an ulp) from merging.
    while width > 0, Double(largest) * inverseWidth > Double(bins) * (1 + 1e-9) { mergePairs() }
    let scale = inverseWidth
    counts.withUnsafeMutableBufferPointer { c in
      for v in values where v.isFinite {
        c[Swift.min(Int(Double(abs(v)) * scale), c.count - 1)] += 1
      }
    }
  }

  private mutating func mergePairs() {
    let half = bins / 2
    for j in 0..<half { counts[j] = counts[2 * j] + counts[2 * j + 1] }
    for j in half..<bins { counts[j] = 0 }
    width *= 2
    inverseWidth /= 2
  }
}

/// Entropy (KL-divergence) calibration of a clipping threshold (Migacz, "8-bit Inference with
/// TensorRT", GTC 2017): the threshold whose quantized, clipped distribution loses the least
/// information about the observed one.
///
/// For every candidate `i = i₀ … bins` (clip after bin `i`), `i₀ = max(levels, bins/16)`:
///
///     P = H[0..<i], with P[i−1] += Σ_{j≥i} H[j]          the reference, outliers clipped
///     Q: H[0..<i] merged into `levels` groups of ⌊i/levels⌋ bins (the last takes the rest),
///        each group's count spread evenly over its non-empty bins (empty bins stay 0)
///     D(i) = KL(P ‖ Q) = Σ p·log(p/q)  over normalised, smoothed P and Q
///
/// and the threshold is the upper edge `i*·w` of the best candidate. Smoothing (as in MXNet's
/// calibration): every empty bin gets `ε = 1e-4` counts, taken evenly from the non-empty ones,
/// so that a clipped spike where `H` is empty gives a large but finite divergence. Ties go to
/// the smallest `i`. `levels` is the number of codes on one side: 128 for int8 (|x| ↦ 0…127),
/// 256 for an asymmetric int8 range over non-negative data. The first candidate is TensorRT's
/// 128 of 2048 bins (1/16 of the observed range) also for fewer levels: at `i = levels` every
/// kept bin is its own level, so `Q = P` but for the clipped spike, and with 8 levels (int4)
/// that degenerate candidate clips 99.6% of the range (LeNet-5 PTQ fell to 10%). Cost:
/// `O(bins²)` per tensor.
public enum EntropyCalibration {
  /// The first candidate number of kept bins, `max(levels, bins/16)`.
  public static func firstCandidate(bins: Int, levels: Int) -> Int { Swift.max(levels, bins / 16) }

  /// `D(i)` for `i = firstCandidate…bins` (index 0 is the first candidate).
  public static func divergences(_ histogram: [Double], levels: Int) -> [Double] {
    let bins = histogram.count
    precondition(levels >= 1 && levels <= bins, "\(levels) levels need at least as many bins, got \(bins)")
    var suffix = [Double](repeating: 0, count: bins + 1)
    for j in stride(from: bins - 1, through: 0, by: -1) { suffix[j] = suffix[j + 1] + histogram[j] }
    return (firstCandidate(bins: bins, levels: levels)...bins).map { i in
      var p = Array(histogram[0..<i])
      p[i - 1] += suffix[i]
      return klDivergence(smoothed(p), smoothed(expanded(histogram[0..<i], levels: levels)))
    }
  }

  /// The best number of kept bins `i*` and the threshold `i*·width`; nil for an empty histogram.
  public static func threshold(_ histogram: AbsoluteHistogram, levels: Int) -> (bins: Int, threshold: Double)? {
    guard histogram.total > 0, histogram.width > 0 else { return nil }
    let levels = Swift.min(levels, histogram.bins)
    let d = divergences(histogram.counts, levels: levels)
    var best = 0
    for (index, value) in d.enumerated() where value < d[best] { best = index }
    let kept = firstCandidate(bins: histogram.bins, levels: levels) + best
    return (kept, Double(kept) * histogram.width)
  }

  /// `Q`: the kept bins quantized to `levels` groups and expanded back to one value per bin.
  static func expanded(_ kept: ArraySlice<Double>, levels: Int) -> [Double] {
    let i = kept.count, merged = i / levels
    var q = [Double](repeating: 0, count: i)
    for group in 0..<levels {
      let start = kept.startIndex + group * merged
      let stop = group == levels - 1 ? kept.endIndex : start + merged
      let bins = kept[start..<stop]
      let nonEmpty = bins.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
      guard nonEmpty > 0 else { continue }
      let share = bins.reduce(0, +) / Double(nonEmpty)
      for j in start..<stop where kept[j] != 0 { q[j - kept.startIndex] = share }
    }
    return q
  }

  /// Empty bins get `ε`; the non-empty ones give up `ε·empty/nonEmpty` each (total unchanged).
  static func smoothed(_ counts: [Double], epsilon: Double = 1e-4) -> [Double] {
    let empty = counts.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
    let nonEmpty = counts.count - empty
    guard empty > 0, nonEmpty > 0 else { return counts }
    let taken = epsilon * Double(empty) / Double(nonEmpty)
    return counts.map { $0 == 0 ? epsilon : $0 - taken }
  }

  /// `Σ p·log(p/q)` of the normalised `p` and `q` (terms with `p = 0` contribute 0).
  static func klDivergence(_ p: [Double], _ q: [Double]) -> Double {
    let sp = p.reduce(0, +), sq = q.reduce(0, +)
    var sum = 0.0
    for (a, b) in zip(p, q) where a > 0 {
      let pn = a / sp, qn = b / sq
      sum += qn > 0 ? pn * Foundation.log(pn / qn) : .infinity
    }
    return sum
  }
}
