import Foundation
import WinnowCore

/// Elementwise operators: activations, arithmetic with broadcasting, comparisons, Where, Cast.
extension ONNXOperators {
  static let elementwise: [String: Kernel] = [
    "Relu": unary { $0.relu() }, "Sigmoid": unary { $0.sigmoid() }, "Tanh": unary { $0.tanh() },
    "Erf": unary { $0.erf() }, "Exp": unary { $0.exp() }, "Log": unary { $0.log() },
    "Neg": unary({ -$0 }, integer: { 0 &- $0 }), "Abs": unary({ $0.abs() }, integer: { $0 < 0 ? 0 &- $0 : $0 }), "Sqrt": unary { $0.sqrt() },
    "Reciprocal": unary { 1 / $0 }, "Softsign": unary { $0 / ($0.abs() + 1) },
    "Softplus": unary { ($0.exp() + 1).log() },
    "Identity": { n throws(ONNXError) in [try n.value(0)] },
    "Gelu": { n throws(ONNXError) in [.float(try n.float(0).gelu(approximateTanh: n.string("approximate", default: "none") == "tanh"))] },
    "LeakyRelu": { n throws(ONNXError) in
      let x = try n.float(0), alpha = n.float("alpha", default: 0.01)
      return [.float(x.relu() - (-x).relu() * alpha)]
    },
    "Elu": { n throws(ONNXError) in
      let x = try n.float(0), alpha = n.float("alpha", default: 1)
      return [.float(x.relu() + ((x.minimum(Tensor(0))).exp() - 1) * alpha)]
    },
    "HardSigmoid": { n throws(ONNXError) in
      let x = try n.float(0)
      return [.float((x * n.float("alpha", default: 0.2) + n.float("beta", default: 0.5)).clamped(0, 1))]
    },
    "Clip": clip, "Shrink": shrink,
    "Add": arithmetic(+, { $0 &+ $1 }), "Sub": arithmetic(-, { $0 &- $1 }),
    "Mul": arithmetic(*, { $0 &* $1 }), "Div": arithmetic(/, { $1 == 0 ? 0 : $0 / $1 }),
    "Max": variadic({ $0.maximum($1) }, integer: { Swift.max($0, $1) }),
    "Min": variadic({ $0.minimum($1) }, integer: { Swift.min($0, $1) }), "Sum": variadic(+, integer: { $0 &+ $1 }),
    "Mean": { n throws(ONNXError) in
      let total = try variadic(+, integer: nil)(n)[0]
      guard case .float(let t) = total else { throw n.fail("expects float inputs") }
      return [.float(t * (1 / Float(n.inputCount)))]
    },
    "Pow": pow,
    "Equal": compare { $0 == $1 }, "Less": compare { $0 < $1 }, "Greater": compare { $0 > $1 },
    "LessOrEqual": compare { $0 <= $1 }, "GreaterOrEqual": compare { $0 >= $1 },
    "Not": { n throws(ONNXError) in
      let x = try n.integers(0)
      return [.integer(ONNXIntegers(shape: x.shape, values: x.values.map { $0 == 0 ? 1 : 0 }, dataType: .bool))]
    },
    "And": logical { $0 && $1 }, "Or": logical { $0 || $1 }, "Xor": logical { $0 != $1 },
    "Where": whereSelect,
    "Cast": { n throws(ONNXError) in [try cast(n.value(0), to: n.int("to", default: 1), n)] },
    "CastLike": { n throws(ONNXError) in [try cast(n.value(0), to: Int(n.value(1).dataType.rawValue), n)] },
  ]

  /// A float function, and optionally its integer counterpart.
  static func unary(_ f: @escaping @Sendable (Tensor) -> Tensor, integer g: (@Sendable (Int64) -> Int64)? = nil) -> Kernel {
    { n throws(ONNXError) in
      if let g, case .integer(let x) = try n.value(0) {
        return [.integer(ONNXIntegers(shape: x.shape, values: x.values.map { x.dataType.wrapping(g($0)) }, dataType: x.dataType))]
      }
      return [.float(f(try n.float(0)))]
    }
  }

