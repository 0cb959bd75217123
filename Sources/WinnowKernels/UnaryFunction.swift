/// Elementwise functions of one argument, with their forward and derivative kernels.
///
/// The derivative kernel receives the input `x`, the forward output `y` and the output
/// cotangent `g`, and writes `dx = g · f'(x)`; each case uses whichever of `x`/`y` is cheaper.
public enum UnaryFunction: Hashable, Sendable, CaseIterable {
  case negate, exp, log, sqrt, tanh, sigmoid, relu, abs, erf
  /// GELU with the exact Gaussian CDF: `x · Φ(x)` (PyTorch `approximate="none"`).
  case gelu
  /// GELU with the tanh approximation (PyTorch `approximate="tanh"`).
  case geluTanh
  /// SiLU / swish: `x · σ(x)`.
  case silu

  /// Applies the function: `y[i] = f(x[i])` for `i < count`.
  public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    switch self {
    case .negate: for i in 0..<count { y[i] = -x[i] }
    case .exp: for i in 0..<count { y[i] = expf(x[i]) }
    case .log: for i in 0..<count { y[i] = logf(x[i]) }
    case .sqrt: for i in 0..<count { y[i] = x[i].squareRoot() }
    case .tanh: for i in 0..<count { y[i] = tanhf(x[i]) }
    case .sigmoid: for i in 0..<count { y[i] = logistic(x[i]) }
    case .relu: for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
    case .abs: for i in 0..<count { y[i] = Swift.abs(x[i]) }
    case .erf: for i in 0..<count { y[i] = erff(x[i]) }
    case .gelu: for i in 0..<count { y[i] = x[i] * normalCDF(x[i]) }
    case .geluTanh: for i in 0..<count { y[i] = 0.5 * x[i] * (1 + tanhf(geluInner(x[i]))) }
    case .silu: for i in 0..<count { y[i] = x[i] * logistic(x[i]) }
    }
  }

  /// Writes `dx[i] = g[i] · f'(x[i])`, given the input `x` and the forward output `y`.
  public func backward(
    x: UnsafePointer<Float>, y: UnsafePointer<Float>, g: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>, count: Int
  ) {
    switch self {
    case .negate: for i in 0..<count { dx[i] = -g[i] }
    case .exp: for i in 0..<count { dx[i] = g[i] * y[i] }
    case .log: for i in 0..<count { dx[i] = g[i] / x[i] }
    case .sqrt: for i in 0..<count { dx[i] = g[i] * 0.5 / y[i] }
    case .tanh: for i in 0..<count { dx[i] = g[i] * (1 - y[i] * y[i]) }
    case .sigmoid: for i in 0..<count { dx[i] = g[i] * y[i] * (1 - y[i]) }
    // Load g unconditionally: a select of two loaded values vectorises, a conditional load
    // does not (and mispredicts on random signs).
    case .relu:
      for i in 0..<count {
        let gi = g[i]
        dx[i] = x[i] > 0 ? gi : 0
      }
    case .abs:
      for i in 0..<count {
        let gi = g[i]
        dx[i] = x[i] > 0 ? gi : (x[i] < 0 ? -gi : 0)
      }
    case .erf:
      for i in 0..<count { dx[i] = g[i] * 1.1283791670955126 * expf(-x[i] * x[i]) }
    case .gelu:
      for i in 0..<count {
        let v = x[i]
        dx[i] = g[i] * (normalCDF(v) + v * 0.3989422804014327 * expf(-0.5 * v * v))
      }
    case .geluTanh:
      for i in 0..<count {
        let v = x[i]
        let t = tanhf(geluInner(v))
        let dInner: Float = 0.7978845608028654 * (1 + 3 * 0.044715 * v * v)
        dx[i] = g[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dInner)
      }
    case .silu:
      for i in 0..<count {
        let s = logistic(x[i])
        dx[i] = g[i] * (s + x[i] * s * (1 - s))
      }
    }
  }
}

@inline(__always) func logistic(_ x: Float) -> Float {
  // Split by sign so exp never overflows.
  if x >= 0 { return 1 / (1 + expf(-x)) }
  let e = expf(x)
  return e / (1 + e)
}

@inline(__always) func normalCDF(_ x: Float) -> Float { 0.5 * (1 + erff(x * 0.7071067811865476)) }

@inline(__always) func geluInner(_ x: Float) -> Float {
  0.7978845608028654 * (x + 0.044715 * x * x * x)
}
