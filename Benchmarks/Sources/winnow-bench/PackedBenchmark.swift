import Winnow
import WinnowKernels
#if canImport(Accelerate)
import Accelerate
#else
import CRawBLAS
#endif

/// Packed weight formats (`PackedLinearWeights`) against raw dense BLAS on the same shape,
/// `Y[M×N] = X[M×K]·Wᵀ + bias`, all candidates alternating sample by sample in one process.
/// Rates are dense-equivalent, `2·M·N·K / t`; speed-up = dense time / candidate time.
enum PackedBenchmark {
  struct Shape {
    var name: String, m: Int, k: Int, n: Int
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  /// MiniLM-L6 projections at 128 tokens.
  static let miniLM = [
    Shape(name: "MiniLM FFN up", m: 128, k: 384, n: 1536),
    Shape(name: "MiniLM FFN down", m: 128, k: 1536, n: 384),
    Shape(name: "MiniLM attention proj", m: 128, k: 384, n: 384),
  ]
  static let large = [
    Shape(name: "4096² GEMV", m: 1, k: 4096, n: 4096),
    Shape(name: "4096² batch 128", m: 128, k: 4096, n: 4096),
  ]
  /// LeNet-5 layers as GEMMs for 8 images: the convolutions through im2col (M = images·Ho·Wo,
  /// K = Cin·5·5, N = Cout), then the first linear layer at batch 128.
  static let leNet = [
    Shape(name: "LeNet conv1 (im2col, 8 images)", m: 8 * 784, k: 25, n: 6),
    Shape(name: "LeNet conv2 (im2col, 8 images)", m: 8 * 100, k: 150, n: 16),
    Shape(name: "LeNet fc1", m: 128, k: 400, n: 120),
  ]
  /// ResNet-8 (`Models.resnet(depth: 8)`, width 16, 28×28 inputs) convolutions for 8 images
  /// through im2col: one 3×3 convolution of each stage (28², 14², 7² outputs per image) and the
  /// 1×1 projection shortcut into the last stage (a plain sparse matrix product).
  static let resNet = [
    Shape(name: "ResNet-8 conv 3×3 16→16 (im2col, 8 images)", m: 8 * 784, k: 144, n: 16),
    Shape(name: "ResNet-8 conv 3×3 32→32 (im2col, 8 images)", m: 8 * 196, k: 288, n: 32),
    Shape(name: "ResNet-8 conv 3×3 64→64 (im2col, 8 images)", m: 8 * 49, k: 576, n: 64),
    Shape(name: "ResNet-8 shortcut 1×1 32→64 (8 images)", m: 8 * 49, k: 32, n: 64),
  ]
  /// Every shape of the issue: MiniLM, 4096² at M = 1 and 128, LeNet and ResNet layers.
  static var all: [Shape] { miniLM + large + leNet + resNet }

  /// `--shapes TEXT`: only shapes whose name contains TEXT.
  nonisolated(unsafe) static var shapeFilter: String?
  static func selected(_ shapes: [Shape]) -> [Shape] {
    guard let filter = shapeFilter?.lowercased() else { return shapes }
    return shapes.filter { $0.name.lowercased().contains(filter) }
  }

  /// A candidate: label and weights (run on the default, i.e. native, path).
  typealias Candidate = (label: String, weights: any PackedLinearWeights)

  /// Times dense BLAS and each candidate at `threads`; returns dense timing then candidates'.
  static func measure(
    _ shape: Shape, dense: [Float], candidates: [Candidate], threads t: Int, sampler: QuietSampler,
    x: [Float], bias: [Float]
  ) -> [Timing] {
    setThreads(t)
    var y = [Float](repeating: 0, count: shape.m * shape.n)
    let denseRun = {
      BLASThreads.set(t)
      defer { BLASThreads.set(1) }
      SpMMBenchmark.denseLinear(dense, x: x, bias: bias, y: &y, m: shape.m, n: shape.n, k: shape.k)
    }
    let runs: [() -> Void] = [denseRun] + candidates.map { candidate in
      { candidate.weights.multiply(x, m: shape.m, bias: bias, activation: .none, into: &y) }
    }
    return sampler.measure(runs)
  }

  /// One row per candidate: `| shape | M | K | N | threads | format | kernel | ms | dense ms |
  /// GFLOP/s | dense GFLOP/s | speed-up | error | samples |`.
  static func printHeader() {
    say("| shape | M | K | N | threads | format | kernel | ms | dense ms | GFLOP/s | dense GFLOP/s | speed-up | max rel. error vs fp32 | samples |")
    say("|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
  }

  static func run(
    _ shape: Shape, dense: [Float], candidates: [Candidate], threads: [Int], sampler: QuietSampler
  ) {
    var random = SplitMix(seed: UInt64(shape.m * 31 + shape.k * 7 + shape.n))
    let x = (0..<shape.m * shape.k).map { _ in random.nextFloat() }
    let bias = (0..<shape.n).map { _ in random.nextFloat() }
    let errors = candidates.map { relativeError($0.weights, dense: dense, shape: shape, x: x, bias: bias) }
    for t in threads {
      let timings = measure(shape, dense: dense, candidates: candidates, threads: t, sampler: sampler, x: x, bias: bias)
      let d = timings[0].median
      for (i, candidate) in candidates.enumerated() {
        let c = timings[i + 1].median
        say("| \(shape.name) | \(shape.m) | \(shape.k) | \(shape.n) | \(t) | \(candidate.label) | "
            + "`\(candidate.weights.kernelName)` | \(format(c * 1e3, 3)) | \(format(d * 1e3, 3)) | "
            + "\(format(shape.flops / c / 1e9, 1)) | \(format(shape.flops / d / 1e9, 1)) | **\(format(d / c, 2))** | "
            + "\(format(errors[i], 4)) | \(timings[0].quality); \(timings[i + 1].quality) |")
      }
    }
  }

  /// max |y − y_fp32| / max |y_fp32| against dense BLAS with the original weights (the
  /// quantisation error for integer formats; ~1e-6 for exact formats).
  static func relativeError(
    _ w: any PackedLinearWeights, dense: [Float], shape: Shape, x: [Float], bias: [Float]
  ) -> Double {
    setThreads(1)
    var expected = [Float](repeating: 0, count: shape.m * shape.n), got = expected
    SpMMBenchmark.denseLinear(dense, x: x, bias: bias, y: &expected, m: shape.m, n: shape.n, k: shape.k)
    w.multiply(x, m: shape.m, bias: bias, activation: .none, into: &got)
    let scale = expected.map { abs(Double($0)) }.max() ?? 1
    return zip(expected, got).map { abs(Double($0) - Double($1)) }.max().map { $0 / max(scale, 1e-30) } ?? 0
  }
}
