import Winnow
import WinnowKernels
#if canImport(Accelerate)
import Accelerate
#else
import CRawBLAS
#endif

/// Sparse linear layer `Y[M×N] = X[M×K]·Wᵀ + bias` with CSR and BSR weights against dense
/// raw BLAS on the same shape, measured alternately in the same run.
///
/// Dense baseline: `cblas_sgemm` (X·Wᵀ, W stored N×K), or `cblas_sgemv` at M = 1 (what the
/// library itself calls there; sgemm is ~7× slower for one row). Rates are dense-equivalent,
/// `2·M·N·K / t`, so a sparse kernel beats dense exactly when its rate is higher.
enum SpMMBenchmark {
  static var shapes: [PackedBenchmark.Shape] { PackedBenchmark.all }
  static let sparsities = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
  /// BSR block shapes (rows × columns): 1×4 shares an index over 4 inputs, 4×1 and 8×1 share
  /// each activation load over 4 or 8 output rows.
  static let blockShapes = [(1, 4), (4, 1), (8, 1)]

  static func run(threads: [Int], sampler: QuietSampler) {
    say("## SpMM: sparse weights × dense activations vs dense BLAS (Y[M×N] = X[M×K]·Wᵀ + bias)\n")
    say("CSR: unstructured random sparsity; `simd8` = portable Swift kernel, `avx512` = C kernel. "
        + "BSR r×c: random r×c blocks (AVX-512 kernel). Speed-up = dense time / sparse time "
        + "(dense-equivalent GFLOP/s = 2·M·N·K / t).\n")
    let blocks = blockShapes.map { "BSR \($0.0)×\($0.1)" }
    say("| shape | M | K | N | thr | sparsity | dense ms | CSR simd8 ms | CSR avx512 ms | "
        + blocks.map { "\($0) ms" }.joined(separator: " | ") + " | dense GFLOP/s | CSR avx512 GFLOP/s | "
        + "CSR simd8 ×| CSR avx512 × | " + blocks.map { "\($0) ×" }.joined(separator: " | ") + " | samples |")
    say("|---|---:|---:|---:|---:|---:|" + String(repeating: "---:|", count: 6 + 2 * blocks.count) + "---|")
    var crossovers: [String] = []
    for shape in PackedBenchmark.selected(shapes) {
      for t in threads {
        let crossover = runShape(shape, threads: t, sampler: sampler)
        crossovers.append("\(shape.name) (M=\(shape.m)), \(t) thread(s): " + crossover)
      }
    }
    say("\nCrossover (lowest measured sparsity where the format is faster than dense):\n")
    for line in crossovers { say("- \(line)") }
    say("")
  }

