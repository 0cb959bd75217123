import CWinnowKernels
import Foundation

/// The row-wise kernels of transformer inference (fused, vectorised in C with run-time ISA
/// dispatch, `Sources/CWinnowKernels/transformer_kernels.c`), each with a slow reference twin
/// in Double that the tests compare it with.
public enum RowKernels {
  /// Which C variant runs on this CPU: "avx512f", "avx2" or "portable".
  public static var isa: String { String(cString: winnow_transformer_kernels_isa()) }

  /// `y[i] = x[i]·Φ(x[i])`, GELU with the exact Gaussian CDF; `x` may equal `y`.
  /// Absolute error ≤ ~2e-7·|x| (erf by Abramowitz & Stegun 7.1.26).
  public static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    winnow_gelu_erf_f32(x, y, count)
  }

  /// Softmax of `scale·x` in place over each of `rows` rows of `length` values, row `r`
  /// starting at `x + r·stride` (`stride ≥ length`).
  public static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, length: Int, stride: Int, scale: Float) {
    precondition(stride >= length, "softmax rows overlap: stride \(stride) < length \(length)")
    winnow_softmax_rows_f32(x, rows, length, stride, scale)
  }

  /// `x ← LayerNorm(x + residual)·γ + β` over each row of `width` values (biased variance,
  /// ε inside the square root, as PyTorch); `residual` may be nil.
  public static func addLayerNorm(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>,
    beta: UnsafePointer<Float>, rows: Int, width: Int, epsilon: Float
  ) {
    winnow_add_layer_norm_f32(x, residual, gamma, beta, rows, width, epsilon)
  }

  // MARK: - Reference twins (Double arithmetic, libm erf and exp)

  public static func geluReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
      let v = Double(x[i])
      y[i] = Float(0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot())))
    }
  }

  public static func softmaxReference(
    _ x: UnsafeMutablePointer<Float>, rows: Int, length: Int, stride: Int, scale: Float
  ) {
    for r in 0..<rows {
      let p = x + r * stride
      let scaled = (0..<length).map { Double(p[$0]) * Double(scale) }
      let maximum = scaled.max() ?? 0
      let exps = scaled.map { Foundation.exp($0 - maximum) }
      let sum = exps.reduce(0, +)
      for i in 0..<length { p[i] = Float(exps[i] / sum) }
    }
  }

  public static func addLayerNormReference(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>,
    beta: UnsafePointer<Float>, rows: Int, width: Int, epsilon: Float
  ) {
    for r in 0..<rows {
      let p = x + r * width
      let values = (0..<width).map { Double(p[$0]) + Double(residual?[r * width + $0] ?? 0) }
      let mean = values.reduce(0, +) / Double(width)
      let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
      let inverse = 1 / (variance + Double(epsilon)).squareRoot()
      for i in 0..<width { p[i] = Float((values[i] - mean) * inverse * Double(gamma[i]) + Double(beta[i])) }
    }
  }
}
