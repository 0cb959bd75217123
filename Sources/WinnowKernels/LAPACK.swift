#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// The platform LAPACK (OpenBLAS' on Linux, Accelerate on Apple platforms), for the few
/// dense factorizations Winnow needs at sizes where its own simple routines are too slow.
public enum LAPACK {
  /// The thin SVD `A = U·Σ·Vᵀ` of a row-major `rows×columns` matrix by divide and conquer
  /// (`dgesdd`, jobz = "S"): with `k = min(M, N)`, `u` is `M×k`, `v` is `N×k` (both row-major,
  /// orthonormal columns) and `sigma` the `k` singular values in decreasing order.
  /// `O(M·N·k)` flops with BLAS-3 speed. Returns nil when LAPACK reports a failure (`info ≠ 0`:
  /// no convergence, or non-finite input), so callers can fall back.
  ///
  /// Layout: LAPACK reads column-major, so the row-major `A` is handed over as its transpose
  /// `Aᵀ` (`N×M`, lda = N). Its SVD `Aᵀ = U'·Σ·V'ᵀ` gives `U = V'` and `V = U'`; LAPACK
  /// returns `V'ᵀ` column-major (`k×M`), which is exactly `U` row-major, and `U'` column-major,
  /// which is transposed here into row-major `V`.
  public static func singularValueDecomposition(rows: Int, columns: Int, values: [Double])
    -> (u: [Double], sigma: [Double], v: [Double])?
  {
    precondition(values.count == rows * columns, "\(values.count) values for a \(rows)×\(columns) matrix")
    let k = min(rows, columns)
    guard k > 0, values.allSatisfy(\.isFinite) else { return nil }
    var a = values, sigma = [Double](repeating: 0, count: k)
    var left = [Double](repeating: 0, count: columns * k)  // U' (N×k, column-major)
    var rightT = [Double](repeating: 0, count: k * rows)   // V'ᵀ (k×M, column-major)
    var iwork = [LAPACKInteger](repeating: 0, count: 8 * k)
    var m = LAPACKInteger(columns), n = LAPACKInteger(rows), lda = LAPACKInteger(columns)
    var ldu = LAPACKInteger(columns), ldvt = LAPACKInteger(k), info: LAPACKInteger = 0
    var size = [0.0], query: LAPACKInteger = -1
    callGESDD(&m, &n, &a, &lda, &sigma, &left, &ldu, &rightT, &ldvt, &size, &query, &iwork, &info)
    guard info == 0 else { return nil }
    var lwork = LAPACKInteger(size[0].rounded(.up))
    var work = [Double](repeating: 0, count: max(1, Int(lwork)))
    callGESDD(&m, &n, &a, &lda, &sigma, &left, &ldu, &rightT, &ldvt, &work, &lwork, &iwork, &info)
    guard info == 0 else { return nil }
    var v = [Double](repeating: 0, count: columns * k)
    for t in 0..<k { for j in 0..<columns { v[j * k + t] = left[t * columns + j] } }
    return (rightT, sigma, v)
  }
}

#if canImport(Accelerate)
typealias LAPACKInteger = __CLPK_integer

// Accelerate's CLAPACK interface (`clapack.h`): same arguments, no hidden string length.
@inline(__always)
private func callGESDD(
  _ m: inout LAPACKInteger, _ n: inout LAPACKInteger, _ a: inout [Double], _ lda: inout LAPACKInteger,
  _ s: inout [Double], _ u: inout [Double], _ ldu: inout LAPACKInteger, _ vt: inout [Double],
  _ ldvt: inout LAPACKInteger, _ work: inout [Double], _ lwork: inout LAPACKInteger, _ iwork: inout [LAPACKInteger],
  _ info: inout LAPACKInteger
) {
  var job = CChar(UInt8(ascii: "S"))
  _ = dgesdd_(&job, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info)
}
#else
typealias LAPACKInteger = Int32

@inline(__always)
private func callGESDD(
  _ m: inout LAPACKInteger, _ n: inout LAPACKInteger, _ a: inout [Double], _ lda: inout LAPACKInteger,
  _ s: inout [Double], _ u: inout [Double], _ ldu: inout LAPACKInteger, _ vt: inout [Double],
  _ ldvt: inout LAPACKInteger, _ work: inout [Double], _ lwork: inout LAPACKInteger, _ iwork: inout [LAPACKInteger],
  _ info: inout LAPACKInteger
) {
  var job = CChar(UInt8(ascii: "S"))
  dgesdd_(&job, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
}
#endif
