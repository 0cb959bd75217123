import Testing
import WinnowKernels

/// One GEMM problem, `C[M×N] = alpha·op(A)·op(B) + beta·C`, with padded leading dimensions.
private struct GEMMProblem: CustomStringConvertible {
  var transposeA: Bool, transposeB: Bool
  var m: Int, n: Int, k: Int
  var alpha: Float = 0.75, beta: Float = -0.5
  /// Extra elements at the end of every stored row of A, B and C.
  var padding = 0

  var lda: Int { (transposeA ? m : k) + padding }
  var ldb: Int { (transposeB ? k : n) + padding }
  var ldc: Int { n + padding }
  var rowsA: Int { transposeA ? k : m }
  var rowsB: Int { transposeB ? n : k }

  var description: String {
    "\(transposeA ? "Aᵀ" : "A")·\(transposeB ? "Bᵀ" : "B") M=\(m) N=\(n) K=\(k) "
      + "alpha=\(alpha) beta=\(beta) padding=\(padding)"
  }
}

/// Deterministic values in [-1, 1) (a linear congruential sequence: no Foundation needed).
private func values(_ count: Int, seed: UInt64) -> [Float] {
  var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
  return (0..<count).map { _ in
    s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(s >> 40) * 0x1p-23 - 1
  }
}

/// The padding lanes of C hold this value, and every kernel must leave them alone.
private let sentinel: Float = 12345

/// Runs `kernel` and the reference on the same inputs; returns a failure message or nil.
///
/// Tolerance (per element): a Float32 dot product of length K has error at most
/// `γ_K·Σ|aᵢbᵢ|` with `γ_K ≈ K·u`, `u = 2⁻²⁴` (Higham, *Accuracy and Stability of Numerical
/// Algorithms*, §3.1); scaling by alpha and adding `beta·c` add two more roundings. So we
/// allow `(K + 2)·2u·(|alpha|·Σₚ|a_ip·b_pj| + |beta·c_ij|)`: twice the worst-case bound, and
/// far tighter than the `1e-5·K` rule of thumb. The reference accumulates in Double.
private func mismatch(_ kernel: GEMMKernel, _ p: GEMMProblem, nanInC: Bool = false) -> String? {
  // At least one element each, so that empty problems still have valid pointers.
  let a = values(max(p.rowsA * p.lda, 1), seed: UInt64(p.m * 1000 + p.k))
  let b = values(max(p.rowsB * p.ldb, 1), seed: UInt64(p.n * 1000 + p.k + 7))
  var c0 = values(max(p.m * p.ldc, 1), seed: UInt64(p.m * 31 + p.n))
  for i in 0..<p.m {
    for j in 0..<p.ldc where j >= p.n { c0[i * p.ldc + j] = sentinel }
    if nanInC { for j in 0..<p.n { c0[i * p.ldc + j] = .nan } }
  }
  var fast = c0, reference = c0
  a.withUnsafeBufferPointer { pa in
    b.withUnsafeBufferPointer { pb in
      fast.withUnsafeMutableBufferPointer { pc in
        kernel.run(p.transposeA, p.transposeB, p.m, p.n, p.k, p.alpha, pa.baseAddress!, p.lda,
                   pb.baseAddress!, p.ldb, p.beta, pc.baseAddress!, p.ldc)
      }
      reference.withUnsafeMutableBufferPointer { pc in
        GEMMKernel.reference.run(p.transposeA, p.transposeB, p.m, p.n, p.k, p.alpha, pa.baseAddress!, p.lda,
                                 pb.baseAddress!, p.ldb, p.beta, pc.baseAddress!, p.ldc)
      }
    }
  }
  let u = Double(Float.ulpOfOne) / 2
  for i in 0..<p.m {
    for j in 0..<p.ldc {
      let index = i * p.ldc + j
      if j >= p.n {
        if fast[index] != sentinel { return "\(kernel.name) \(p): wrote padding C[\(i), \(j)]" }
        continue
      }
      var magnitude: Double = 0
      for q in 0..<p.k {
        let av = p.transposeA ? a[q * p.lda + i] : a[i * p.lda + q]
        let bv = p.transposeB ? b[j * p.ldb + q] : b[q * p.ldb + j]
        magnitude += Swift.abs(Double(av) * Double(bv))
      }
      let old = p.beta == 0 ? 0 : Swift.abs(Double(p.beta) * Double(c0[index]))
      let tolerance = Double(p.k + 2) * 2 * u * (Swift.abs(Double(p.alpha)) * magnitude + old)
      let difference = Swift.abs(Double(fast[index]) - Double(reference[index]))
      if !(difference <= tolerance) {
        return "\(kernel.name) \(p): C[\(i), \(j)] = \(fast[index]), reference \(reference[index]), "
          + "|diff| \(difference) > \(tolerance)"
      }
    }
  }
  return nil
}