  /// Float arithmetic through Winnow ops (recorded); integer arithmetic exactly.
  static func arithmetic(
    _ f: @escaping @Sendable (Tensor, Tensor) -> Tensor, _ g: @escaping @Sendable (Int64, Int64) -> Int64
  ) -> Kernel {
    { n throws(ONNXError) in
      switch (try n.value(0), try n.value(1)) {
      case (.float(let a), .float(let b)):
        _ = try n.broadcast(a.shape, b.shape)
        return [.float(f(a, b))]
      case (.integer(let a), .integer(let b)):
        return [.integer(try integerBinary(a, b, n, g))]
      default:
        throw n.fail("mixes float and integer inputs")
      }
    }
  }

  static func integerBinary(
    _ a: ONNXIntegers, _ b: ONNXIntegers, _ n: ONNXNode, resultType: TensorProto.DataType? = nil,
    _ g: (Int64, Int64) -> Int64
  ) throws(ONNXError) -> ONNXIntegers {
    let shape = try n.broadcast(a.shape, b.shape)
    let ia = broadcastSourceIndices(a.shape, to: shape), ib = broadcastSourceIndices(b.shape, to: shape)
    let type = resultType ?? a.dataType
    let values = (0..<ia.count).map { type.wrapping(g(a.values[ia[$0]], b.values[ib[$0]])) }
    return ONNXIntegers(shape: shape, values: values, dataType: type)
  }

  /// Max, Min, Sum over any number of inputs (folded left to right).
  static func variadic(_ f: @escaping @Sendable (Tensor, Tensor) -> Tensor, integer g: (@Sendable (Int64, Int64) -> Int64)?) -> Kernel {
    { n throws(ONNXError) in
      if let g, case .integer(var total) = try n.value(0) {
        for i in 1..<max(n.inputCount, 1) { total = try integerBinary(total, n.integers(i), n, g) }
        return [.integer(total)]
      }
      var result = try n.float(0)
      for i in 1..<max(n.inputCount, 1) {
        let next = try n.float(i)
        _ = try n.broadcast(result.shape, next.shape)
        result = f(result, next)
      }
      return [.float(result)]
    }
  }

  static func clip(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    if case .integer(let x) = try n.value(0) {
      let low = n.has(1) ? try n.integers(1).values.first ?? Int64.min : Int64.min
      let high = n.has(2) ? try n.integers(2).values.first ?? Int64.max : Int64.max
      return [.integer(ONNXIntegers(shape: x.shape, values: x.values.map { Swift.min(Swift.max($0, low), high) }, dataType: x.dataType))]
    }
    let x = try n.float(0)
    // Opset 11+: bounds are optional scalar inputs.
    let low = n.has(1) ? try n.float(1).scalars.first ?? -.infinity : -Float.infinity
    let high = n.has(2) ? try n.float(2).scalars.first ?? .infinity : Float.infinity
    return [.float(x.clamped(low, high))]
  }

  /// `Shrink`: `x + bias` below `−lambd`, `x − bias` above `lambd`, 0 between. The regions are
  /// constant 0/1 masks, so the gradient is exact away from the two thresholds.
  static func shrink(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let (lambda, bias) = (n.float("lambd", default: 0.5), n.float("bias", default: 0))
    let values = x.scalars
    let above = Tensor(shape: x.shape, scalars: values.map { $0 > lambda ? 1 : 0 })
    let below = Tensor(shape: x.shape, scalars: values.map { $0 < -lambda ? 1 : 0 })
    return [.float((x - bias) * above + (x + bias) * below)]
  }

