import Foundation
import Testing
import WinnowKernels
import WinnowTestSupport

/// Deterministic values uniform in `range` (test inputs as plain arrays).
private func values(_ count: Int, seed: UInt64, in range: ClosedRange<Float> = -1...1) -> [Float] {
  randomTensor([count], seed: seed, in: range).scalars
}

/// Row-major strides of `shape`.
private func strides(_ shape: [Int]) -> [Int] {
  var s = [Int](repeating: 1, count: shape.count)
  for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
  return s
}

/// The multi-index of flat position `flat` in a row-major array of `shape`.
private func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
  zip(shape, strides(shape)).map { size, step in (flat / step) % size }
}

/// Elementwise and reduction kernels against naive loops: broadcasting, unary functions,
/// reductions along an axis, and permutation (one suite, extended section by section).
@Suite struct ElementwiseTests {}

// MARK: - Broadcasting

/// Two operand shapes for a broadcast binary operation.
struct BroadcastPair: Sendable, CustomStringConvertible {
  var a: [Int], b: [Int]
  var description: String { "\(a) ⊕ \(b)" }

  static let all: [BroadcastPair] = [
    ([], []), ([], [2, 3]), ([2, 3], []), ([5], [5]), ([1], [7]), ([7], [1]), ([17], [17]),
    ([2, 3, 4, 5], [3, 1, 1]), ([3, 1, 1], [2, 3, 4, 5]),  // N×C×H×W with a per-channel C×1×1
    ([3, 1, 5], [1, 4, 1]), ([1, 4, 1], [3, 1, 5]),
    ([4, 1], [3]), ([3], [4, 1]), ([2, 3, 4], [4]), ([2, 3, 4], [1, 3, 1]), ([2, 1, 3], [2, 4, 1]),
    ([6, 1, 1, 17], [1, 5, 9, 1]), ([33, 1], [1, 33]), ([2, 3, 4], [2, 3, 4]), ([1, 1, 1], [2, 1, 3]),
    ([2, 1, 1, 1, 3], [1, 2, 1]),
    // Zero-size operands broadcast to zero-size results.
    ([0, 3], [1, 3]), ([2, 0], [2, 1]), ([0], []), ([1, 0, 3], [4, 1, 3]), ([0], [1]),
  ].map { BroadcastPair(a: $0.0, b: $0.1) }
}

/// The test's own statement of each function, one IEEE operation each (so exact).
private func naive(_ f: BinaryFunction, _ a: Float, _ b: Float) -> Float {
  switch f {
  case .add: return a + b
  case .subtract: return a - b
  case .multiply: return a * b
  case .divide: return a / b
  case .maximum: return a >= b ? a : b
  case .minimum: return a <= b ? a : b
  }
}

/// NumPy's rule, stated directly: align on the right; sizes equal, or one of them 1.
private func naiveBroadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
  let rank = max(a.count, b.count)
  let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
  var out: [Int] = []
  for (x, y) in zip(pa, pb) {
    guard x == y || x == 1 || y == 1 else { return nil }
    out.append(x == 1 ? y : x)
  }
  return out
}

/// Index into an operand of `shape` for output multi-index `index` (broadcast axes read 0).
private func operandIndex(_ index: [Int], _ shape: [Int]) -> Int {
  let pad = index.count - shape.count
  return zip(shape.indices, strides(shape)).reduce(0) { sum, axis in
    sum + (shape[axis.0] == 1 ? 0 : index[axis.0 + pad]) * axis.1
  }
}

