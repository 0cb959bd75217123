import WinnowCore

/// How a quantization range is chosen from observed values (survey of Gholami et al., §III-C).
///
/// - `minMax`: the extremes; nothing is clipped, but one outlier stretches the step for all.
/// - `percentile(p)`: the `(100 − p)`-th and `p`-th percentiles (e.g. 99.99); outliers clip.
/// - `mse`: the range `r·[min, max]` for the `r ∈ {1, 0.98, …, 0.2}` that minimises
///   `Σ (x − fq(x))²` under the scheme itself — clipping traded against rounding error.
/// - `entropy`: the clipping threshold `T` of the 2048-bin histogram of `|x|` that minimises
///   the KL divergence between the clipped distribution and its quantized version
///   (``EntropyCalibration``, TensorRT's calibrator); the range is `[−T, T]`, or `[0, T]`
///   when no value is negative (`[−T, 0]` when none is positive).
public enum RangeEstimator: Hashable, Sendable, CustomStringConvertible {
  case minMax
  case percentile(Double)
  case mse
  case entropy

  public var description: String {
    switch self {
    case .minMax: return "minmax"
    case .percentile(let p): return "percentile:\(p)"
    case .mse: return "mse"
    case .entropy: return "entropy"
    }
  }

  /// Parses `minmax`, `percentile:99.99`, `mse`, `entropy` (or `kl`).
  public init?(parsing text: String) {
    switch text.lowercased() {
    case "minmax", "min-max": self = .minMax
    case "mse": self = .mse
    case "entropy", "kl": self = .entropy
    case let t where t.hasPrefix("percentile:"):
      guard let p = Double(t.dropFirst(11)), p > 50, p <= 100 else { return nil }
      self = .percentile(p)
    default: return nil
    }
  }

  /// The range for `values` under `scheme`. Empty input gives `0...0`.
  public func range(of values: ArraySlice<Float>, scheme: QuantizationScheme) -> ClosedRange<Float> {
    let full = QuantizationScheme.minMax(values)
    switch self {
    case .minMax: return full
    case .percentile(let p):
      let sorted = values.filter(\.isFinite).sorted()
      guard !sorted.isEmpty else { return 0...0 }
      func quantile(_ q: Double) -> Float { sorted[Int((q * Double(sorted.count - 1)).rounded())] }
      return quantile(1 - p / 100)...quantile(p / 100)
    case .mse:
      var best = full, bestError = Double.infinity
      for step in 0...40 {
        let r = 1 - Float(step) * 0.02
        let candidate = (full.lowerBound * r)...(full.upperBound * r)
        let error = Self.squaredError(values, scheme: scheme, range: candidate)
        if error < bestError { (best, bestError) = (candidate, error) }
      }
      return best
    case .entropy:
      return Self.entropyRange(AbsoluteHistogram(values), full: full, scheme: scheme)
    }
  }

  /// `[−T, T]` (one-sided when the data is) for the KL-optimal threshold `T` of `histogram`.
  static func entropyRange(_ histogram: AbsoluteHistogram, full: ClosedRange<Float>, scheme: QuantizationScheme) -> ClosedRange<Float> {
    let oneSided = full.lowerBound >= 0 || full.upperBound <= 0
    guard let found = EntropyCalibration.threshold(histogram, levels: entropyLevels(scheme, oneSided: oneSided)) else {
      return full
    }
    let t = Float(found.threshold)
    return (full.lowerBound < 0 ? -t : 0)...(full.upperBound > 0 ? t : 0)
  }

  /// Codes on one side of zero: `2^(b−1)` for integers (`2^b` when an asymmetric scheme spends
  /// all its codes on one-sided data, e.g. after a ReLU); FP8 and binary are treated as 8-bit
  /// (their grid is not uniform, so the divergence is an approximation there).
  static func entropyLevels(_ scheme: QuantizationScheme, oneSided: Bool) -> Int {
    guard case .integer(let bits, let symmetric, _) = scheme else { return 128 }
    return oneSided && !symmetric ? 1 << bits : 1 << (bits - 1)
  }

  /// One range per block of `x` for `scheme` (blocks as in ``QuantizedTensor``).
  public func blockRanges(of x: Tensor, scheme: QuantizationScheme, layer: String) throws(QuantizationError) -> [ClosedRange<Float>] {
    let blockSize = try scheme.blockSize(for: x.shape, layer: layer)
    let values = x.scalars
    return stride(from: 0, to: values.count, by: blockSize).map { start in
      range(of: values[start..<start + blockSize], scheme: scheme)
    }
  }

  /// `Σ (x − fq(x))²` of `values` quantized with `scheme` over `range` (what `mse` minimises).
  public static func squaredError(_ values: ArraySlice<Float>, scheme: QuantizationScheme, range: ClosedRange<Float>) -> Double {
    let (s, z) = scheme.parameters(for: range, block: values)
    var sum = 0.0
    for v in values {
      let code = scheme.code(v, scale: s, zeroPoint: z)
      let back: Float
      if case .fp8(let format) = scheme { back = format.decode(UInt8(bitPattern: code)) * s } else { back = Float(Int32(code) - z) * s }
      sum += Double((v - back) * (v - back))
    }
    return sum
  }
}

/// Collects what calibration needs from the activations flowing into one layer: the exact
/// minimum and maximum, an evenly strided sample (at most 32,768 values per batch) for
/// percentiles and MSE search, and the histogram of every `|x|` for entropy calibration.
public final class ActivationObserver {
  public private(set) var minimum = Float.infinity
  public private(set) var maximum = -Float.infinity
  public private(set) var samples: [Float] = []
  public private(set) var histogram = AbsoluteHistogram()
  public private(set) var batches = 0

  public init() {}

  public func observe(_ x: Tensor) {
    let values = x.scalars
    let stride = Swift.max(1, values.count / 32_768)
    for (i, v) in values.enumerated() where v.isFinite {
      minimum = Swift.min(minimum, v)
      maximum = Swift.max(maximum, v)
      if i % stride == 0 { samples.append(v) }
    }
    histogram.add(values)
    batches += 1
  }

  /// The calibrated range; min–max uses the exact extremes, entropy the histogram of all
  /// values, percentile and MSE the sample.
  public func range(_ estimator: RangeEstimator, scheme: QuantizationScheme) -> ClosedRange<Float>? {
    guard batches > 0, minimum <= maximum else { return nil }
    switch estimator {
    case .minMax: return minimum...maximum
    case .entropy: return RangeEstimator.entropyRange(histogram, full: minimum...maximum, scheme: scheme)
    case .percentile, .mse: return estimator.range(of: samples[...], scheme: scheme)
    }
  }
}
