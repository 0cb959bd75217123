import CWinnowKernels
import Foundation

/// Scaled dot-product attention of one (sequence, head) with bfloat16 operands and float32
/// sums (`Sources/CWinnowKernels/attention_bf16.c`), and its slow reference twin.
///
///     S = bf16(Q)·bf16(K)ᵀ (n×n),  P = softmax(scale·S),  O = bf16(P)·bf16(V) (n×d)
///
/// bf16 keeps float32's exponent and 8 of its 24 significant bits, so each operand moves by
/// at most 2⁻⁹ of itself; the sums stay float32. On a CPU with AVX512-BF16 (`vdpbf16ps`, Zen 4,
/// Sapphire Rapids) each instruction does 32 multiply–adds, twice an fp32 FMA.
public enum AttentionKernels {
  /// True when the native AVX512-BF16 variant runs on this CPU (else the portable C one).
  public static var hasNativeBFloat16: Bool { winnow_attention_bf16_has_native() != 0 }

  /// Floats of workspace ``bfloat16(q:k:v:stride:n:d:scale:into:outStride:workspace:path:)`` needs.
  public static func bfloat16WorkspaceCount(n: Int, d: Int) -> Int {
    winnow_attention_bf16_workspace_floats(Int32(n), Int32(d))
  }

  /// `out[i, 0..<d]` (row `i` at `out + i·outStride`) = attention of `n` query rows over `n`
  /// key and value rows, each of `d` values, row `r` of Q, K, V at `q/k/v + r·stride`.
  public static func bfloat16(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int, n: Int, d: Int,
    scale: Float, into out: UnsafeMutablePointer<Float>, outStride: Int, workspace: UnsafeMutablePointer<Float>,
    path: KernelPath = KernelDispatch.defaultPath
  ) {
    precondition(stride >= d && outStride >= d, "attention rows overlap: stride \(stride), \(outStride) < d \(d)")
    winnow_attention_bf16(q, k, v, Int32(stride), Int32(n), Int32(d), scale, out, Int32(outStride), workspace,
                          path == .native ? 1 : 0)
  }

  /// `x` rounded to the nearest bfloat16 (ties to even), as a Float.
  public static func roundedToBFloat16(_ x: Float) -> Float {
    let bits = x.bitPattern
    return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
  }

  /// The slow twin in Double: the same bf16 roundings of Q, K, V and P, exact sums.
  public static func bfloat16Reference(
    q: [Float], k: [Float], v: [Float], stride: Int, n: Int, d: Int, scale: Float
  ) -> [Float] {
    reference(q: q, k: k, v: v, stride: stride, n: n, d: d, scale: scale, round: roundedToBFloat16)
  }

  /// Attention in Double with no rounding of the operands (what bf16 approximates).
  public static func float64Reference(
    q: [Float], k: [Float], v: [Float], stride: Int, n: Int, d: Int, scale: Float
  ) -> [Float] {
    reference(q: q, k: k, v: v, stride: stride, n: n, d: d, scale: scale, round: { $0 })
  }

  static func reference(
    q: [Float], k: [Float], v: [Float], stride: Int, n: Int, d: Int, scale: Float, round: (Float) -> Float
  ) -> [Float] {
    var out = [Float](repeating: 0, count: n * d)
    for i in 0..<n {
      let scores = (0..<n).map { j in
        (0..<d).reduce(0.0) { $0 + Double(round(q[i * stride + $1])) * Double(round(k[j * stride + $1])) }
      }
      let maximum = scores.max() ?? 0
      let exps = scores.map { Foundation.exp(Double(scale) * ($0 - maximum)) }
      let sum = exps.reduce(0, +)
      let p = exps.map { Double(round(Float($0 / sum))) }
      for c in 0..<d {
        out[i * d + c] = Float((0..<n).reduce(0.0) { $0 + p[$1] * Double(round(v[$1 * stride + c])) })
      }
    }
    return out
  }
}