extension ElementwiseTests {
  /// `broadcastBinary` equals an index-by-index loop bit for bit: both apply the same single
  /// IEEE operation to the same pair of elements.
  @Test(arguments: BinaryFunction.allCases, BroadcastPair.all)
  func broadcastBinaryMatchesNaiveLoop(_ f: BinaryFunction, _ pair: BroadcastPair) throws {
    let outShape = try #require(naiveBroadcastShape(pair.a, pair.b))
    #expect(broadcastShape(pair.a, pair.b) == outShape)
    let a = values(pair.a.reduce(1, *), seed: 1)
    // Divisors kept away from 0 so every quotient is finite (and comparable).
    let b = values(pair.b.reduce(1, *), seed: 2).map { $0 < 0 ? $0 - 0.1 : $0 + 0.1 }
    let total = outShape.reduce(1, *)
    var out = [Float](repeating: .nan, count: max(total, 1))
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        out.withUnsafeMutableBufferPointer { po in
          let emptyA = [Float(0)], emptyB = [Float(0)]
          emptyA.withUnsafeBufferPointer { ea in
            emptyB.withUnsafeBufferPointer { eb in
              broadcastBinary(f, (pa.baseAddress ?? ea.baseAddress)!, shapeA: pair.a,
                              (pb.baseAddress ?? eb.baseAddress)!, shapeB: pair.b, po.baseAddress!, outShape: outShape)
            }
          }
        }
      }
    }
    for flat in 0..<total {
      let index = unravel(flat, outShape)
      let expected = naive(f, a[operandIndex(index, pair.a)], b[operandIndex(index, pair.b)])
      if out[flat] != expected {
        Issue.record("\(f) \(pair): out\(index) = \(out[flat]), expected \(expected)")
        return
      }
    }
    if total == 0 { #expect(out[0].isNaN, "wrote into a zero-size output") }
  }

  @Test func incompatibleShapesDoNotBroadcast() {
    for (a, b) in [([3], [4]), ([2, 3], [3, 2]), ([2, 1, 3], [4, 2]), ([0], [2])] {
      #expect(broadcastShape(a, b) == nil, "\(a) ⊕ \(b)")
      #expect(naiveBroadcastShape(a, b) == nil)
    }
  }

  /// `broadcastStrides` gives stride 0 on broadcast axes and row-major strides elsewhere.
  @Test func broadcastStridesZeroOnBroadcastAxes() {
    #expect(broadcastStrides([3, 1, 1], to: [2, 3, 4, 5]) == [0, 1, 0, 0])
    #expect(broadcastStrides([3, 1, 5], to: [3, 4, 5]) == [5, 0, 1])
    #expect(broadcastStrides([], to: [2, 2]) == [0, 0])
    #expect(broadcastStrides([1, 1], to: [1, 1]) == [1, 1])
  }
}

// MARK: - Unary functions

/// Each function and its derivative in Double, from the textbook formulas.
private func reference(_ f: UnaryFunction, _ x: Double) -> (value: Double, derivative: Double) {
  let sqrt2OverPi = (2 / Double.pi).squareRoot()
  switch f {
  case .negate: return (-x, -1)
  case .exp: return (Foundation.exp(x), Foundation.exp(x))
  case .log: return (Foundation.log(x), 1 / x)
  case .sqrt: return (x.squareRoot(), 0.5 / x.squareRoot())
  case .tanh: let t = Foundation.tanh(x); return (t, 1 - t * t)
  case .sigmoid: let s = 1 / (1 + Foundation.exp(-x)); return (s, s * (1 - s))
  case .relu: return (max(x, 0), x > 0 ? 1 : 0)
  case .abs: return (Swift.abs(x), x > 0 ? 1 : x < 0 ? -1 : 0)
  case .erf: return (Foundation.erf(x), 2 / Double.pi.squareRoot() * Foundation.exp(-x * x))
  case .gelu:
    let cdf = 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot()))
    let pdf = Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
    return (x * cdf, cdf + x * pdf)
  case .geluTanh:
    let t = Foundation.tanh(sqrt2OverPi * (x + 0.044715 * x * x * x))
    return (0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt2OverPi * (1 + 3 * 0.044715 * x * x))
  case .silu: let s = 1 / (1 + Foundation.exp(-x)); return (x * s, s + x * s * (1 - s))
  }
}

/// Inputs for `f`: its domain sampled densely, plus 0 and values near it where defined.
private func unaryInputs(_ f: UnaryFunction) -> [Float] {
  switch f {
  case .log, .sqrt: return values(997, seed: 3, in: 0.01...20) + [1, 0.5, 1e-3, 100]
  case .exp: return values(997, seed: 3, in: -20...20) + [0, 1e-4, -1e-4, 80]
  default: return values(997, seed: 3, in: -8...8) + [0, 1e-4, -1e-4, 0.5, -0.5, 30, -30]
  }
}

