import Foundation
import WinnowCore

/// Less common operators: exact elementwise functions without a Winnow primitive (usable on
/// constants, or where the derivative is zero almost everywhere), integer arithmetic,
/// arg-reductions, masks and index-driven gathers.
extension ONNXOperators {
  static let more: [String: Kernel] = [
    // Piecewise constant: the derivative is zero almost everywhere, so an unrecorded result is exact.
    "Floor": piecewiseConstant { $0.rounded(.down) }, "Ceil": piecewiseConstant { $0.rounded(.up) },
    "Round": piecewiseConstant { $0.rounded(.toNearestOrEven) },
    "Sign": piecewiseConstant { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 },
    "Cos": constantUnary(cosf), "Sin": constantUnary(sinf), "Tan": constantUnary(tanf),
    "Acos": constantUnary(acosf), "Asin": constantUnary(asinf), "Atan": constantUnary(atanf),
    "Cosh": constantUnary(coshf), "Sinh": constantUnary(sinhf), "Acosh": constantUnary(acoshf),
    "Asinh": constantUnary(asinhf), "Atanh": constantUnary(atanhf),
    "IsNaN": { n throws(ONNXError) in [booleans(try n.float(0)) { $0.isNaN }] },
    "IsInf": { n throws(ONNXError) in
      let (positive, negative) = (n.int("detect_positive", default: 1) != 0, n.int("detect_negative", default: 1) != 0)
      return [booleans(try n.float(0)) { $0.isInfinite && ($0 > 0 ? positive : negative) }]
    },
    "Selu": { n throws(ONNXError) in
      let x = try n.float(0), alpha = n.float("alpha", default: 1.67326319217681884765625), gamma = n.float("gamma", default: 1.05070102214813232421875)
      return [.float((x.relu() + ((x.minimum(Tensor(0))).exp() - 1) * alpha) * gamma)]
    },
    "Celu": { n throws(ONNXError) in
      let x = try n.float(0), alpha = n.float("alpha", default: 1)
      return [.float(x.relu() + (((x.minimum(Tensor(0))) / alpha).exp() - 1) * alpha)]
    },
    "ThresholdedRelu": { n throws(ONNXError) in
      let x = try n.float(0), alpha = n.float("alpha", default: 1)
      return [.float(x * Tensor(shape: x.shape, scalars: x.scalars.map { $0 > alpha ? 1 : 0 }))]
    },
    "Swish": { n throws(ONNXError) in
      let x = try n.float(0)
      return [.float(x * (x * n.float("alpha", default: 1)).sigmoid())]
    },
    "HardSwish": { n throws(ONNXError) in
      let x = try n.float(0)
      return [.float(x * (x * (1 / Float(6)) + 0.5).clamped(0, 1))]
    },
    "Mish": { n throws(ONNXError) in
      let x = try n.float(0)
      return [.float(x * (x.exp() + 1).log().tanh())]
    },
    "PRelu": { n throws(ONNXError) in
      let x = try n.float(0), slope = try n.float(1)
      _ = try n.broadcast(x.shape, slope.shape)
      return [.float(x.relu() - (-x).relu() * slope)]
    },
    "Mod": mod, "BitShift": bitShift,
    "ArgMax": { n throws(ONNXError) in try argExtreme(n, largest: true, defaultAxis: 0) },
    "ArgMin": { n throws(ONNXError) in try argExtreme(n, largest: false, defaultAxis: 0) },
    "Trilu": trilu,
    "GatherElements": gatherElements,
  ]

  static func piecewiseConstant(_ f: @escaping @Sendable (Float) -> Float) -> Kernel {
    { n throws(ONNXError) in
      let x = try n.float(0).detached
      return [.float(Tensor(shape: x.shape, scalars: x.scalars.map(f)))]
    }
  }

  /// A function Winnow cannot differentiate: exact on constants, an error when recorded.
  static func constantUnary(_ f: @escaping @Sendable (Float) -> Float) -> Kernel {
    { n throws(ONNXError) in
      let x = try n.float(0)
      guard !x.isTracked else { throw n.fail("differentiating \(n.node.opType) is not supported (Winnow has no such primitive)") }
      return [.float(Tensor(shape: x.shape, scalars: x.scalars.map(f)))]
    }
  }

  static func booleans(_ x: Tensor, _ predicate: (Float) -> Bool) -> ONNXValue {
    .integer(ONNXIntegers(shape: x.shape, values: x.scalars.map { predicate($0) ? 1 : 0 }, dataType: .bool))
  }

