import Winnow
#if canImport(Accelerate)
import Accelerate
#else
import CRawBLAS
#endif

/// `Tensor.matmul` (including allocation of its result) against raw `cblas_sgemm` into a
/// preallocated buffer, on the same shapes, alternating sample by sample.
enum GEMMBenchmark {
  struct Shape {
    var name: String, m: Int, k: Int, n: Int
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  /// MiniLM-L6 (B·T = 128 tokens) projections, squares, and a GEMV.
  static let shapes = [
    Shape(name: "MiniLM FFN up", m: 128, k: 384, n: 1536),
    Shape(name: "MiniLM FFN down", m: 128, k: 1536, n: 384),
    Shape(name: "MiniLM attention proj", m: 128, k: 384, n: 384),
    Shape(name: "square 512", m: 512, k: 512, n: 512),
    Shape(name: "square 1024", m: 1024, k: 1024, n: 1024),
    Shape(name: "GEMV", m: 1, k: 4096, n: 4096),
  ]

  static func run(threads: [Int], sampler: QuietSampler) {
    say("## GEMM: Tensor.matmul vs raw cblas_sgemm (C[M×N] = A[M×K]·B[K×N], row-major)\n")
    say("| shape | M | K | N | threads | raw ms | library ms | raw GFLOP/s | library GFLOP/s | library/raw | samples raw; library |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for shape in shapes {
      var rng = RandomGenerator(seed: 7)
      let a = Tensor.randomUniform([shape.m, shape.k], in: -1...1, using: &rng)
      let b = Tensor.randomUniform([shape.k, shape.n], in: -1...1, using: &rng)
      var c = [Float](repeating: 0, count: shape.m * shape.n)
      for t in threads {
        setThreads(t)
        // The baseline is OpenBLAS threading itself; the library runs with BLAS at 1 thread.
        let raw = {
          BLASThreads.set(t)
          defer { BLASThreads.set(1) }
          a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
              c.withUnsafeMutableBufferPointer { pc in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(shape.m), Int32(shape.n),
                            Int32(shape.k), 1, pa.baseAddress, Int32(shape.k), pb.baseAddress,
                            Int32(shape.n), 0, pc.baseAddress, Int32(shape.n))
              }
            }
          }
        }
        let library = { blackHole(a.matmul(b)) }
        // For one row, also the BLAS matrix–vector product, which the library uses there.
        let rawGEMV = {
          BLASThreads.set(t)
          defer { BLASThreads.set(1) }
          a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
              c.withUnsafeMutableBufferPointer { pc in
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(shape.k), Int32(shape.n), 1, pb.baseAddress,
                            Int32(shape.n), pa.baseAddress, 1, 0, pc.baseAddress, 1)
              }
            }
          }
        }
        let timings = sampler.measure(shape.m == 1 ? [raw, library, rawGEMV] : [raw, library])
        func row(_ name: String, _ baseline: Timing, _ lib: Timing) {
          let (r, l) = (baseline.median, lib.median)
          say("| \(name) | \(shape.m) | \(shape.k) | \(shape.n) | \(t) | \(format(r * 1e3, 3)) | "
              + "\(format(l * 1e3, 3)) | \(format(shape.flops / r / 1e9, 1)) | \(format(shape.flops / l / 1e9, 1)) | "
              + "\(format(r / l, 2)) | \(baseline.quality); \(lib.quality) |")
        }
        row(shape.name, timings[0], timings[1])
        if shape.m == 1 { row(shape.name + " (raw = cblas_sgemv)", timings[2], timings[1]) }
      }
    }
    say("\nlibrary/raw = raw time / library time (1.00 = as fast as raw BLAS; higher is better). "
        + "With M = 1 the library calls cblas_sgemv, so that row also compares with raw cblas_sgemv.\n")
  }
}

/// Keeps a result alive so the optimiser cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

/// `count` threads for Winnow, in its recommended setting: one pool (Winnow's), with BLAS on
/// one thread and large GEMMs split by Winnow (see `GEMM+Threads.swift`).
func setThreads(_ count: Int) {
  BLASThreads.set(1)
  Parallelism.threads = count
}

func blasDescription() -> String {
  #if canImport(Accelerate)
  return "Accelerate"
  #else
  return String(cString: openblas_get_config())
  #endif
}
