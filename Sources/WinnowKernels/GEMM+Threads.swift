/// Splitting a GEMM across Winnow's threads, so that one thread pool does all the work.
///
/// Two pools on the same cores fight: OpenBLAS' idle workers spin (`sched_yield`) for about
/// 0.1 s after each threaded call, taking a core from Winnow's `parallelFor` workers (~10 %
/// of a LeNet-5 training step at 2 threads, with a long tail). Running BLAS on one thread
/// (`BLASThreads.set(1)`) and splitting large products here avoids that, at the same speed
/// as OpenBLAS' own threading on the benchmark shapes (`Benchmarks/`, `docs/PERFORMANCE.md`).

/// Products of at least this many multiply–adds are split; below it a worker's wake-up and
/// the duplicated packing of the shared operand cost more than the second thread gives.
@usableFromInline let splitGEMMMinimumWork = 1 << 23

/// True when ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` should split
/// the product: Winnow has threads, BLAS has none of its own, and the product is large.
@inlinable
func shouldSplitGEMM(m: Int, n: Int, k: Int) -> Bool {
  #if canImport(Accelerate)
  return false  // Accelerate threads its BLAS itself and has no thread setting
  #else
  return m * n * k >= splitGEMMMinimumWork && Parallelism.threads > 1 && BLASThreads.current == 1
  #endif
}

/// C in `Parallelism.threads` blocks of rows (when `M ≥ N`) or columns, one single-threaded
/// BLAS call each; the other operand is shared. Same contract as `sgemm`, `M, N, K > 0`.
@usableFromInline
func sgemmInParallel(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m >= n {
    parallelFor(m) { rows in
      // Row i of op(A) is row i of A, or column i of the stored Aᵀ.
      let aRows = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
      sgemmOnOneThread(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                       a: aRows, lda: lda, b: b, ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
    }
  } else {
    parallelFor(n) { columns in
      // Column j of op(B) is column j of B, or row j of the stored Bᵀ.
      let bColumns = transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound
      sgemmOnOneThread(transposeA: transposeA, transposeB: transposeB, m: m, n: columns.count, k: k, alpha: alpha,
                       a: a, lda: lda, b: bColumns, ldb: ldb, beta: beta, c: c + columns.lowerBound, ldc: ldc)
    }
  }
}
