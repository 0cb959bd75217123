import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

@Suite struct EntropyCalibrationTests {
  static func fixture() throws -> [String: Tensor] {
    guard let url = Bundle.module.url(forResource: "entropy_calibration", withExtension: "safetensors", subdirectory: "Fixtures") else {
      Issue.record("missing fixture: run Utilities/Reference/make_entropy_calibration_fixture.py")
      throw QuantizationError.malformedPlan(reason: "missing fixture")
    }
    let file = try SafetensorsFile.read(path: url.path)
    #expect(file.metadata["fixture_version"] == "1", "re-run Utilities/Reference/make_entropy_calibration_fixture.py")
    return file.tensors
  }

  /// Histogram, every candidate's divergence and the chosen threshold equal the independent
  /// numpy implementation, for 128 levels (int8 symmetric), 256 (asymmetric int8 over the
  /// one-sided data) and 16 (asymmetric int4). Divergences to 1e-5 relative (the fixture
  /// stores them as Float32).
  @Test func matchesTheNumpyReference() throws {
    let t = try Self.fixture()
    let values = t["values"]!.scalars
    let histogram = AbsoluteHistogram(values)
    #expect(histogram.counts.map(Float.init) == t["histogram"]!.scalars)
    let cases: [(QuantizationScheme, Int, String)] = [
      (.int8(symmetric: true, perChannel: false), 128, ""), (.int8(symmetric: false, perChannel: false), 256, "256"),
      (.integer(bits: 4, symmetric: false, granularity: .perTensor), 16, "16"),
    ]
    for (scheme, levels, suffix) in cases {
      let ours = EntropyCalibration.divergences(histogram.counts, levels: levels), theirs = t["divergences" + suffix]!.scalars
      #expect(ours.count == theirs.count)
      let worst = zip(ours, theirs).map { abs(Float($0) - $1) / max(abs($1), 1e-12) }.max() ?? .infinity
      #expect(worst <= 1e-5, "levels \(levels): relative difference \(worst)")
      let found = try #require(EntropyCalibration.threshold(histogram, levels: levels))
      #expect(Float(found.bins) == t["best" + suffix]!.scalars[0])
      let range = RangeEstimator.entropy.range(of: values[...], scheme: scheme)
      #expect(range.lowerBound == 0 && abs(range.upperBound - t["threshold" + suffix]!.scalars[0]) <= range.upperBound.ulp,
              "\(range) vs \(t["threshold" + suffix]!.scalars[0])")
      // The outliers (8…30) are clipped; min–max would keep them.
      #expect(range.upperBound < 8)
    }
  }

  /// Answers that can be read off the distribution: a flat histogram loses nothing when every
  /// 16 bins become one level, so nothing is clipped (D(2048) = 0); a sloped density on the
  /// first 128 bins with one far outlier is clipped at exactly 128 bins, where every kept bin
  /// is its own level and only the outlier is lost.
  @Test func obviousDistributions() throws {
    var flat = AbsoluteHistogram(bins: 2048)
    flat.add((0..<2048).flatMap { j -> [Float] in [Float](repeating: (Float(j) + 0.5) / 2048, count: 3) })
    let flatResult = try #require(EntropyCalibration.threshold(flat, levels: 128))
    #expect(flatResult.bins == 2048 && EntropyCalibration.divergences(flat.counts, levels: 128).last == 0)
    var sloped: [Float] = (0..<128).flatMap { j in [Float](repeating: (Float(j) + 0.5) / 2048, count: 10 * (128 - j)) }
    sloped.append(1)
    let slopedResult = try #require(EntropyCalibration.threshold(AbsoluteHistogram(sloped), levels: 128))
    #expect(slopedResult.bins == 128 && abs(slopedResult.threshold - 128.0 / 2048) < 1e-12)
    let range = RangeEstimator.entropy.range(of: (sloped.map { -$0 } + sloped)[...], scheme: .int8(symmetric: true, perChannel: false))
    #expect(abs(range.upperBound - 0.0625) < 1e-7 && range.lowerBound == -range.upperBound)
  }

  /// Calibration over batches: a later, wider batch merges bins in pairs (exact), so the
  /// histogram equals binning every value at the final width (values binned earlier at their
  /// own width, so the first batch's maximum stays in the top bin of that width, merged down);
  /// the observer uses it.
  @Test func histogramGrowsExactlyOverBatches() throws {
    let first = randomTensor([1000], seed: 3, in: 0...1).scalars, second = randomTensor([1000], seed: 4, in: -3...3).scalars
    var histogram = AbsoluteHistogram(first, bins: 64)
    let firstWidth = histogram.width
    histogram.add(second)
    #expect(histogram.width == 4 * firstWidth && histogram.total == 2000)
    var expected = [Double](repeating: 0, count: 64)
    for v in first { expected[min(Int(Double(abs(v)) / firstWidth), 63) / 4] += 1 }
    for v in second { expected[min(Int(Double(abs(v)) / histogram.width), 63)] += 1 }
    #expect(histogram.counts == expected)
    let observer = ActivationObserver()
    observer.observe(Tensor(first))
    observer.observe(Tensor(second))
    let scheme = QuantizationScheme.int8(symmetric: false, perChannel: false)
    let range = try #require(observer.range(.entropy, scheme: scheme))
    let threshold = try #require(EntropyCalibration.threshold(observer.histogram, levels: 128)).threshold
    #expect(range == Float(-threshold)...Float(threshold))
    #expect(RangeEstimator(parsing: "entropy") == .entropy && RangeEstimator(parsing: "kl") == .entropy)
  }

  /// PTQ with entropy-calibrated activation ranges: every range inside the min–max one.
  @Test func postTrainingQuantizationWithEntropyRanges() throws {
    let batch = randomTensor([4, 1, 28, 28], seed: 12)
    func calibrated(_ estimator: RangeEstimator) throws -> [ClosedRange<Float>] {
      let model = quantizationTestLeNet()
      let plan = QuantizationPlan.uniform(.int8(), activations: .int8(symmetric: false, perChannel: false), model: model)
      let layers = try PostTrainingQuantizer(plan: plan, activationRanges: estimator).apply(to: model, calibration: [batch])
      #expect(model(batch).shape == [4, 10])
      return layers.compactMap { if case .fixed(_, let range) = $0.activation { return range } else { return nil } }
    }
    let entropy = try calibrated(.entropy), minMax = try calibrated(.minMax)
    #expect(entropy.count == 5 && minMax.count == 5)
    for (e, m) in zip(entropy, minMax) {
      let limit = max(abs(m.lowerBound), abs(m.upperBound))
      #expect(e.upperBound > 0 && e.upperBound <= limit && e.lowerBound >= -limit, "\(e) vs min–max \(m)")
    }
  }
}
