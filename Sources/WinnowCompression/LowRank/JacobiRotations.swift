/// The inner loops of one-sided Jacobi SVD (see ``SingularValueDecomposition``), over
/// column-contiguous Double storage: `work[j*m + i]` is entry `i` of column `j`.
enum JacobiRotations {
  /// Rotates pairs of columns of `work` (`m×n`, m ≥ n) until all are mutually orthogonal,
  /// applying the same rotations to the columns of `right` (`n×n`), so `A·V = work` holds
  /// throughout.
  ///
  /// For columns `a`, `b` with `α = ‖a‖²`, `β = ‖b‖²`, `γ = a·b`, the rotation by `t = tan θ`,
  /// `ζ = (β − α)/(2γ)`, `t = sign(ζ)/(|ζ| + √(1 + ζ²))` makes them orthogonal (the smaller
  /// of the two angles, which is what makes the cyclic method converge quadratically).
  /// A pair counts as orthogonal when `|γ| ≤ ε·√(αβ)` with `ε = 1e-15`.
  static func orthogonalizeColumns(_ work: inout [Double], _ right: inout [Double], m: Int, n: Int, maximumSweeps: Int) {
    guard n > 1 else { return }
    var norms = (0..<n).map { j in squaredNorm(work, offset: j * m, count: m) }
    for _ in 0..<maximumSweeps {
      var rotated = false
      for p in 0..<(n - 1) {
        for q in (p + 1)..<n {
          let (alpha, beta) = (norms[p], norms[q])
          if alpha == 0 || beta == 0 { continue }
          let gamma = dot(work, p * m, q * m, count: m)
          if !(Swift.abs(gamma) > 1e-15 * (alpha * beta).squareRoot()) { continue }
          rotated = true
          let zeta = (beta - alpha) / (2 * gamma)
          let t = (zeta >= 0 ? 1.0 : -1.0) / (Swift.abs(zeta) + (1 + zeta * zeta).squareRoot())
          let c = 1 / (1 + t * t).squareRoot(), s = c * t
          rotate(&work, p * m, q * m, count: m, c: c, s: s)
          rotate(&right, p * n, q * n, count: n, c: c, s: s)
          // Exact updates of the two norms for this rotation (Demmel & Veselić).
          norms[p] = alpha - t * gamma
          norms[q] = beta + t * gamma
        }
      }
      if !rotated { break }
      // Refresh the norms once per sweep so rounding in the updates cannot accumulate.
      for j in 0..<n { norms[j] = squaredNorm(work, offset: j * m, count: m) }
    }
  }

  /// Splits the orthogonal columns into `σⱼ = ‖columnⱼ‖` and unit vectors, sorted by
  /// decreasing `σ`. Columns with `σ` negligible next to `σ₁` get unit vectors completing
  /// an orthonormal set (Gram–Schmidt over the standard basis), so `U` is orthonormal even
  /// for rank-deficient matrices.
  static func normalize(_ work: [Double], _ right: [Double], m: Int, n: Int) -> (left: [Double], sigma: [Double], right: [Double]) {
    let norms = (0..<n).map { squaredNorm(work, offset: $0 * m, count: m).squareRoot() }
    let order = (0..<n).sorted { norms[$0] > norms[$1] || (norms[$0] == norms[$1] && $0 < $1) }
    let largest = norms.max() ?? 0
    var left = [Double](repeating: 0, count: m * n)
    var sortedRight = [Double](repeating: 0, count: n * n)
    var sigma = [Double](repeating: 0, count: n)
    var deficient: [Int] = []
    for (slot, j) in order.enumerated() {
      for i in 0..<n { sortedRight[slot * n + i] = right[j * n + i] }
      sigma[slot] = norms[j]
      if norms[j] > largest * 1e-13, norms[j] > 0 {
        for i in 0..<m { left[slot * m + i] = work[j * m + i] / norms[j] }
      } else {
        deficient.append(slot)
      }
    }
    completeOrthonormal(&left, slots: deficient, m: m, n: n)
    return (left, sigma, sortedRight)
  }

  /// Fills the columns `slots` of `left` with unit vectors orthogonal to all other columns.
  private static func completeOrthonormal(_ left: inout [Double], slots: [Int], m: Int, n: Int) {
    let filled = Set(0..<n).subtracting(slots)
    var basis = filled.sorted()
    var candidate = 0
    for slot in slots {
      while candidate < m {
        var vector = [Double](repeating: 0, count: m)
        vector[candidate] = 1
        candidate += 1
        for _ in 0..<2 {  // twice is enough (Kahan's "twice is enough" re-orthogonalisation)
          for b in basis {
            let d = (0..<m).reduce(0.0) { $0 + left[b * m + $1] * vector[$1] }
            for i in 0..<m { vector[i] -= d * left[b * m + i] }
          }
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0.5 {
          for i in 0..<m { left[slot * m + i] = vector[i] / norm }
          basis.append(slot)
          break
        }
      }
    }
  }

  @inline(__always)
  static func squaredNorm(_ x: [Double], offset: Int, count: Int) -> Double {
    x.withUnsafeBufferPointer { b in
      var s = 0.0
      for i in offset..<(offset + count) { s += b[i] * b[i] }
      return s
    }
  }

  @inline(__always)
  static func dot(_ x: [Double], _ a: Int, _ b: Int, count: Int) -> Double {
    x.withUnsafeBufferPointer { p in
      var s0 = 0.0, s1 = 0.0
      var i = 0
      while i + 1 < count {
        s0 += p[a + i] * p[b + i]
        s1 += p[a + i + 1] * p[b + i + 1]
        i += 2
      }
      if i < count { s0 += p[a + i] * p[b + i] }
      return s0 + s1
    }
  }

  /// `(x_a, x_b) ← (c·x_a − s·x_b, s·x_a + c·x_b)`.
  @inline(__always)
  static func rotate(_ x: inout [Double], _ a: Int, _ b: Int, count: Int, c: Double, s: Double) {
    x.withUnsafeMutableBufferPointer { p in
      for i in 0..<count {
        let (xa, xb) = (p[a + i], p[b + i])
        p[a + i] = c * xa - s * xb
        p[b + i] = s * xa + c * xb
      }
    }
  }
}
