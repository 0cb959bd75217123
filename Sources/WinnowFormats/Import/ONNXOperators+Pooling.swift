import WinnowCore

/// MaxPool, AveragePool and LpPool over any number of spatial axes, with dilations,
/// `ceil_mode`, `count_include_pad`, the MaxPool `Indices` output and integer MaxPool.
///
/// 1-D and 2-D pooling without dilations runs on Winnow's 2-D pooling primitives. Everything
/// else gathers every window: the padded input as an `S×(N·C)` table (S padded spatial
/// positions), one row per (output position, kernel cell) gathered, then a max or a sum over
/// the kernel cells — recorded ops, so it is differentiable too. Worked example (1-D, input
/// length 5, kernel 2, dilation 2, stride 1): output position o reads positions o and o + 2,
/// so the gathered rows are [0, 2, 1, 3, 2, 4] and the output has length 3.
extension ONNXOperators {
  static func pool(_ n: ONNXNode, max isMax: Bool) throws(ONNXError) -> [ONNXValue] {
    let input = try n.value(0)
    if case .integer(let q) = input {
      guard isMax else { throw n.fail("average pooling of \(q.dataType) is not supported") }
      let pooled = try pool(n, q.floatTensor, max: true)
      let values = pooled.y.scalars.map { Int64($0) }  // exact: every value is one of the input's
      return [.integer(ONNXIntegers(shape: pooled.y.shape, values: values, dataType: q.dataType))] + pooled.indices
    }
    let pooled = try pool(n, try n.float(0), max: isMax)
    return [.float(pooled.y)] + pooled.indices
  }

  static func pool(_ n: ONNXNode, _ x: Tensor, max isMax: Bool) throws(ONNXError) -> (y: Tensor, indices: [ONNXValue]) {
    guard x.rank >= 3 else { throw n.fail("needs N×C×spatial input, got \(x.shape)") }
    guard let kernel = n.ints("kernel_shape") else { throw n.fail("kernel_shape is missing") }
    let spatial = Array(x.shape[2...])
    let g = try window(n, spatial: spatial, kernel: kernel, ceilMode: n.int("ceil_mode", default: 0) != 0)
    let wantsIndices = isMax && n.node.output.count >= 2 && !n.node.output[1].isEmpty
    var indices: [ONNXValue] = []
    if wantsIndices {
      let order = n.int("storage_order", default: 0)
      guard order == 0 || order == 1 else { throw n.fail("storage_order must be 0 or 1, got \(order)") }
      indices = [.integer(maxPoolIndices(x, g, spatial: spatial, columnMajor: order == 1))]
    }
    if x.rank <= 4 && g.dilations.allSatisfy({ $0 == 1 }) { return (try planarPool(n, x, g, max: isMax), indices) }
    return (try gatheredPool(n, x, g, max: isMax), indices)
  }

  /// Output extent along each spatial axis of the padded input.
  static func outputExtents(_ g: Window, spatial: [Int]) -> [Int] {
    spatial.indices.map { i in
      let extent = (g.kernel[i] - 1) * g.dilations[i] + 1
      return (g.padBegin[i] + spatial[i] + g.padEnd[i] - extent) / g.strides[i] + 1
    }
  }

  /// For every output position and kernel cell, the flat position in the padded input;
  /// `visit(output, cell, position per axis)` sees each one in row-major order.
  static func windowPositions(_ g: Window, padded: [Int], output: [Int], _ visit: (Int, Int, [Int]) -> Void) {
    let (outputCount, cellCount) = (output.reduce(1, *), g.kernel.reduce(1, *))
    var position = [Int](repeating: 0, count: padded.count)
    for o in 0..<outputCount {
      for k in 0..<cellCount {
        var (restO, restK) = (o, k)
        for axis in padded.indices.reversed() {
          let (oi, ki) = (restO % output[axis], restK % g.kernel[axis])
          (restO, restK) = (restO / output[axis], restK / g.kernel[axis])
          position[axis] = oi * g.strides[axis] + ki * g.dilations[axis]
        }
        visit(o, k, position)
      }
    }
  }

  /// LpPool: `(Σ |x|^p)^(1/p)` over each window (zero padding), on the gathered windows.
  static func lpPool(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    guard x.rank >= 3 else { throw n.fail("needs N×C×spatial input, got \(x.shape)") }
    guard let kernel = n.ints("kernel_shape") else { throw n.fail("kernel_shape is missing") }
    let p = Float(n.int("p", default: 2))
    guard p >= 1 else { throw n.fail("p must be at least 1, got \(p)") }
    let g = try window(n, spatial: Array(x.shape[2...]), kernel: kernel, ceilMode: n.int("ceil_mode", default: 0) != 0)
    return [.float(try gatheredPool(n, x, g, max: false, norm: p))]
  }

