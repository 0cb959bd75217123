import WinnowKernels

// Elementwise arithmetic with NumPy broadcasting. A Float operand acts as a rank-0 tensor.
extension Tensor {
  public static func + (a: Tensor, b: Tensor) -> Tensor { apply(.binary(.add), [a, b]) }
  public static func - (a: Tensor, b: Tensor) -> Tensor { apply(.binary(.subtract), [a, b]) }
  public static func * (a: Tensor, b: Tensor) -> Tensor { apply(.binary(.multiply), [a, b]) }
  public static func / (a: Tensor, b: Tensor) -> Tensor { apply(.binary(.divide), [a, b]) }
  public static prefix func - (a: Tensor) -> Tensor { apply(.unary(.negate), [a]) }

  public static func + (a: Tensor, b: Float) -> Tensor { a + Tensor(b) }
  public static func - (a: Tensor, b: Float) -> Tensor { a - Tensor(b) }
  public static func * (a: Tensor, b: Float) -> Tensor { a * Tensor(b) }
  public static func / (a: Tensor, b: Float) -> Tensor { a * Tensor(1 / b) }
  public static func + (a: Float, b: Tensor) -> Tensor { Tensor(a) + b }
  public static func - (a: Float, b: Tensor) -> Tensor { Tensor(a) - b }
  public static func * (a: Float, b: Tensor) -> Tensor { Tensor(a) * b }
  public static func / (a: Float, b: Tensor) -> Tensor { Tensor(a) / b }

  public static func += (a: inout Tensor, b: Tensor) { a = a + b }
  public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
  public static func *= (a: inout Tensor, b: Tensor) { a = a * b }

  /// Elementwise maximum (ties send the gradient to `self`).
  public func maximum(_ other: Tensor) -> Tensor { .apply(.binary(.maximum), [self, other]) }
  /// Elementwise minimum (ties send the gradient to `self`).
  public func minimum(_ other: Tensor) -> Tensor { .apply(.binary(.minimum), [self, other]) }

  public func exp() -> Tensor { .apply(.unary(.exp), [self]) }
  public func log() -> Tensor { .apply(.unary(.log), [self]) }
  public func sqrt() -> Tensor { .apply(.unary(.sqrt), [self]) }
  public func tanh() -> Tensor { .apply(.unary(.tanh), [self]) }
  public func sigmoid() -> Tensor { .apply(.unary(.sigmoid), [self]) }
  public func relu() -> Tensor { .apply(.unary(.relu), [self]) }
  public func abs() -> Tensor { .apply(.unary(.abs), [self]) }
  public func erf() -> Tensor { .apply(.unary(.erf), [self]) }
  /// GELU, exact (`x·Φ(x)`) or with the tanh approximation.
  public func gelu(approximateTanh: Bool = false) -> Tensor {
    .apply(.unary(approximateTanh ? .geluTanh : .gelu), [self])
  }
  public func silu() -> Tensor { .apply(.unary(.silu), [self]) }
  public func pow(_ exponent: Float) -> Tensor { .apply(.power(exponent), [self]) }
  public func squared() -> Tensor { self * self }
  /// `min(max(x, low), high)`; the gradient passes where `low ≤ x ≤ high` (as PyTorch).
  public func clamped(_ low: Float, _ high: Float) -> Tensor { .apply(.clamp(low: low, high: high), [self]) }
}