extension ElementwiseTests {
  /// Forward kernels against Double formulas. Tolerance `|y − r| ≤ 8u·(|r| + |x|)` with
  /// `u = 2⁻²⁴`: a few ulps of the result, plus a few ulps of the input for the composites
  /// (`x·Φ(x)`, `x·σ(x)`) whose Float32 evaluation loses relative accuracy where the factor
  /// cancels (`1 + erf(x/√2)` for x ≪ 0), which leaves an error proportional to `u·|x|`.
  @Test(arguments: UnaryFunction.allCases)
  func forwardMatchesDoubleFormula(_ f: UnaryFunction) {
    let x = unaryInputs(f)
    var y = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { f.forward(px.baseAddress!, $0.baseAddress!, count: x.count) } }
    let u = Double(Float.ulpOfOne) / 2
    for (xi, yi) in zip(x, y) {
      let r = reference(f, Double(xi)).value
      let tolerance = 8 * u * (Swift.abs(r) + Swift.abs(Double(xi)))
      if !(Swift.abs(Double(yi) - r) <= tolerance) {
        Issue.record("\(f)(\(xi)) = \(yi), Double formula \(r), |diff| \(Swift.abs(Double(yi) - r)) > \(tolerance)")
        return
      }
    }
  }

  /// Backward kernels against the Double derivative, times a random cotangent `g`. The kernel
  /// receives the Float32 forward output; tolerance `16u·(|g·r'| + |g|·(1 + |x|))` allows a few
  /// ulps of the result and of the terms it is formed from (e.g. `1 − y²` for tanh).
  @Test(arguments: UnaryFunction.allCases)
  func backwardMatchesDoubleDerivative(_ f: UnaryFunction) {
    let x = unaryInputs(f)
    let g = values(x.count, seed: 4)
    var y = [Float](repeating: .nan, count: x.count), dx = y
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { f.forward(px.baseAddress!, $0.baseAddress!, count: x.count) }
      y.withUnsafeBufferPointer { py in
        g.withUnsafeBufferPointer { pg in
          dx.withUnsafeMutableBufferPointer {
            f.backward(x: px.baseAddress!, y: py.baseAddress!, g: pg.baseAddress!, dx: $0.baseAddress!, count: x.count)
          }
        }
      }
    }
    let u = Double(Float.ulpOfOne) / 2
    for i in x.indices {
      let expected = Double(g[i]) * reference(f, Double(x[i])).derivative
      let tolerance = 16 * u * (Swift.abs(expected) + Swift.abs(Double(g[i])) * (1 + Swift.abs(Double(x[i]))))
      if !(Swift.abs(Double(dx[i]) - expected) <= tolerance) {
        Issue.record("\(f)′(\(x[i]))·\(g[i]) = \(dx[i]), Double \(expected), |diff| \(Swift.abs(Double(dx[i]) - expected)) > \(tolerance)")
        return
      }
    }
  }

  /// Sigmoid and SiLU do not overflow for large |x| (the split-by-sign logistic).
  @Test func logisticIsStableAtExtremes() {
    let x: [Float] = [-200, -100, 100, 200]
    for f in [UnaryFunction.sigmoid, .silu] {
      var y = [Float](repeating: .nan, count: x.count)
      x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { f.forward(px.baseAddress!, $0.baseAddress!, count: x.count) } }
      #expect(y.allSatisfy { $0.isFinite }, "\(f): \(y)")
    }
  }
}

// MARK: - Reductions and permutation

/// `[outer, length, inner]` views over sizes below, at and above small tile edges.
struct AxisView: Sendable, CustomStringConvertible {
  var outer: Int, length: Int, inner: Int
  var count: Int { outer * length * inner }
  var description: String { "[\(outer), \(length), \(inner)]" }
  func index(_ o: Int, _ r: Int, _ i: Int) -> Int { (o * length + r) * inner + i }

  static let sizes = [1, 2, 3, 7, 8, 9, 17]
  static let all: [AxisView] = sizes.flatMap { o in
    sizes.flatMap { l in [1, 2, 8, 9].map { i in AxisView(outer: o, length: l, inner: i) } }
  }
}

