import WinnowCore

/// Largest absolute difference between two equally shaped tensors (∞ on shape mismatch).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
  guard a.shape == b.shape else { return .infinity }
  return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// True when every element satisfies `|a − b| ≤ atol + rtol·|b|` (NumPy's `allclose`).
public func allClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
  guard a.shape == b.shape else { return false }
  return zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
}

/// A short report of where two tensors differ most, for assertion messages.
public func differenceReport(_ a: Tensor, _ b: Tensor) -> String {
  guard a.shape == b.shape else { return "shapes differ: \(a.shape) vs \(b.shape)" }
  var worst = 0
  var worstDiff: Float = -1
  for (i, (x, y)) in zip(a.scalars, b.scalars).enumerated() where abs(x - y) > worstDiff {
    worstDiff = abs(x - y)
    worst = i
  }
  return "max |diff| \(worstDiff) at flat index \(worst): \(a.scalars.isEmpty ? 0 : a.scalars[worst]) vs \(b.scalars.isEmpty ? 0 : b.scalars[worst])"
}

/// Central-difference gradient of the scalar `f` at `x` with step `h`, differences taken in
/// Double. O(h²) truncation error plus Float32 rounding of `f` of order `ε·|f|/h`.
public func numericGradient(of f: (Tensor) -> Float, at x: Tensor, h: Float = 1e-2) -> Tensor {
  var grad = [Float](repeating: 0, count: x.count)
  for i in 0..<x.count {
    var plus = x.detached, minus = x.detached
    plus.withUnsafeMutableBufferPointer { $0[i] += h }
    minus.withUnsafeMutableBufferPointer { $0[i] -= h }
    grad[i] = Float((Double(f(plus)) - Double(f(minus))) / (2 * Double(h)))
  }
  return Tensor(shape: x.shape, scalars: grad)
}

/// Seeded random tensor with entries uniform in `range` (test inputs).
public func randomTensor(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
  var rng = RandomGenerator(seed: seed)
  return .randomUniform(shape, in: range, using: &rng)
}

/// Sizes around a tile dimension `t`: below, at, above, and multiples (XNNPACK-style edges).
public func tileEdges(_ t: Int) -> [Int] {
  Array(Set([1, max(1, t - 1), t, t + 1, 2 * t, 2 * t + 1, 3 * t - 1])).sorted()
}
