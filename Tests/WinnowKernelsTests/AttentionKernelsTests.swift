import Testing
import WinnowKernels
import WinnowTestSupport

/// bf16 attention (native AVX512-BF16 where the CPU has it, and the portable C variant)
/// against the Double reference twin, over the edges of its 12-row tile and 32-wide panels
/// (tokens n and head width d below, at, above and multiples of both), odd d (a half-filled
/// pair) and odd n (a half-filled pair of P·V).
@Suite struct AttentionKernelsTests {
  static let tokenCounts = Array(Set(tileEdges(12) + tileEdges(32) + [2])).sorted()
  static let widths = [1, 2, 15, 16, 17, 32, 33, 64]

  struct Case {
    let n, d, stride, outStride: Int
    let q, k, v: [Float]
    var scale: Float { 1 / Float(d).squareRoot() }

    init(n: Int, d: Int, seed: UInt64) {
      (self.n, self.d) = (n, d)
      stride = 3 * d + 1  // Q, K and V interleaved in one row, as BERTInference stores them
      outStride = d + 3
      let values = randomTensor([n * stride * 3], seed: seed, in: -2...2).scalars
      q = Array(values[0..<(n * stride)])
      k = Array(values[(n * stride)..<(2 * n * stride)])
      v = Array(values[(2 * n * stride)...])
    }

    /// The kernel's output, and whether it left the padding of each output row alone.
    func run(_ path: KernelPath) -> (out: [Float], paddingKept: Bool) {
      var out = [Float](repeating: -7, count: n * outStride)
      var workspace = [Float](repeating: .nan, count: AttentionKernels.bfloat16WorkspaceCount(n: n, d: d))
      AttentionKernels.bfloat16(
        q: q, k: k, v: v, stride: stride, n: n, d: d, scale: scale, into: &out, outStride: outStride,
        workspace: &workspace, path: path)
      let kept = (0..<n).allSatisfy { i in (d..<outStride).allSatisfy { out[i * outStride + $0] == -7 } }
      return ((0..<n).flatMap { i in out[(i * outStride)..<(i * outStride + d)] }, kept)
    }
  }

  /// Same bf16 operands: the sums differ only in order (float32 vs Double), which can flip
  /// the rounding of a probability to bf16 by one step (2⁻⁸ of it); |V| ≤ 2 bounds that.
  func expectMatchesReference(_ c: Case) {
    let reference = AttentionKernels.bfloat16Reference(q: c.q, k: c.k, v: c.v, stride: c.stride, n: c.n, d: c.d, scale: c.scale)
    for path in KernelPath.allCases {
      let (out, kept) = c.run(path)
      #expect(kept, "\(path) n \(c.n) d \(c.d): wrote past d")
      let worst = zip(out, reference).map { abs($0 - $1) }.max() ?? 0
      #expect(worst <= 2 * 0.004 + 1e-5, "\(path) n \(c.n) d \(c.d): max error \(worst)")
    }
  }

  @Test(arguments: tokenCounts) func matchesReferenceOverTokenEdges(n: Int) {
    expectMatchesReference(Case(n: n, d: 32, seed: UInt64(n)))
  }

  @Test(arguments: widths) func matchesReferenceOverWidthEdges(d: Int) {
    for n in [13, 33] { expectMatchesReference(Case(n: n, d: d, seed: 100 + UInt64(d))) }
  }

  /// Against unrounded attention: bf16 moves each operand by ≤ 2⁻⁹ of itself, so MiniLM's
  /// shape (n = 128, d = 32) stays within a few 1e-2 of the exact result, far below what a
  /// wrong layout or a missed scale gives (errors of order |V| = 1).
  @Test func approximatesExactAttention() {
    let c = Case(n: 128, d: 32, seed: 9)
    let exact = AttentionKernels.float64Reference(q: c.q, k: c.k, v: c.v, stride: c.stride, n: c.n, d: c.d, scale: c.scale)
    let worst = zip(c.run(.native).out, exact).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= 0.03, "max error \(worst)")
  }

  @Test func roundsToNearestEven() {
    #expect(AttentionKernels.roundedToBFloat16(1) == 1)
    #expect(AttentionKernels.roundedToBFloat16(Float(bitPattern: 0x3F80_8000)) == 1)  // tie, even stays
    #expect(AttentionKernels.roundedToBFloat16(Float(bitPattern: 0x3F81_8000)) == Float(bitPattern: 0x3F82_0000))
    #expect(AttentionKernels.roundedToBFloat16(Float(bitPattern: 0x3F80_8001)) == Float(bitPattern: 0x3F81_0000))
    #expect(AttentionKernels.roundedToBFloat16(-3.0) == -3.0)
  }
}