/// Checks every fast kernel on `p`, recording an issue for each mismatch.
private func expectAllKernelsMatch(
  _ p: GEMMProblem, nanInC: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) {
  for kernel in GEMMKernel.all {
    if let failure = mismatch(kernel, p, nanInC: nanInC) {
      Issue.record("\(failure)", sourceLocation: sourceLocation)
    }
  }
}

private let transposes = [(false, false), (false, true), (true, false), (true, true)].map { [$0.0, $0.1] }

/// Sizes below, at and above the usual register-tile and cache-block edges (1, 8, 16, 32, 64).
private let edges = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65]

@Suite struct GEMMTests {
  /// Every fast kernel against the reference, for each transpose pair and M in `edges`, over
  /// all N in `edges` with K cycling through `edges` (so each K meets every M and N), and
  /// padded leading dimensions on every other problem: 4 × 14 × 14 problems per kernel.
  @Test(arguments: transposes, edges)
  func kernelsMatchReferenceOnTileEdges(transpose: [Bool], m: Int) {
    for (jn, n) in edges.enumerated() {
      let k = edges[(jn + edges.firstIndex(of: m)!) % edges.count]
      expectAllKernelsMatch(GEMMProblem(transposeA: transpose[0], transposeB: transpose[1], m: m, n: n, k: k,
                                        padding: (jn + m) % 2 == 0 ? 0 : 3))
    }
  }

  /// Large enough that a blocked BLAS takes its packed, multi-threaded path.
  @Test(arguments: transposes)
  func kernelsMatchReferenceOnALargeProblem(transpose: [Bool]) {
    expectAllKernelsMatch(GEMMProblem(transposeA: transpose[0], transposeB: transpose[1], m: 129, n: 257, k: 300,
                                      padding: 5))
  }

  /// Plain product (alpha 1, beta 0), scaled product, and beta 1 accumulation.
  @Test(arguments: [(Float(1), Float(0)), (-2, 0), (1, 1), (0.5, 2)].map { [$0.0, $0.1] })
  func kernelsMatchReferenceForAlphaAndBeta(coefficients: [Float]) {
    for t in transposes {
      expectAllKernelsMatch(GEMMProblem(transposeA: t[0], transposeB: t[1], m: 17, n: 33, k: 9,
                                        alpha: coefficients[0], beta: coefficients[1], padding: 2))
    }
  }

  /// BLAS semantics: with beta = 0, C is output only, so NaN already in C must not leak.
  @Test func betaZeroIgnoresNaNInC() {
    for t in transposes {
      expectAllKernelsMatch(GEMMProblem(transposeA: t[0], transposeB: t[1], m: 9, n: 17, k: 8, alpha: 1, beta: 0,
                                        padding: 1), nanInC: true)
    }
  }

  /// K = 0: the product is empty, so C becomes `beta·C` (zero for beta = 0).
  @Test(arguments: [Float(0), 1, -0.5])
  func emptyInnerDimensionScalesC(beta: Float) {
    for t in transposes {
      for (m, n) in [(1, 1), (7, 9), (16, 3)] {
        expectAllKernelsMatch(GEMMProblem(transposeA: t[0], transposeB: t[1], m: m, n: n, k: 0, beta: beta, padding: 2))
      }
    }
  }

  /// M = 0 or N = 0: nothing to compute and nothing may be written (C has no rows, or only
  /// padding that holds the sentinel).
  @Test func emptyOutputWritesNothing() {
    for t in transposes {
      for (m, n, k) in [(0, 5, 3), (0, 0, 0), (4, 0, 3), (0, 5, 0)] {
        expectAllKernelsMatch(GEMMProblem(transposeA: t[0], transposeB: t[1], m: m, n: n, k: k, padding: 2))
      }
    }
  }

  /// The registry's names follow the `f32_gemm__<how>` scheme and are unique.
  @Test func registryNamesAreUniqueDescriptors() {
    let names = ([GEMMKernel.reference] + GEMMKernel.all).map(\.name)
    #expect(Set(names).count == names.count)
    #expect(names.allSatisfy { $0.hasPrefix("f32_gemm__") })
  }
}
