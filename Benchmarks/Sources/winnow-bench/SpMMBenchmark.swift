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
  struct Shape {
    var name: String, m: Int, k: Int, n: Int
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  static let shapes = [
    Shape(name: "MiniLM FFN up", m: 128, k: 384, n: 1536),
    Shape(name: "MiniLM FFN down", m: 128, k: 1536, n: 384),
    Shape(name: "MiniLM attention proj", m: 128, k: 384, n: 384),
    Shape(name: "4096² GEMV", m: 1, k: 4096, n: 4096),
    Shape(name: "4096² batch 128", m: 128, k: 4096, n: 4096),
  ]
  static let sparsities = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
  /// BSR blocks: 1 output row × 4 consecutive inputs, so one index serves 4 weights.
  static let blockRows = 1, blockColumns = 4

  static func run(threads: [Int], sampler: QuietSampler) {
    say("## SpMM: sparse weights × dense activations vs dense BLAS (Y[M×N] = X[M×K]·Wᵀ + bias)\n")
    say("CSR: unstructured random sparsity. BSR: random \(blockRows)×\(blockColumns) blocks. "
        + "GFLOP/s are dense-equivalent (2·M·N·K / t); speed-up = dense time / sparse time.\n")
    say("| shape | M | K | N | threads | sparsity | dense ms | CSR ms | BSR ms | dense GFLOP/s | CSR GFLOP/s "
        + "| BSR GFLOP/s | CSR speed-up | BSR speed-up | samples dense; CSR; BSR |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    var crossovers: [String] = []
    for shape in shapes {
      for t in threads {
        let crossover = runShape(shape, threads: t, sampler: sampler)
        crossovers.append("\(shape.name) (M=\(shape.m)), \(t) thread(s): "
                          + (crossover.map { "CSR first beats dense at \(percent($0))" } ?? "CSR never beats dense up to 98 %"))
      }
    }
    say("\nCrossover (lowest measured sparsity where CSR is faster than dense):\n")
    for line in crossovers { say("- \(line)") }
    say("")
  }

  /// Measures one shape at one thread count over all sparsities; returns the CSR crossover.
  static func runShape(_ shape: Shape, threads t: Int, sampler: QuietSampler) -> Double? {
    setThreads(t)
    let (m, k, n) = (shape.m, shape.k, shape.n)
    var random = SplitMix(seed: UInt64(m * 31 + k * 7 + n))
    let x = (0..<m * k).map { _ in random.nextFloat() }
    let bias = (0..<n).map { _ in random.nextFloat() }
    var y = [Float](repeating: 0, count: m * n)
    var crossover: Double?
    for sparsity in sparsities {
      let unstructured = (0..<n * k).map { _ in random.nextUnit() < sparsity ? 0 : random.nextFloat() }
      let blocked = blockedWeights(n: n, k: k, sparsity: sparsity, using: &random)
      let csr = CSRMatrix(dense: unstructured, rows: n, columns: k)
      let bsr = BSRMatrix(dense: blocked, rows: n, columns: k, blockRows: blockRows, blockColumns: blockColumns)
      // Raw BLAS threads itself (`setThreads` leaves BLAS at 1 thread for the library).
      let dense = {
        BLASThreads.set(t)
        defer { BLASThreads.set(1) }
        denseLinear(unstructured, x: x, bias: bias, y: &y, m: m, n: n, k: k)
      }
      let sparseCSR = { spmm(csr, x: x, m: m, bias: bias, y: &y) }
      let sparseBSR = { spmm(bsr, x: x, m: m, bias: bias, y: &y) }
      let check = agreement(csr: csr, unstructured: unstructured, x: x, bias: bias, m: m)
      let timings = sampler.measure([dense, sparseCSR, sparseBSR])
      let (d, c, b) = (timings[0].median, timings[1].median, timings[2].median)
      if crossover == nil && c < d { crossover = sparsity }
      say("| \(shape.name) | \(m) | \(k) | \(n) | \(t) | \(percent(sparsity)) | \(format(d * 1e3, 3)) | "
          + "\(format(c * 1e3, 3)) | \(format(b * 1e3, 3)) | \(format(shape.flops / d / 1e9, 1)) | "
          + "\(format(shape.flops / c / 1e9, 1)) | \(format(shape.flops / b / 1e9, 1)) | \(format(d / c, 2)) | "
          + "\(format(d / b, 2)) | \(timings[0].quality); \(timings[1].quality); \(timings[2].quality)\(check) |")
    }
    return crossover
  }

  /// `n×k` weights where each 1×4 block is kept (all four values non-zero) with probability
  /// `1 − sparsity`.
  static func blockedWeights(n: Int, k: Int, sparsity: Double, using random: inout SplitMix) -> [Float] {
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
    spmm(csr, x: x, m: m, bias: bias, y: &got)
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