  /// Measures one shape at one thread count over all sparsities; returns the crossovers.
  static func runShape(_ shape: PackedBenchmark.Shape, threads t: Int, sampler: QuietSampler) -> String {
    setThreads(t)
    let (m, k, n) = (shape.m, shape.k, shape.n)
    var random = SplitMix(seed: UInt64(m * 31 + k * 7 + n))
    let x = (0..<m * k).map { _ in random.nextFloat() }
    let bias = (0..<n).map { _ in random.nextFloat() }
    var y = [Float](repeating: 0, count: m * n)
    var crossover = [String: Double]()
    for sparsity in sparsities {
      let unstructured = (0..<n * k).map { _ in random.nextUnit() < sparsity ? 0 : random.nextFloat() }
      let csr = CSRMatrix(dense: unstructured, rows: n, columns: k)
      let bsrs = blockShapes.map { (r, c) in
        BSRMatrix(dense: blockedWeights(n: n, k: k, sparsity: sparsity, blockRows: r, blockColumns: c, using: &random),
                  rows: n, columns: k, blockRows: r, blockColumns: c)
      }
      // Raw BLAS threads itself (`setThreads` leaves BLAS at 1 thread for the library).
      let dense = {
        BLASThreads.set(t)
        defer { BLASThreads.set(1) }
        denseLinear(unstructured, x: x, bias: bias, y: &y, m: m, n: n, k: k)
      }
      func run(_ w: any PackedLinearWeights, _ path: KernelPath) -> () -> Void {
        { w.multiply(x, m: m, bias: bias, activation: .none, into: &y, path: path) }
      }
      let check = agreement(csr: csr, unstructured: unstructured, x: x, bias: bias, m: m)
      let candidates = [run(csr, .portable), run(csr, .native)] + bsrs.map { run($0, .native) }
      let timings = sampler.measure([dense] + candidates)
      let d = timings[0].median
      let names = ["CSR simd8", "CSR avx512"] + bsrs.map { "BSR \($0.blockRows)×\($0.blockColumns)" }
      for (name, timing) in zip(names, timings.dropFirst()) where crossover[name] == nil && timing.median < d {
        crossover[name] = sparsity
      }
      let ms = timings.map { format($0.median * 1e3, 3) }.joined(separator: " | ")
      let speedups = timings.dropFirst().map { format(d / $0.median, 2) }.joined(separator: " | ")
      say("| \(shape.name) | \(m) | \(k) | \(n) | \(t) | \(percent(sparsity)) | \(ms) | "
          + "\(format(shape.flops / d / 1e9, 1)) | \(format(shape.flops / timings[2].median / 1e9, 1)) | \(speedups) | "
          + timings.map(\.quality).joined(separator: "; ") + "\(check) |")
    }
    let names = ["CSR simd8", "CSR avx512"] + blockShapes.map { "BSR \($0.0)×\($0.1)" }
    return names.map { "\($0) \(crossover[$0].map { percent($0) } ?? "never (≤ 98 %)")" }.joined(separator: ", ")
  }

  /// `n×k` weights where each `blockRows × blockColumns` block is kept (all values non-zero)
  /// with probability `1 − sparsity`.
  static func blockedWeights(
    n: Int, k: Int, sparsity: Double, blockRows: Int, blockColumns: Int, using random: inout SplitMix
  ) -> [Float] {
    var w = [Float](repeating: 0, count: n * k)
    for r in stride(from: 0, to: n, by: blockRows) {
      for c in stride(from: 0, to: k, by: blockColumns) where random.nextUnit() >= sparsity {
        for i in r..<min(n, r + blockRows) { for j in c..<min(k, c + blockColumns) { w[i * k + j] = random.nextFloat() } }
      }
    }
    return w
  }

  /// Dense `Y = X·Wᵀ + bias` on raw BLAS: bias broadcast into Y, then accumulate (beta = 1).
  static func denseLinear(_ w: [Float], x: [Float], bias: [Float], y: inout [Float], m: Int, n: Int, k: Int) {
    for i in 0..<m { for j in 0..<n { y[i * n + j] = bias[j] } }
    if m == 1 {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w, Int32(k), x, 1, 1, &y, 1)
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, x, Int32(k),
                  w, Int32(k), 1, &y, Int32(n))
    }
  }

  /// Empty when the CSR kernel agrees with dense BLAS to 1e-3 relative; else a warning.
  static func agreement(csr: CSRMatrix, unstructured: [Float], x: [Float], bias: [Float], m: Int) -> String {
    var expected = [Float](repeating: 0, count: m * csr.rows), got = expected
    denseLinear(unstructured, x: x, bias: bias, y: &expected, m: m, n: csr.rows, k: csr.columns)
    csr.multiply(x, m: m, bias: bias, activation: .none, into: &got)
    let worst = zip(expected, got).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
    return worst <= 1e-3 ? "" : " MISMATCH \(worst)"
  }

  static func percent(_ s: Double) -> String { "\(Int((s * 100).rounded())) %" }
}

/// SplitMix64: a small, fast, seedable generator for benchmark data.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [0, 1).
  mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
  /// Uniform in [-1, 1), never exactly 0.
  mutating func nextFloat() -> Float {
    let v = Float(next() >> 40) * 0x1p-23 - 1
    return v == 0 ? 0.5 : v
  }
}
