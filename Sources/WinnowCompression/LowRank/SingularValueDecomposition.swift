import WinnowCore
import WinnowKernels

/// The thin singular value decomposition `A = U·Σ·Vᵀ` of an `M×N` matrix, in Double.
///
/// With `k = min(M, N)`: `U` is `M×k` and `V` is `N×k`, both with orthonormal columns, and
/// `Σ = diag(σ₁ ≥ σ₂ ≥ … ≥ σ_k ≥ 0)`. By Eckart–Young, keeping the first `r` triplets gives the
/// best rank-`r` approximation in the Frobenius norm, with error `‖A − A_r‖²_F = Σ_{i>r} σᵢ²`.
///
/// Computed by one-sided Jacobi (Hestenes 1958; Demmel & Veselić 1992): plane rotations
/// orthogonalise the columns of `A` (of `Aᵀ` when `M < N`) in cyclic sweeps until every pair
/// is orthogonal to working precision; the column norms are then the singular values. It is
/// slower than LAPACK's divide and conquer but simple and accurate to high relative precision.
/// Cost: about `6·M·N²` flops per sweep for `M ≥ N` (`N ↔ M` otherwise), typically 6–10
/// sweeps; a 120×400 layer takes milliseconds, 1536×4096 minutes. Large matrices therefore go
/// to the platform LAPACK (`dgesdd`, divide and conquer, through WinnowKernels' ``LAPACK``):
/// `.automatic` picks it when `min(M, N) ≥ lapackThreshold` (256 — every layer of LeNet-5
/// and the CIFAR ResNets stays on Jacobi, a MiniLM projection goes to LAPACK), and falls
/// back to Jacobi if LAPACK fails. The two agree to ~1e-12 relative (tested).
///
///     let svd = SingularValueDecomposition(Tensor(shape: [2, 2], scalars: [3, 0, 0, 4]))
///     svd.singularValues   // [4, 3]
public struct SingularValueDecomposition: Sendable {
  public let rows: Int
  public let columns: Int
  /// `U`, `M×k`, row-major.
  public let u: [Double]
  /// `σ₁ ≥ … ≥ σ_k`.
  public let singularValues: [Double]
  /// `V`, `N×k`, row-major (so `Vᵀ` is the right factor).
  public let v: [Double]

  public var k: Int { singularValues.count }

  /// Which algorithm computes the decomposition.
  public enum Method: Sendable {
    /// LAPACK when `min(M, N) ≥ lapackThreshold`, else Jacobi.
    case automatic
    case jacobi
    /// LAPACK's `dgesdd`; Jacobi if LAPACK reports a failure (or the input is not finite).
    case lapack
  }

  /// The smallest `min(M, N)` that `.automatic` sends to LAPACK.
  public static let lapackThreshold = 256

  /// Decomposes a rank-2 tensor (`M×N`). Non-finite entries give NaN singular values.
  public init(_ matrix: Tensor, maximumSweeps: Int = 60, method: Method = .automatic) {
    precondition(matrix.rank == 2, "SVD needs a matrix, got shape \(matrix.shape)")
    self.init(rows: matrix.shape[0], columns: matrix.shape[1], values: matrix.scalars.map(Double.init),
              maximumSweeps: maximumSweeps, method: method)
  }

  /// Decomposes the row-major `rows×columns` matrix `values`.
  public init(rows: Int, columns: Int, values: [Double], maximumSweeps: Int = 60, method: Method = .automatic) {
    precondition(values.count == rows * columns, "\(values.count) values for a \(rows)×\(columns) matrix")
    self.rows = rows
    self.columns = columns
    let useLAPACK = method == .lapack || (method == .automatic && Swift.min(rows, columns) >= Self.lapackThreshold)
    if useLAPACK, let result = LAPACK.singularValueDecomposition(rows: rows, columns: columns, values: values) {
      (u, singularValues, v) = result
      return
    }
    // Work on the tall orientation: the `n` columns of a `m×n` matrix with m ≥ n, each
    // stored contiguously (the rows of its transpose).
    let transposed = rows < columns
    let (m, n) = transposed ? (columns, rows) : (rows, columns)
    var work = [Double](repeating: 0, count: m * n)  // work[j*m + i] = column j, entry i
    for r in 0..<rows {
      for c in 0..<columns {
        if transposed { work[r * m + c] = values[r * columns + c] } else { work[c * m + r] = values[r * columns + c] }
      }
    }
    var right = [Double](repeating: 0, count: n * n)  // right[j*n + i] = column j of V
    for j in 0..<n { right[j * n + j] = 1 }
    JacobiRotations.orthogonalizeColumns(&work, &right, m: m, n: n, maximumSweeps: maximumSweeps)
    let (left, sigma, rightSorted) = JacobiRotations.normalize(work, right, m: m, n: n)
    singularValues = sigma
    // A = L·Σ·Rᵀ in the tall orientation; for the transpose, Aᵀ = L·Σ·Rᵀ gives A = R·Σ·Lᵀ.
    u = transposed ? Self.rowMajor(columnsOf: rightSorted, length: n, count: n)
      : Self.rowMajor(columnsOf: left, length: m, count: n)
    v = transposed ? Self.rowMajor(columnsOf: left, length: m, count: n)
      : Self.rowMajor(columnsOf: rightSorted, length: n, count: n)
  }