extension ElementwiseTests {
  /// Sum over the middle axis against a Double loop; `length` Float32 additions of values in
  /// [-1, 1] err by at most `length·u·length`, under 2e-5 for length ≤ 17.
  @Test(arguments: AxisView.all + [AxisView(outer: 3, length: 0, inner: 4)])
  func sumAxisMatchesNaiveLoop(_ v: AxisView) {
    let x = values(max(v.count, 1), seed: 5)  // one element for length 0, never read
    var y = [Float](repeating: .nan, count: v.outer * v.inner)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { sumAxis(px.baseAddress!, outer: v.outer, length: v.length, inner: v.inner, $0.baseAddress!) }
    }
    for o in 0..<v.outer {
      for i in 0..<v.inner {
        let expected = (0..<v.length).reduce(0.0) { $0 + Double(x[v.index(o, $1, i)]) }
        guard Swift.abs(Double(y[o * v.inner + i]) - expected) <= 2e-5 else {
          Issue.record("\(v) [\(o), \(i)]: \(y[o * v.inner + i]) vs \(expected)")
          return
        }
      }
    }
  }

  /// Maximum and first-maximum index, exactly; values are multiples of 1/4 so ties are common.
  @Test(arguments: AxisView.all)
  func maxAxisMatchesNaiveLoop(_ v: AxisView) {
    let x = values(v.count, seed: 6).map { ($0 * 4).rounded() / 4 }
    var y = [Float](repeating: .nan, count: v.outer * v.inner), argmax = [Int32](repeating: -1, count: y.count)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        argmax.withUnsafeMutableBufferPointer {
          maxAxis(px.baseAddress!, outer: v.outer, length: v.length, inner: v.inner, py.baseAddress!, argmax: $0.baseAddress!)
        }
      }
    }
    for o in 0..<v.outer {
      for i in 0..<v.inner {
        var best = x[v.index(o, 0, i)], at = 0
        for r in 1..<v.length where x[v.index(o, r, i)] > best { best = x[v.index(o, r, i)]; at = r }
        let k = o * v.inner + i
        guard y[k] == best && Int(argmax[k]) == at else {
          Issue.record("\(v) [\(o), \(i)]: \(y[k]) at \(argmax[k]), expected \(best) at \(at)")
          return
        }
      }
    }
  }

  /// NaN wins a maximum (PyTorch semantics), and its index is reported.
  @Test func maxAxisPropagatesNaN() {
    let x: [Float] = [1, .nan, 3, 2]
    var y: [Float] = [0], argmax: [Int32] = [0]
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        argmax.withUnsafeMutableBufferPointer { maxAxis(px.baseAddress!, outer: 1, length: 4, inner: 1, py.baseAddress!, argmax: $0.baseAddress!) }
      }
    }
    #expect(y[0].isNaN && argmax[0] == 1)
  }

  /// Softmax and log-softmax against Double, then their backward against the Double
  /// formulas `dx = y⊙(g − Σg·y)` and `dx = g − softmax·Σg`. Inputs span [-8, 8], so
  /// exponentials span e¹⁶; tolerance `1e-6 + 1e-5·|r|`: a few ulps of each term, summed over
  /// up to 17 terms.
  @Test(arguments: AxisView.all, [false, true])
  func softmaxAxisMatchesNaiveLoop(_ v: AxisView, logarithm: Bool) {
    let x = values(v.count, seed: 7, in: -8...8)
    let g = values(v.count, seed: 8)
    var y = [Float](repeating: .nan, count: v.count), dx = y
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer {
        softmaxAxis(px.baseAddress!, outer: v.outer, length: v.length, inner: v.inner, $0.baseAddress!, logarithm: logarithm)
      }
    }
    y.withUnsafeBufferPointer { py in
      g.withUnsafeBufferPointer { pg in
        dx.withUnsafeMutableBufferPointer {
          softmaxAxisBackward(y: py.baseAddress!, g: pg.baseAddress!, outer: v.outer, length: v.length, inner: v.inner,
                              $0.baseAddress!, logarithm: logarithm)
        }
      }
    }
    for o in 0..<v.outer {
      for i in 0..<v.inner {
        let row = (0..<v.length).map { v.index(o, $0, i) }
        let m = row.map { Double(x[$0]) }.max()!
        let s = row.reduce(0.0) { $0 + Foundation.exp(Double(x[$1]) - m) }
        let p = row.map { Foundation.exp(Double(x[$0]) - m) / s }
        let gy = zip(row, p).reduce(0.0) { $0 + Double(g[$1.0]) * $1.1 }
        let gSum = row.reduce(0.0) { $0 + Double(g[$1]) }
        for (r, k) in row.enumerated() {
          let value = logarithm ? Foundation.log(p[r]) : p[r]
          let gradient = logarithm ? Double(g[k]) - p[r] * gSum : p[r] * (Double(g[k]) - gy)
          guard Swift.abs(Double(y[k]) - value) <= 1e-6 + 1e-5 * Swift.abs(value),
            Swift.abs(Double(dx[k]) - gradient) <= 1e-6 + 1e-5 * Swift.abs(gradient)
          else {
            Issue.record("\(v) at \(k): y \(y[k]) vs \(value), dx \(dx[k]) vs \(gradient)")
            return
          }
        }
      }
    }
  }
}

/// All permutations of `0..<n`.
private func permutations(_ n: Int) -> [[Int]] {
  if n == 0 { return [[]] }
  return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
}

extension ElementwiseTests {
  /// Every permutation of ranks 0–4 on shapes with size-1, odd and zero-size axes equals a
  /// gather by multi-index (exactly: it only moves values).
  @Test(arguments: [[], [5], [1], [3, 4], [1, 7], [2, 3, 4], [3, 1, 5], [2, 0, 3], [2, 3, 4, 5], [1, 9, 1, 8], [3, 2, 1, 17]])
  func permuteMatchesNaiveGather(_ shape: [Int]) {
    let total = shape.reduce(1, *)
    let x = values(max(total, 1), seed: 9)
    for permutation in permutations(shape.count) {
      let outShape = permutation.map { shape[$0] }
      var y = [Float](repeating: .nan, count: max(total, 1))
      x.withUnsafeBufferPointer { px in
        y.withUnsafeMutableBufferPointer { permute(px.baseAddress!, shape: shape, permutation: permutation, $0.baseAddress!) }
      }
      let inStrides = strides(shape)
      for flat in 0..<total {
        let index = unravel(flat, outShape)
        let source = zip(permutation, index).reduce(0) { $0 + inStrides[$1.0] * $1.1 }
        if y[flat] != x[source] {
          Issue.record("\(shape) permuted by \(permutation): y\(index) = \(y[flat]), expected \(x[source])")
          return
        }
      }
    }
  }
}