  /// Integer modulus takes the divisor's sign (Python) unless `fmod`, which takes the
  /// dividend's (C); float inputs need `fmod = 1`.
  static func mod(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let cStyle = n.int("fmod", default: 0) != 0
    switch (try n.value(0), try n.value(1)) {
    case (.integer(let a), .integer(let b)):
      return [.integer(try integerBinary(a, b, n) { x, y in
        guard y != 0 else { return 0 }
        let r = x % y
        return cStyle || r == 0 || (r < 0) == (y < 0) ? r : r + y
      })]
    case (.float(let a), .float(let b)):
      guard !a.isTracked && !b.isTracked else { throw n.fail("differentiating Mod is not supported") }
      let shape = try n.broadcast(a.shape, b.shape)
      let (ia, ib) = (broadcastSourceIndices(a.shape, to: shape), broadcastSourceIndices(b.shape, to: shape))
      let (xs, ys) = (a.scalars, b.scalars)
      return [.float(Tensor(shape: shape, scalars: (0..<ia.count).map { i in
        let r = fmodf(xs[ia[i]], ys[ib[i]])
        return cStyle || r == 0 || (r < 0) == (ys[ib[i]] < 0) ? r : r + ys[ib[i]]
      }))]
    default:
      throw n.fail("mixes float and integer inputs")
    }
  }

  /// Shifts by an amount read as unsigned (so negative amounts exceed the width): right
  /// shifts of signed types are arithmetic, of unsigned types logical.
  static func bitShift(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let left = n.string("direction", default: "") == "LEFT"
    let a = try n.integers(0)
    let bits = Int64((a.dataType.integerByteSize ?? 8) * 8)
    let signed = a.dataType.isSigned
    return [.integer(try integerBinary(a, n.integers(1), n) { x, s in
      guard s >= 0 && s < bits else { return left || !signed || x >= 0 ? 0 : -1 }
      if left { return x << s }
      if signed { return x >> s }
      let unsigned = UInt64(bitPattern: x) & (bits == 64 ? ~0 : (1 << UInt64(bits)) - 1)
      return Int64(bitPattern: unsigned >> UInt64(s))
    })]
  }

  /// Index of the first (or, with `select_last_index`, last) extreme along `axis`.
  static func argExtreme(_ n: ONNXNode, largest: Bool, defaultAxis: Int) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let axis = try n.axis(n.int("axis", default: defaultAxis), rank: x.rank)
    let last = n.int("select_last_index", default: 0) != 0
    let outer = x.shape[..<axis].reduce(1, *), length = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
    guard length > 0 else { throw n.fail("axis \(axis) of \(x.shape) is empty") }
    let values = x.scalars
    var result: [Int64] = []
    for o in 0..<outer {
      for i in 0..<inner {
        var best = 0
        for k in 1..<length {
          let (v, b) = (values[(o * length + k) * inner + i], values[(o * length + best) * inner + i])
          if largest ? (v > b || (last && v == b)) : (v < b || (last && v == b)) { best = k }
        }
        result.append(Int64(best))
      }
    }
    var shape = x.shape
    shape[axis] = 1
    if n.int("keepdims", default: 1) == 0 { shape.remove(at: axis) }
    return [.integer(ONNXIntegers(shape: shape, values: result))]
  }

  /// Upper or lower triangle of the last two axes, diagonal offset `k`.
  static func trilu(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.value(0)
    let shape = x.shape
    guard shape.count >= 2 else { throw n.fail("needs rank ≥ 2, got \(shape)") }
    let k = n.has(1) ? Int(clamping: try n.integers(1).values.first ?? 0) : 0
    let upper = n.int("upper", default: 1) != 0
    let (rows, columns) = (shape[shape.count - 2], shape[shape.count - 1])
    let keep = (0..<shape.reduce(1, *)).map { index -> Bool in
      let (i, j) = ((index / Swift.max(columns, 1)) % Swift.max(rows, 1), index % Swift.max(columns, 1))
      return upper ? j - i >= k : j - i <= k
    }
    switch x {
    case .float(let t), .floating(let t, _): return [.float(selected(t, where: keep, shape))]
    case .integer(let i):
      return [.integer(ONNXIntegers(shape: shape, values: zip(i.values, keep).map { $1 ? $0 : 0 }, dataType: i.dataType))]
    }
  }

  /// `out[i…] = data[i… with axis replaced by index[i…]]`, as a gather of the flattened data
  /// (so it is differentiable).
  static func gatherElements(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let index = try n.integers(1)
    let axis = try n.axis(n.int("axis", default: 0), rank: dims.count)
    guard index.shape.count == dims.count else { throw n.fail("indices \(index.shape) and data \(dims) differ in rank") }
    var strides = [Int](repeating: 1, count: dims.count)
    for a in stride(from: dims.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * dims[a + 1] }
    var flat: [Int] = []
    var position = [Int](repeating: 0, count: dims.count)
    for raw in index.values {
      let i = Int(clamping: raw < 0 ? raw + Int64(dims[axis]) : raw)
      guard i >= 0 && i < dims[axis] else { throw n.fail("index \(raw) out of range for axis \(axis) of size \(dims[axis])") }
      var offset = 0
      for a in 0..<dims.count { offset += (a == axis ? i : position[a]) * strides[a] }
      flat.append(offset)
      var a = dims.count - 1
      while a >= 0 { position[a] += 1; if position[a] < index.shape[a] { break }; position[a] = 0; a -= 1 }
    }
    let count = dims.reduce(1, *)
    return [try moving(n, data: [0]) { inputs in
      inputs[0].reshaped([count, 1]).gather(rows: flat, indexShape: index.shape).reshaped(index.shape)
    }]
  }
}
