import WinnowCore

/// Resize (nearest, linear, cubic; every coordinate transformation; antialiasing; `axes`,
/// `keep_aspect_ratio_policy`, `tf_crop_and_resize` with extrapolation).
///
/// Resizing is separable and linear in the input, so each resized axis is one product with an
/// `out × in` interpolation matrix `M` (`y = x ·_axis Mᵀ`): recorded Winnow matmuls, hence
/// differentiable. Row `i` of `M` holds the coefficients of output `i` on its neighbouring
/// inputs, found as in the ONNX reference: the source coordinate `x_ori(i)`, its fractional
/// part `r` (1 when `x_ori` is an integer), `n` coefficients of `r` and the `n` inputs nearest
/// `x_ori`, clamped to the edge (or dropped and renormalised with `exclude_outside`).
/// Worked example (linear, half_pixel, 2 → 4): `x_ori = (i + 0.5)/2 − 0.5` = −0.25, 0.25,
/// 0.75, 1.25, so `M = [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]]`.
extension ONNXOperators {
  /// How one axis is resized: its extents, scale and coordinate mapping.
  struct ResizeAxis {
    var input: Int, output: Int, scale: Double
    var roi: (Double, Double)?
  }

  static func resize(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    var x = try n.float(0)
    let axes = try resizedAxes(n, rank: x.rank)
    let plan = try resizePlan(n, shape: x.shape, axes: axes)
    let extrapolation = n.float("extrapolation_value", default: 0)
    for (axis, geometry) in zip(axes, plan) {
      let unchanged = abs(geometry.scale - 1) < 1e-9 && geometry.output == geometry.input
        && (geometry.roi.map { abs($0.0) < 1e-9 && abs($0.1 - 1) < 1e-9 } ?? true)
      if unchanged { continue }
      let (matrix, outside) = try interpolationMatrix(n, geometry)
      x = resized(x, axis: axis, matrix: matrix, rows: geometry.output)
      if outside.contains(true) {
        var shape = [Int](repeating: 1, count: x.rank)
        shape[axis] = geometry.output
        x = x + Tensor(shape: shape, scalars: outside.map { $0 ? extrapolation : 0 })
      }
    }
    return [.float(x)]
  }

  static func resizedAxes(_ n: ONNXNode, rank: Int) throws(ONNXError) -> [Int] {
    guard let given = n.ints("axes") else { return Array(0..<rank) }
    var axes: [Int] = []
    for a in given { axes.append(try n.axis(a, rank: rank)) }
    guard Set(axes).count == axes.count else { throw n.fail("axes \(given) repeat an axis") }
    return axes
  }

  /// Output extent, scale and region of interest of each resized axis, from `scales` or
  /// `sizes` (with `keep_aspect_ratio_policy`).
  static func resizePlan(_ n: ONNXNode, shape: [Int], axes: [Int]) throws(ONNXError) -> [ResizeAxis] {
    let scales = n.has(2) ? try n.float(2).scalars : []
    let sizes = n.has(3) ? try n.intList(3) : []
    var roi: [Float] = []
    if n.has(1) {
      let value = try n.value(1)
      if let values = value.floatValues { roi = values.scalars } else { roi = try n.intList(1).map { Float($0) } }
    }
    guard scales.isEmpty != sizes.isEmpty else { throw n.fail("needs exactly one of scales and sizes (got \(scales.count) scales, \(sizes.count) sizes)") }
    let count = axes.count
    guard scales.isEmpty || scales.count == count, sizes.isEmpty || sizes.count == count else {
      throw n.fail("scales \(scales) / sizes \(sizes) do not match the \(count) resized axes")
    }
    var factors = scales.map(Double.init)
    var outputs = scales.isEmpty ? sizes : zip(scales, axes).map { Int(Double($0) * Double(shape[$1])) }
    if !sizes.isEmpty {
      factors = zip(sizes, axes).map { Double($0) / Double(shape[$1]) }
      let policy = n.string("keep_aspect_ratio_policy", default: "stretch")
      if policy != "stretch" {
        guard policy == "not_larger" || policy == "not_smaller" else { throw n.fail("unknown keep_aspect_ratio_policy '\(policy)'") }
        let scale = policy == "not_larger" ? factors.min() ?? 1 : factors.max() ?? 1
        factors = factors.map { _ in scale }
        outputs = axes.map { Int(scale * Double(shape[$0]) + 0.5) }
      }
    }
    guard factors.allSatisfy({ $0 > 0 && $0.isFinite }), outputs.allSatisfy({ $0 >= 0 }),
          outputs.reduce(shape.reduce(1, *) / Swift.max(axes.map { shape[$0] }.reduce(1, *), 1), *) <= TensorProto.maximumElementCount else {
      throw n.fail("cannot resize \(shape) by scales \(factors) to \(outputs)")
    }
    // roi is [starts…, ends…] over the resized axes (or over every axis when axes is absent).
    let roiAxes = roi.count == 2 * count ? Array(0..<count) : roi.count == 2 * shape.count ? axes : []
    return (0..<count).map { i in
      let r: (Double, Double)? = roiAxes.isEmpty ? nil : (Double(roi[roiAxes[i]]), Double(roi[roiAxes[i] + roi.count / 2]))
      return ResizeAxis(input: shape[axes[i]], output: outputs[i], scale: factors[i], roi: r)
    }
  }

