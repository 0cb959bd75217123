import WinnowCore

/// ConvTranspose over 1-D and 2-D spatial axes, as a convolution Winnow already has (so it
/// is recorded and differentiable): the input with `stride − 1` zeros inserted between its
/// elements, padded by `(k − 1)·dilation − pad` on each side (cropped where that is negative),
/// correlated with the kernel flipped in space and with input and output channels swapped
/// within each group.
///
///     output = stride·(input − 1) + output_padding + (k − 1)·dilation + 1 − pad_begin − pad_end
///
/// Worked example (1-D, input [1, 2], kernel [1, 10], stride 2): the zero-inserted input is
/// [1, 0, 2], padded to [0, 1, 0, 2, 0]; correlating with the flipped kernel [10, 1] gives
/// [1, 10, 2, 20] = 1·[1, 10] + 2·[0, 0, 1, 10].
extension ONNXOperators {
  static func convolutionTranspose(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0), w = try n.float(1)
    guard x.rank == 3 || x.rank == 4, w.rank == x.rank else {
      throw n.fail("supports 1-D and 2-D transposed convolution (input \(x.shape), weight \(w.shape))")
    }
    let groups = n.int("group", default: 1)
    guard groups >= 1, w.shape[0] == x.shape[1], x.shape[1] % groups == 0 else {
      throw n.fail("weight \(w.shape) with group \(groups) does not fit input \(x.shape)")
    }
    let (spatial, kernel) = (Array(x.shape[2...]), Array(w.shape[2...]))
    if let given = n.ints("kernel_shape"), given != kernel { throw n.fail("kernel_shape \(given) differs from the weight \(w.shape)") }
    let g = try transposedGeometry(n, spatial: spatial, kernel: kernel)
    let two = { (v: [Int], fill: Int) in v.count == 1 ? (fill, v[0]) : (v[0], v[1]) }
    var input = upsampled(as2D(x), stride: two(g.strides, 1))
    let flat = { (v: [Int]) in v.count == 1 ? [0] + v : v }
    input = paddedOrCropped(input, begin: flat(g.padBegin), end: flat(g.padEnd))
    var y = input.conv2d(as2D(flippedKernel(w, groups: groups)), stride: (1, 1), padding: (0, 0),
                         dilation: two(g.dilations, 1), groups: groups)
    if x.rank == 3 { y = y.reshaped([y.shape[0], y.shape[1], y.shape[3]]) }
    if n.has(2) {
      let bias = try n.float(2)
      guard bias.count == y.shape[1] else { throw n.fail("bias \(bias.shape) does not match \(y.shape[1]) output channels") }
      y = y + bias.reshaped([1, y.shape[1]] + [Int](repeating: 1, count: x.rank - 2))
    }
    return [.float(y)]
  }

  /// Strides, dilations and the padding of the zero-inserted input on each side (negative
  /// = crop), from `pads`, `auto_pad`, `output_padding` and `output_shape`.
  static func transposedGeometry(_ n: ONNXNode, spatial: [Int], kernel: [Int]) throws(ONNXError) -> Window {
    let d = spatial.count
    let strides = n.ints("strides") ?? [Int](repeating: 1, count: d)
    let dilations = n.ints("dilations") ?? [Int](repeating: 1, count: d)
    let outputPadding = n.ints("output_padding") ?? [Int](repeating: 0, count: d)
    var pads = n.ints("pads") ?? [Int](repeating: 0, count: 2 * d)
    var target = n.ints("output_shape").map { $0.count == d + 2 ? Array($0[2...]) : $0 }
    let counts = strides.count == d && dilations.count == d && outputPadding.count == d && pads.count == 2 * d
    let targetFits: Bool = target.map { $0.count == d } ?? true
    let positive = strides.allSatisfy { $0 > 0 } && dilations.allSatisfy { $0 > 0 } && outputPadding.allSatisfy { $0 >= 0 }
    guard counts, targetFits, positive else {
      throw n.fail("strides \(strides), dilations \(dilations), pads \(pads), output_padding \(outputPadding) do not fit \(d) spatial axes")
    }
    let natural: [Int] = (0..<d).map { i in
      let reach: Int = (kernel[i] - 1) * dilations[i] + 1
      return strides[i] * (spatial[i] - 1) + outputPadding[i] + reach
    }
    let autoPad = n.string("auto_pad", default: "NOTSET")
    if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER", n.ints("pads") == nil {
      let wanted: [Int] = target ?? (0..<d).map { spatial[$0] * strides[$0] }
      for i in 0..<d {
        let total = natural[i] - wanted[i]
        (pads[i], pads[i + d]) = autoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
      }
      target = nil
    } else if !["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad) {
      throw n.fail("unknown auto_pad '\(autoPad)'")
    }
    var padBegin: [Int] = [], padEnd: [Int] = []
    for i in 0..<d {
      let reach = (kernel[i] - 1) * dilations[i]
      // An explicit output_shape grows (or crops) the output at the end.
      let size: Int = natural[i] - pads[i] - pads[i + d]
      let extra: Int = target.map { $0[i] - size } ?? 0
      padBegin.append(reach - pads[i])
      padEnd.append(reach - pads[i + d] + outputPadding[i] + extra)
      guard size + extra > 0 else { throw n.fail("output extent along axis \(i) is not positive (pads \(pads))") }
    }
    return Window(kernel: kernel, strides: strides, dilations: dilations, padBegin: padBegin, padEnd: padEnd)
  }

  /// `x` (N×C×H×W) with `stride − 1` zeros between neighbouring elements of each spatial axis.
  static func upsampled(_ x: Tensor, stride: (Int, Int)) -> Tensor {
    guard stride != (1, 1) else { return x }
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    var y = x.reshaped([batch, channels, height, 1, width, 1])
    if stride.0 > 1 { y = Tensor.concat([y, .zeros([batch, channels, height, stride.0 - 1, width, 1])], axis: 3) }
    if stride.1 > 1 { y = Tensor.concat([y, .zeros([batch, channels, height, stride.0, width, stride.1 - 1])], axis: 5) }
    y = y.reshaped([batch, channels, height * stride.0, width * stride.1])
    return y.slice(axis: 2, 0..<((height - 1) * stride.0 + 1)).slice(axis: 3, 0..<((width - 1) * stride.1 + 1))
  }

  /// Zero padding of the trailing axes where `begin`/`end` are positive, cropping where negative.
  static func paddedOrCropped(_ x: Tensor, begin: [Int], end: [Int]) -> Tensor {
    var y = padded(x, begin: begin.map { Swift.max($0, 0) }, end: end.map { Swift.max($0, 0) }, value: 0)
    let first = y.rank - begin.count
    for (i, (b, e)) in zip(begin, end).enumerated() where b < 0 || e < 0 {
      let axis = first + i
      y = y.slice(axis: axis, Swift.max(-b, 0)..<(y.shape[axis] - Swift.max(-e, 0)))
    }
    return y
  }

  /// `W` (C_in × C_out/g × k…) as a convolution weight (C_out × C_in/g × k…): channels swapped
  /// within each group and the kernel flipped along every spatial axis, by one gather (so
  /// gradients reach `W`).
  static func flippedKernel(_ w: Tensor, groups: Int) -> Tensor {
    let (inputs, outputsPerGroup) = (w.shape[0], w.shape[1])
    let inputsPerGroup = inputs / groups
    let kernel = Array(w.shape[2...])
    let cells = kernel.reduce(1, *)
    var rows: [Int] = []
    rows.reserveCapacity(w.count)
    for outputChannel in 0..<(outputsPerGroup * groups) {
      let (group, o) = (outputChannel / outputsPerGroup, outputChannel % outputsPerGroup)
      for i in 0..<inputsPerGroup {
        let source = ((group * inputsPerGroup + i) * outputsPerGroup + o) * cells
        for cell in 0..<cells { rows.append(source + cells - 1 - cell) }  // reversing the flat cell index flips every axis
      }
    }
    return w.reshaped([w.count, 1]).gather(rows: rows).reshaped([outputsPerGroup * groups, inputsPerGroup] + kernel)
  }
}
