#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Dense single-precision matrix product on row-major buffers.
///
///     C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C
///
/// `op(A)` is `A` (stored `M×K`, leading dimension `lda ≥ K`) or, with `transposeA`, `Aᵀ`
/// (stored `K×M`, `lda ≥ M`); likewise for `B`. Runs on the platform BLAS (OpenBLAS on Linux,
/// Accelerate on Apple). `M`, `N` or `K` may be zero. A product with one row or one column
/// (`M = 1` or `N = 1`) runs as a matrix–vector product: OpenBLAS' GEMM packs the whole matrix
/// for it and is ~7× slower on `M = 1, K = N = 4096`.
///
/// Threads: with `BLASThreads` at 1 and `Parallelism.threads` above 1, large products are split
/// into blocks of rows or columns of C, one BLAS call per thread of Winnow's pool (see
/// ``sgemmInParallel(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``); with more
/// BLAS threads, BLAS threads each product itself.
@inlinable
public func sgemm(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  if k == 0 {
    scaleOutput(c, m: m, n: n, ldc: ldc, beta: beta)
    return
  }
  if shouldSplitGEMM(m: m, n: n, k: k) {
    sgemmInParallel(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                    a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    return
  }
  sgemmOnOneThread(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` without the split
/// across Winnow's threads (BLAS may still use its own); `M, N, K > 0`.
@usableFromInline
func sgemmOnOneThread(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 1 || n == 1 {
    sgemv(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
          a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    return
  }
  cblas_sgemm(
    CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
    blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c,
    blasInt(ldc))
}

/// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` with `M = 1` or
/// `N = 1`, as `cblas_sgemv` on the other operand:
///
///     M = 1:  c[1×N] = alpha · op(B)ᵀ · a + beta · c     (a: K values at stride 1 or lda)
///     N = 1:  c[M×1] = alpha · op(A) · b + beta · c       (c: M values at stride ldc)
@usableFromInline
func sgemv(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  // With beta = 0, C is output only; clear it so NaN there cannot leak (BLAS would scale it).
  if beta == 0 { for i in 0..<max(m, n) { c[m == 1 ? i : i * ldc] = 0 } }
  if m == 1 {
    // B is K×N (row-major, ldb): c = Bᵀ·a, or with transposeB B is N×K: c = B·a.
    cblas_sgemv(
      CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, blasInt(transposeB ? n : k),
      blasInt(transposeB ? k : n), alpha, b, blasInt(ldb), a, blasInt(transposeA ? lda : 1), beta, c, 1)
  } else {
    // A is M×K (lda): c = A·b, or with transposeA A is K×M: c = Aᵀ·b.
    cblas_sgemv(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, blasInt(transposeA ? k : m),
      blasInt(transposeA ? m : k), alpha, a, blasInt(lda), b, blasInt(transposeB ? 1 : ldb), beta, c,
      blasInt(ldc))
  }
}

@usableFromInline
func scaleOutput(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int, beta: Float) {
  for i in 0..<m {
    for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
  }
}

#if canImport(Accelerate)
@usableFromInline typealias BLASInt = Int32
#else
@usableFromInline typealias BLASInt = blasint
#endif

@usableFromInline @inline(__always)
func blasInt(_ value: Int) -> BLASInt { BLASInt(value) }

/// The reference GEMM: the oracle every fast GEMM path is tested against.
///
/// Same contract as ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``;
/// accumulates in `Double` so it is more accurate than anything it checks. O(M·N·K).
public func sgemmReference(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  for i in 0..<m {
    for j in 0..<n {
      var acc: Double = 0
      for p in 0..<k {
        let av = transposeA ? a[p * lda + i] : a[i * lda + p]
        let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
        acc += Double(av) * Double(bv)
      }
      let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
      c[i * ldc + j] = Float(Double(alpha) * acc + old)
    }
  }
}

/// A named GEMM implementation; every entry is tested against ``sgemmReference``.
public struct GEMMKernel: Sendable {
  public typealias Function = @Sendable (
    Bool, Bool, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
    Float, UnsafeMutablePointer<Float>, Int
  ) -> Void
  public let name: String
  public let run: Function

  public static let reference = GEMMKernel(name: "f32_gemm__reference") {
    sgemmReference(
      transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8,
      ldb: $9, beta: $10, c: $11, ldc: $12)
  }
  public static let blas = GEMMKernel(name: "f32_gemm__blas") {
    sgemm(
      transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8,
      ldb: $9, beta: $10, c: $11, ldc: $12)
  }
  /// Every fast implementation (the reference is not in this list).
  public static let all: [GEMMKernel] = [.blas]
}

/// Threads the BLAS library may use (OpenBLAS); ignored where the BLAS has no such control.
///
/// At 1 (recommended when `Parallelism.threads` is above 1), `sgemm` splits large products
/// across Winnow's own threads, so one thread pool serves GEMMs and the other kernels alike.
public enum BLASThreads {
  public static func set(_ count: Int) {
    #if !canImport(Accelerate)
    openblas_set_num_threads(Int32(max(1, count)))
    #endif
  }
  public static var current: Int {
    #if canImport(Accelerate)
    return 1
    #else
    return Int(openblas_get_num_threads())
    #endif
  }
}