  /// The `out × in` interpolation matrix of one axis, and which outputs are extrapolated
  /// (`tf_crop_and_resize` outside the input: their row is zero).
  static func interpolationMatrix(_ n: ONNXNode, _ g: ResizeAxis) throws(ONNXError) -> (matrix: [Float], outside: [Bool]) {
    let coefficients = try resizeCoefficients(n)
    let mode = n.string("coordinate_transformation_mode", default: "half_pixel")
    let excludeOutside = n.int("exclude_outside", default: 0) != 0
    var matrix = [Float](repeating: 0, count: g.output * g.input)
    var outside = [Bool](repeating: false, count: g.output)
    for i in 0..<g.output {
      let (source, extrapolated) = try sourceCoordinate(n, mode: mode, i, g)
      if extrapolated { outside[i] = true; continue }
      let floor = source.rounded(.down)
      let ratio = source == floor ? 1 : source - floor
      var weights = coefficients(ratio, g.scale)
      let count = weights.count
      let pad = (count + 1) / 2
      let shifted = source + Double(pad)
      let base = shifted.rounded(.down), fraction = shifted - base
      let offset = count % 2 == 0 ? (fraction == 0 ? -(count / 2) : -(count / 2) + 1) : (fraction <= 0.5 ? -((count - 1) / 2) : -((count - 1) / 2) + 1)
      let first = Int(base) + offset - pad
      if excludeOutside {
        for j in 0..<count where first + j < 0 || first + j >= g.input { weights[j] = 0 }
        let total = weights.reduce(0, +)
        if total != 0 { weights = weights.map { $0 / total } }
      }
      for j in 0..<count {
        let column = Swift.min(Swift.max(first + j, 0), g.input - 1)
        matrix[i * g.input + column] += Float(weights[j])
      }
    }
    return (matrix, outside)
  }

  /// Output position `i` in input coordinates; true when `tf_crop_and_resize` puts it outside.
  static func sourceCoordinate(_ n: ONNXNode, mode: String, _ i: Int, _ g: ResizeAxis) throws(ONNXError) -> (Double, Bool) {
    let (y, width) = (Double(i), Double(g.input))
    let outputWidth = g.scale * width
    switch mode {
    case "half_pixel": return ((y + 0.5) / g.scale - 0.5, false)
    case "asymmetric": return (y / g.scale, false)
    case "align_corners": return (outputWidth == 1 ? 0 : y * (width - 1) / (outputWidth - 1), false)
    case "pytorch_half_pixel": return (outputWidth == 1 ? -0.5 : (y + 0.5) / g.scale - 0.5, false)
    case "half_pixel_symmetric":
      let offset = width / 2 * (1 - Double(g.output) / outputWidth)
      return (offset + (y + 0.5) / g.scale - 0.5, false)
    case "tf_crop_and_resize":
      guard let (start, end) = g.roi else { throw n.fail("tf_crop_and_resize needs a roi") }
      var x = outputWidth == 1 ? (end - start) * (width - 1) / 2 : y * (end - start) * (width - 1) / (outputWidth - 1)
      x += start * (width - 1)
      return (x, x < 0 || x > width - 1)
    default: throw n.fail("unknown coordinate_transformation_mode '\(mode)'")
    }
  }

  /// The coefficient function of `mode`: `(ratio, scale) → n weights`.
  static func resizeCoefficients(_ n: ONNXNode) throws(ONNXError) -> (Double, Double) -> [Double] {
    let mode = n.string("mode", default: "nearest")
    let antialias = n.int("antialias", default: 0) != 0
    switch mode {
    case "nearest":
      let rounding = n.string("nearest_mode", default: "round_prefer_floor")
      guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].contains(rounding) else { throw n.fail("unknown nearest_mode '\(rounding)'") }
      return { ratio, _ in
        if ratio == 1 { return [0, 1] }
        switch rounding {
        case "round_prefer_floor": return ratio <= 0.5 ? [1, 0] : [0, 1]
        case "round_prefer_ceil": return ratio < 0.5 ? [1, 0] : [0, 1]
        case "floor": return [1, 0]
        default: return [0, 1]
        }
      }
    case "linear":
      guard antialias else { return { ratio, _ in [1 - ratio, ratio] } }
      return { ratio, scale in
        let s = Swift.min(scale, 1)
        let start = Int((-1 / s).rounded(.down)) + 1
        let weights = (start..<(start + 2 - 2 * start)).map { Swift.min(Swift.max(1 - abs((Double($0) - ratio) * s), 0), 1) }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
      }
    case "cubic":
      let a = Double(n.float("cubic_coeff_a", default: -0.75))
      let kernel = { (t: Double) -> Double in
        let x = abs(t)
        if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
      }
      guard antialias else { return { ratio, _ in [ratio + 1, ratio, 1 - ratio, 2 - ratio].map(kernel) } }
      return { ratio, scale in
        let s = Swift.min(scale, 1)
        let start = Int((-2 / s).rounded(.down)) + 1
        let weights = (start..<(2 - start)).map { kernel(s * (Double($0) - ratio)) }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
      }
    default:
      throw n.fail("unknown mode '\(mode)'")
    }
  }

  /// `x` with `axis` (extent `in`) mapped through the `rows × in` matrix.
  static func resized(_ x: Tensor, axis: Int, matrix: [Float], rows: Int) -> Tensor {
    let width = x.shape[axis]
    var permutation = Array(0..<x.rank)
    permutation.swapAt(axis, x.rank - 1)
    let moved = x.permuted(permutation)
    let flat = moved.reshaped([moved.count / Swift.max(width, 1), width])
    let product = flat.matmul(Tensor(shape: [rows, width], scalars: matrix), transposeB: true)
    var shape = moved.shape
    shape[shape.count - 1] = rows
    return product.reshaped(shape).permuted(permutation)
  }
}