  private static func rowMajor(columnsOf data: [Double], length: Int, count: Int) -> [Double] {
    var out = [Double](repeating: 0, count: length * count)
    for j in 0..<count { for i in 0..<length { out[i * count + j] = data[j * length + i] } }
    return out
  }

  /// `Σ_{i<r} σᵢ² / Σ σᵢ²`: the fraction of the squared Frobenius norm that rank `r` keeps.
  public func energy(rank r: Int) -> Double {
    let total = singularValues.reduce(0) { $0 + $1 * $1 }
    guard total > 0 else { return 1 }
    return singularValues.prefix(r).reduce(0) { $0 + $1 * $1 } / total
  }

  /// The smallest rank that keeps at least `fraction` of `Σσᵢ²` (at least 1).
  public func rank(keepingEnergy fraction: Double) -> Int {
    let total = singularValues.reduce(0) { $0 + $1 * $1 }
    guard total > 0 else { return 1 }
    var kept = 0.0
    for (i, s) in singularValues.enumerated() {
      kept += s * s
      // A relative slack absorbs the rounding of the running sum, so fraction 1 means "all
      // non-negligible directions" rather than "all k".
      if kept >= fraction * total * (1 - 1e-12) { return i + 1 }
    }
    return k
  }

  /// The best rank-`r` approximation `U_r·Σ_r·V_rᵀ` as an `M×N` Float tensor.
  public func truncated(rank r: Int) -> Tensor {
    precondition(r >= 0 && r <= k, "rank \(r) outside 0...\(k)")
    var out = [Double](repeating: 0, count: rows * columns)
    for t in 0..<r {
      let s = singularValues[t]
      for i in 0..<rows {
        let a = u[i * k + t] * s
        if a == 0 { continue }
        for j in 0..<columns { out[i * columns + j] += a * v[j * k + t] }
      }
    }
    return Tensor(shape: [rows, columns], scalars: out.map(Float.init))
  }

  /// Balanced factors of the rank-`r` truncation: `left = U_r·√Σ_r` (`M×r`) and
  /// `right = √Σ_r·V_rᵀ` (`r×N`), so `left·right = A_r`. Splitting `Σ` evenly keeps both
  /// factors at the same scale, which trains better than putting it all on one side.
  public func factors(rank r: Int) -> (left: Tensor, right: Tensor) {
    precondition(r >= 1 && r <= k, "rank \(r) outside 1...\(k)")
    let roots = singularValues.prefix(r).map { $0.squareRoot() }
    let left = Tensor(shape: [rows, r], scalars: (0..<rows * r).map { Float(u[($0 / r) * k + $0 % r] * roots[$0 % r]) })
    let right = Tensor(shape: [r, columns], scalars: (0..<r * columns).map {
      Float(v[($0 % columns) * k + $0 / columns] * roots[$0 / columns])
    })
    return (left, right)
  }

  /// `U_p·V_pᵀ` over the `p` singular values above `tolerance·σ₁`: the minimum-norm
  /// sub-gradient of the nuclear norm `‖A‖_* = Σσᵢ` at `A` (its gradient when `A` has full
  /// rank and distinct singular values). `M×N` Float tensor.
  public func nuclearNormSubgradient(tolerance: Double = 1e-9) -> Tensor {
    let cutoff = (singularValues.first ?? 0) * tolerance
    let p = singularValues.filter { $0 > cutoff }.count
    var out = [Double](repeating: 0, count: rows * columns)
    for t in 0..<p {
      for i in 0..<rows {
        let a = u[i * k + t]
        for j in 0..<columns { out[i * columns + j] += a * v[j * k + t] }
      }
    }
    return Tensor(shape: [rows, columns], scalars: out.map(Float.init))
  }
}