  /// `x^y`: a constant scalar exponent becomes Winnow's `power` op; otherwise `exp(y·log x)`
  /// when recorded, and exact `powf` when both sides are constants (negative bases too).
  static func pow(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    if case .integer(let x) = try n.value(0) { return [.integer(try integerPower(x, n.value(1), n))] }
    let x = try n.float(0)
    let y: Tensor
    switch try n.value(1) {
    case .float(let t), .floating(let t, _): y = t
    case .integer(let i): y = i.floatTensor
    }
    let shape = try n.broadcast(x.shape, y.shape)
    if !y.isTracked, let first = y.scalars.first, y.scalars.allSatisfy({ $0 == first }) {
      return [.float(x.pow(first).expanded(to: shape))]
    }
    if !x.isTracked && !y.isTracked {
      let ix = broadcastSourceIndices(x.shape, to: shape), iy = broadcastSourceIndices(y.shape, to: shape)
      let (xs, ys) = (x.scalars, y.scalars)
      return [.float(Tensor(shape: shape, scalars: (0..<ix.count).map { powf(xs[ix[$0]], ys[iy[$0]]) }))]
    }
    return [.float((y * x.log()).exp())]
  }

  /// Integer `x^y` in `x`'s type, as NumPy computes `power(x, y).astype(x.dtype)`: exact
  /// (wrapping) multiplication by squaring for integer exponents, else `pow` in Double
  /// truncated toward zero.
  static func integerPower(_ x: ONNXIntegers, _ y: ONNXValue, _ n: ONNXNode) throws(ONNXError) -> ONNXIntegers {
    let exponents = numbers(y)
    let shape = try n.broadcast(x.shape, exponents.shape)
    let ix = broadcastSourceIndices(x.shape, to: shape), iy = broadcastSourceIndices(exponents.shape, to: shape)
    let integral = y.dataType.isInteger
    let values = (0..<ix.count).map { i -> Int64 in
      let (base, e) = (x.values[ix[i]], exponents.values[iy[i]])
      if integral {
        guard e >= 0 else { return base == 1 ? 1 : base == -1 ? (Int64(e) % 2 == 0 ? 1 : -1) : 0 }
        // Squaring: O(log e) steps; wrapping in Int64 then in the type agrees with wrapping each step.
        var (result, square, rest): (Int64, Int64, UInt64) = (1, base, UInt64(Swift.min(e, 1.8e19)))
        while rest > 0 {
          if rest & 1 == 1 { result = result &* square }
          square = square &* square
          rest >>= 1
        }
        return x.dataType.wrapping(result)
      }
      let p = Foundation.pow(Double(base), e)
      return p.isFinite ? x.dataType.wrapping(Int64(Swift.max(Swift.min(p.rounded(.towardZero), 9.2e18), -9.2e18))) : 0
    }
    return ONNXIntegers(shape: shape, values: values, dataType: x.dataType)
  }

  /// Comparisons give booleans (not differentiable).
  static func compare(_ f: @escaping @Sendable (Double, Double) -> Bool) -> Kernel {
    { n throws(ONNXError) in
      let a = try numbers(n.value(0)), b = try numbers(n.value(1))
      let shape = try n.broadcast(a.shape, b.shape)
      let ia = broadcastSourceIndices(a.shape, to: shape), ib = broadcastSourceIndices(b.shape, to: shape)
      let values = (0..<ia.count).map { f(a.values[ia[$0]], b.values[ib[$0]]) ? Int64(1) : 0 }
      return [.integer(ONNXIntegers(shape: shape, values: values, dataType: .bool))]
    }
  }

  static func numbers(_ value: ONNXValue) -> (shape: [Int], values: [Double]) {
    switch value {
    case .float(let t), .floating(let t, _): return (t.shape, t.scalars.map(Double.init))
    case .integer(let i): return (i.shape, i.values.map(Double.init))
    }
  }

  static func logical(_ f: @escaping @Sendable (Bool, Bool) -> Bool) -> Kernel {
    { n throws(ONNXError) in
      [.integer(try integerBinary(n.integers(0), n.integers(1), n, resultType: .bool) { f($0 != 0, $1 != 0) ? 1 : 0 })]
    }
  }
}