  /// Max, average, or with `norm` p the p-norm of every window.
  static func gatheredPool(_ n: ONNXNode, _ x: Tensor, _ g: Window, max isMax: Bool, norm: Float? = nil) throws(ONNXError) -> Tensor {
    let (batch, channels) = (x.shape[0], x.shape[1])
    let spatial = Array(x.shape[2...])
    let extents = spatial.indices.map { g.padBegin[$0] + spatial[$0] + g.padEnd[$0] }
    let output = outputExtents(g, spatial: spatial)
    let (outputCount, cellCount) = (output.reduce(1, *), g.kernel.reduce(1, *))
    guard outputCount * cellCount <= TensorProto.maximumElementCount / Swift.max(batch * channels, 1) else {
      throw n.fail("pooling \(x.shape) with kernel \(g.kernel) gathers too many windows")
    }
    var rows = [Int](repeating: 0, count: outputCount * cellCount)
    var counted = [Float](repeating: 0, count: outputCount)
    let (low, high) = countedRegion(n, g, spatial: spatial)
    windowPositions(g, padded: extents, output: output) { o, k, position in
      rows[o * cellCount + k] = position.indices.reduce(0) { $0 * extents[$1] + position[$1] }
      if position.indices.allSatisfy({ low[$0] <= position[$0] && position[$0] < high[$0] }) { counted[o] += 1 }
    }
    let table = padded(x, begin: g.padBegin, end: g.padEnd, value: isMax ? -.infinity : 0)
      .reshaped([batch * channels, extents.reduce(1, *)]).permuted([1, 0])
    let windows = table.gather(rows: rows).reshaped([outputCount, cellCount, batch * channels])
    var y: Tensor
    if let norm {
      y = (norm == 1 ? windows.abs() : norm == 2 ? windows.squared() : windows.abs().pow(norm)).sum(axes: [1])
      if norm != 1 { y = y.pow(1 / norm) }
    } else {
      y = isMax ? windows.max(axis: 1) : windows.sum(axes: [1]) / Tensor(shape: [outputCount, 1], scalars: counted)
    }
    y = y.permuted([1, 0])
    return y.reshaped([batch, channels] + output)
  }

  /// Per axis, the padded positions an average divides by: the input, plus the declared pads
  /// when `count_include_pad` (never the extra `ceil_mode` cells).
  static func countedRegion(_ n: ONNXNode, _ g: Window, spatial: [Int]) -> (low: [Int], high: [Int]) {
    let d = spatial.count
    let declared = n.ints("pads") ?? [Int](repeating: 0, count: 2 * d)
    let countPads = n.int("count_include_pad", default: 0) != 0 && n.string("auto_pad", default: "NOTSET") == "NOTSET"
    let low = (0..<d).map { countPads ? g.padBegin[$0] - declared[$0] : g.padBegin[$0] }
    let high = (0..<d).map { low[$0] + spatial[$0] + (countPads ? declared[$0] + declared[$0 + d] : 0) }
    return (low, high)
  }

  /// The flat index in `x` (row-major, or spatial axes column-major) of each window's first
  /// maximum, as ONNX's `Indices` output.
  static func maxPoolIndices(_ x: Tensor, _ g: Window, spatial: [Int], columnMajor: Bool) -> ONNXIntegers {
    let planes = x.shape[0] * x.shape[1]
    let volume = spatial.reduce(1, *)
    let padded = spatial.indices.map { g.padBegin[$0] + spatial[$0] + g.padEnd[$0] }
    let output = outputExtents(g, spatial: spatial)
    let outputCount = output.reduce(1, *)
    var best = [(value: Float, index: Int)](repeating: (-.infinity, -1), count: outputCount * planes)
    let values = x.scalars
    windowPositions(g, padded: padded, output: output) { o, _, position in
      let inside = position.indices.map { position[$0] - g.padBegin[$0] }
      guard inside.indices.allSatisfy({ inside[$0] >= 0 && inside[$0] < spatial[$0] }) else { return }
      let rowMajor = inside.indices.reduce(0) { $0 * spatial[$1] + inside[$1] }
      let stored = columnMajor ? inside.indices.reversed().reduce(0) { $0 * spatial[$1] + inside[$1] } : rowMajor
      for plane in 0..<planes {
        let v = values[plane * volume + rowMajor]
        let slot = plane * outputCount + o
        if best[slot].index < 0 || v > best[slot].value { best[slot] = (v, plane * volume + stored) }
      }
    }
    return ONNXIntegers(shape: Array(x.shape[..<2]) + output, values: best.map { Int64($0.index) })
  }

  /// 1-D and 2-D undilated pooling on Winnow's 2-D primitives (1-D gains a unit height);
  /// asymmetric and `ceil_mode` padding is applied explicitly first.
  static func planarPool(_ n: ONNXNode, _ x: Tensor, _ g: Window, max isMax: Bool) throws(ONNXError) -> Tensor {
    let spatial = Array(x.shape[2...])
    let two = { (v: [Int], fill: Int) in v.count == 1 ? (fill, v[0]) : (v[0], v[1]) }
    let pool = { (t: Tensor) -> Tensor in
      isMax ? as2D(t).maxPool2d(kernel: two(g.kernel, 1), stride: two(g.strides, 1))
        : as2D(t).avgPool2d(kernel: two(g.kernel, 1), stride: two(g.strides, 1))
    }
    var y = pool(padded(x, begin: g.padBegin, end: g.padEnd, value: isMax ? -.infinity : 0))
    if !isMax {
      // Divide by the number of counted positions rather than the kernel size.
      let (low, high) = countedRegion(n, g, spatial: spatial)
      let inner = spatial.indices.map { high[$0] - low[$0] }
      let ones = Tensor(shape: [1, 1] + inner, repeating: 1)
      let end = spatial.indices.map { g.padBegin[$0] + spatial[$0] + g.padEnd[$0] - high[$0] }
      let counted = pool(padded(ones, begin: low, end: end, value: 0))
      if counted.scalars.contains(where: { $0 != 1 }) { y = y / counted }
    }
    if x.rank == 3 { y = y.reshaped([y.shape[0], y.shape[1], y.shape[3]]) }
    return y
  }
}
