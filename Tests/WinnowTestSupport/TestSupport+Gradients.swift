import WinnowCore

/// Central-difference gradient of the scalar `f` at `x`, with `f` evaluated in Double.
///
///     ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / ((xᵢ + h) − (xᵢ − h))
///
/// The denominator is the step actually taken after rounding `xᵢ ± h` to Float32, so the
/// only errors are the O(h²) truncation and the Float32 rounding inside `f`, of order
/// `ε·|terms of f|/h`. Returning Double from `f` (e.g. a ``weightedSum(_:_:)``) keeps the
/// final reduction from adding its own `ε·|f|/h`.
public func numericGradientInDouble(of f: (Tensor) -> Double, at x: Tensor, h: Float = 1e-2) -> Tensor {
  var grad = [Float](repeating: 0, count: x.count)
  let base = x.detached
  for i in 0..<x.count {
    var plus = base, minus = base
    plus.withUnsafeMutableBufferPointer { $0[i] += h }
    minus.withUnsafeMutableBufferPointer { $0[i] -= h }
    let step = Double(plus.scalars[i]) - Double(minus.scalars[i])
    grad[i] = Float((f(plus) - f(minus)) / step)
  }
  return Tensor(shape: x.shape, scalars: grad)
}

/// `Σᵢ wᵢ·yᵢ` accumulated in Double: a scalar loss in which every element of `y` matters.
public func weightedSum(_ y: Tensor, _ w: Tensor) -> Double {
  precondition(y.shape == w.shape, "weights \(w.shape) for output \(y.shape)")
  return zip(y.scalars, w.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Nil when every element satisfies `|analytic − numeric| ≤ atol + rtol·|numeric|`, else a
/// report of the worst element relative to its tolerance (for assertion messages).
public func gradientMismatch(_ analytic: Tensor, _ numeric: Tensor, atol: Float, rtol: Float) -> String? {
  guard analytic.shape == numeric.shape else {
    return "shapes differ: analytic \(analytic.shape), numeric \(numeric.shape)"
  }
  var worst: (index: Int, ratio: Float)? = nil
  for (i, (a, n)) in zip(analytic.scalars, numeric.scalars).enumerated() {
    let ratio = abs(a - n) / (atol + rtol * abs(n))
    if !(ratio <= 1), worst == nil || !(ratio <= worst!.ratio) { worst = (i, ratio) }
  }
  guard let worst else { return nil }
  let a = analytic.scalars[worst.index], n = numeric.scalars[worst.index]
  let failing = zip(analytic.scalars, numeric.scalars).filter { !(abs($0 - $1) <= atol + rtol * abs($1)) }.count
  return "\(failing) of \(analytic.count) elements out of tolerance; worst at flat index \(worst.index): "
    + "analytic \(a), numeric \(n), |diff| \(abs(a - n)) > \(atol) + \(rtol)·|numeric|"
}

/// Seeded tensor of distinct values `spacing` apart (a shuffled grid centred on 0), so that
/// maxima have no ties and no two elements are within `spacing` of each other.
public func distinctValues(_ shape: [Int], seed: UInt64, spacing: Float = 0.05) -> Tensor {
  var rng = RandomGenerator(seed: seed)
  let count = shape.reduce(1, *)
  let order = rng.permutation(count)
  return Tensor(shape: shape, scalars: order.map { (Float($0) - Float(count - 1) / 2) * spacing })
}

/// `x` with every element moved at least `margin` away from `point` (the kink of relu, abs,
/// clamp), keeping its side: values within `margin` of `point` are pushed out to `point ± margin`.
public func awayFrom(_ point: Float, _ x: Tensor, margin: Float) -> Tensor {
  Tensor(shape: x.shape, scalars: x.scalars.map { v in
    let d = v - point
    return abs(d) >= margin ? v : point + (d < 0 ? -margin : margin)
  })
}
