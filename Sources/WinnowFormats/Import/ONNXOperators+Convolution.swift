import WinnowCore

/// Conv over 1-D and 2-D spatial axes, and the window geometry it shares with pooling. Winnow's
/// primitives are 2-D with symmetric padding, so 1-D inputs gain a unit height and asymmetric,
/// `auto_pad` and `ceil_mode` padding is applied explicitly (zeros, or −∞ for max pooling) first.
extension ONNXOperators {
  /// Spatial geometry of a convolution or pooling node, resolved to explicit pads.
  struct Window {
    var kernel: [Int], strides: [Int], dilations: [Int]
    var padBegin: [Int], padEnd: [Int]
  }

  static func window(_ n: ONNXNode, spatial: [Int], kernel: [Int], ceilMode: Bool = false) throws(ONNXError) -> Window {
    let d = spatial.count
    let strides = n.ints("strides") ?? [Int](repeating: 1, count: d)
    let dilations = n.ints("dilations") ?? [Int](repeating: 1, count: d)
    var pads = n.ints("pads") ?? [Int](repeating: 0, count: 2 * d)
    guard strides.count == d, dilations.count == d, pads.count == 2 * d, kernel.count == d,
          strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }), pads.allSatisfy({ $0 >= 0 }), kernel.allSatisfy({ $0 > 0 }) else {
      throw n.fail("kernel \(kernel), strides \(strides), dilations \(dilations), pads \(pads) do not fit \(d) spatial axes")
    }
    let autoPad = n.string("auto_pad", default: "NOTSET")
    for i in 0..<d {
      let extent = (kernel[i] - 1) * dilations[i] + 1
      switch autoPad {
      case "SAME_UPPER", "SAME_LOWER":
        let out = (spatial[i] + strides[i] - 1) / strides[i]
        let total = Swift.max(0, (out - 1) * strides[i] + extent - spatial[i])
        let small = total / 2
        (pads[i], pads[i + d]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small)
      case "VALID": (pads[i], pads[i + d]) = (0, 0)
      case "NOTSET": break
      default: throw n.fail("unknown auto_pad '\(autoPad)'")
      }
      let padded = spatial[i] + pads[i] + pads[i + d]
      guard padded >= extent else { throw n.fail("kernel \(kernel) is larger than the padded input \(spatial)") }
      if ceilMode {
        var out = (padded - extent + strides[i] - 1) / strides[i] + 1
        if (out - 1) * strides[i] >= spatial[i] + pads[i] { out -= 1 }  // last window must start inside
        pads[i + d] += Swift.max(0, (out - 1) * strides[i] + extent - padded)
      }
    }
    return Window(kernel: kernel, strides: strides, dilations: dilations, padBegin: Array(pads[..<d]), padEnd: Array(pads[d...]))
  }

  /// `x` with `begin`/`end` entries of `value` added around its trailing axes.
  static func padded(_ x: Tensor, begin: [Int], end: [Int], value: Float) -> Tensor {
    var y = x
    let first = x.rank - begin.count
    for (i, (b, e)) in zip(begin, end).enumerated() where b > 0 || e > 0 {
      let axis = first + i
      var parts: [Tensor] = []
      var shape = y.shape
      if b > 0 { shape[axis] = b; parts.append(Tensor(shape: shape, repeating: value)) }
      parts.append(y)
      if e > 0 { shape[axis] = e; parts.append(Tensor(shape: shape, repeating: value)) }
      y = Tensor.concat(parts, axis: axis)
    }
    return y
  }

  /// Makes 1-D spatial data 2-D (unit height) so Winnow's 2-D primitives apply.
  static func as2D(_ x: Tensor) -> Tensor { x.rank == 3 ? x.reshaped([x.shape[0], x.shape[1], 1, x.shape[2]]) : x }

  static func convolution(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0), w = try n.float(1)
    guard x.rank == 3 || x.rank == 4, w.rank == x.rank else {
      throw n.fail("supports 1-D and 2-D convolution (input \(x.shape), weight \(w.shape))")
    }
    let groups = n.int("group", default: 1)
    guard groups >= 1, w.shape[1] * groups == x.shape[1], w.shape[0] % groups == 0 else {
      throw n.fail("weight \(w.shape) with group \(groups) does not fit input \(x.shape)")
    }
    let spatial = Array(x.shape[2...])
    let kernel = n.ints("kernel_shape") ?? Array(w.shape[2...])
    guard kernel == Array(w.shape[2...]) else { throw n.fail("kernel_shape \(kernel) differs from the weight \(w.shape)") }
    var g = try window(n, spatial: spatial, kernel: kernel)
    var input = x
    if g.padBegin != g.padEnd {
      input = padded(x, begin: g.padBegin, end: g.padEnd, value: 0)
      g.padBegin = g.padBegin.map { _ in 0 }
    }
    let two = { (v: [Int], fill: Int) in v.count == 1 ? (fill, v[0]) : (v[0], v[1]) }
    var y = as2D(input).conv2d(as2D(w), stride: two(g.strides, 1), padding: two(g.padBegin, 0),
                               dilation: two(g.dilations, 1), groups: groups)
    if x.rank == 3 { y = y.reshaped([y.shape[0], y.shape[1], y.shape[3]]) }
    if n.has(2) {
      let bias = try n.float(2)
      guard bias.count == w.shape[0] else { throw n.fail("bias \(bias.shape) does not match \(w.shape[0]) output channels") }
      y = y + bias.reshaped([1, w.shape[0]] + [Int](repeating: 1, count: x.rank - 2))
    }
    return [.float(y)]
  }
}
