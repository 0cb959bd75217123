import WinnowCore

/// Integer-domain operators of quantized models: ConvInteger, QLinearMatMul, QLinearConv and
/// DynamicQuantizeLinear.
///
/// Products are exact in Int64 after subtracting zero points; QLinear operators then requantize
/// with the multiplier `m = a_scale · b_scale / y_scale` computed in the scales' own type (as
/// the reference does), `y = saturate(round_half_even(acc · m) + y_zero_point)`.
extension ONNXOperators {
  static let integerDomain: [String: Kernel] = [
    "ConvInteger": convolutionInteger, "QLinearMatMul": qlinearMatMul, "QLinearConv": qlinearConvolution,
    "DynamicQuantizeLinear": dynamicQuantizeLinear,
  ]

  /// Integers of input `index` minus the zero point of input `zeroIndex` (per tensor, or per
  /// slice along `axis` of the input when it has one entry per slice).
  static func centered(_ n: ONNXNode, _ index: Int, zero zeroIndex: Int, axis: Int = 0) throws(ONNXError) -> ONNXIntegers {
    var x = try n.integers(index)
    guard n.has(zeroIndex) else { return x }
    let zero = try n.integers(zeroIndex)
    if zero.count == 1 { x.values = x.values.map { $0 - zero.values[0] }; return x }
    guard x.shape.count > axis, zero.count == x.shape[axis] else { throw n.fail("zero point \(zero.shape) does not fit input \(index) \(x.shape)") }
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    x.values = x.values.enumerated().map { i, v in v - zero.values[(i / inner) % x.shape[axis]] }
    return x
  }

  /// `a_scale · b_scale / y_scale` rounded step by step in the scales' type.
  static func multiplier(_ n: ONNXNode, _ first: Int, _ second: Int, _ output: Int) throws(ONNXError) -> [Double] {
    let (a, b, y) = (try n.value(first), try n.value(second), try n.value(output))
    guard let sa = a.floatValues?.scalars, let sb = b.floatValues?.scalars, let sy = y.floatValues?.scalars.first else {
      throw n.fail("scales must be float tensors")
    }
    let format = ONNXFloatFormat(a.dataType)
    let round = { (v: Float) in format?.rounded(v) ?? v }
    let count = Swift.max(sa.count, sb.count)
    return (0..<count).map { i in Double(round(round(sa[sa.count == 1 ? 0 : i] * sb[sb.count == 1 ? 0 : i]) / sy)) }
  }

  /// `acc · m + zero`, rounded half to even and saturated to the zero point's type.
  static func requantized(_ accumulators: [Int64], multipliers: [Double], channelOf: (Int) -> Int, _ n: ONNXNode, zero zeroIndex: Int, fallback: TensorProto.DataType, shape: [Int]) throws(ONNXError) -> ONNXValue {
    let zero = n.has(zeroIndex) ? try n.integers(zeroIndex) : nil
    let type = zero?.dataType ?? fallback
    let range = type.integerRange
    let values = accumulators.enumerated().map { i, acc -> Int64 in
      let y = (Double(acc) * multipliers[multipliers.count == 1 ? 0 : channelOf(i)]).rounded(.toNearestOrEven) + Double(zero?.values.first ?? 0)
      return Int64(Swift.min(Swift.max(y, Double(range.lowerBound)), Double(range.upperBound)))
    }
    return .integer(ONNXIntegers(shape: shape, values: values, dataType: type))
  }

  static func qlinearMatMul(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let a = try centered(n, 0, zero: 2), b = try centered(n, 3, zero: 5)
    let (c, shape) = try integerMatmul(a, b, n)
    let columns = shape.last ?? 1
    let m = try multiplier(n, 1, 4, 6)
    return [try requantized(c, multipliers: m, channelOf: { $0 % columns }, n, zero: 7, fallback: a.dataType, shape: shape)]
  }

  /// Exact `A·B` of integer matrices of rank ≥ 2, batch axes broadcast as in NumPy `matmul`.
  static func integerMatmul(_ a: ONNXIntegers, _ b: ONNXIntegers, _ n: ONNXNode) throws(ONNXError) -> ([Int64], [Int]) {
    guard a.shape.count >= 2, b.shape.count >= 2, a.shape.last == b.shape[b.shape.count - 2] else {
      throw n.fail("needs A and B of rank ≥ 2 with matching inner sizes, got \(a.shape) and \(b.shape)")
    }
    let (m, k, columns) = (a.shape[a.shape.count - 2], b.shape[b.shape.count - 2], b.shape[b.shape.count - 1])
    let (batchA, batchB) = (Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
    let batch = try n.broadcast(batchA, batchB)
    let (ia, ib) = (broadcastSourceIndices(batchA, to: batch), broadcastSourceIndices(batchB, to: batch))
    var c = [Int64](repeating: 0, count: ia.count * m * columns)
    for (p, (sa, sb)) in zip(ia, ib).enumerated() {
      let (baseA, baseB, baseC) = (sa * m * k, sb * k * columns, p * m * columns)
      for r in 0..<m {
        for kk in 0..<k where a.values[baseA + r * k + kk] != 0 {
          let av = a.values[baseA + r * k + kk]
          for j in 0..<columns { c[baseC + r * columns + j] += av * b.values[baseB + kk * columns + j] }
        }
      }
    }
    return (c, batch + [m, columns])
  }

  static func convolutionInteger(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try centered(n, 0, zero: 2), w = try centered(n, 1, zero: 3)
    let (values, shape) = try integerConvolution(n, x, w)
    return [.integer(ONNXIntegers(shape: shape, values: values.map { TensorProto.DataType.int32.wrapping($0) }, dataType: .int32))]
  }

  static func qlinearConvolution(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try centered(n, 0, zero: 2), w = try centered(n, 3, zero: 5)
    var (accumulators, shape) = try integerConvolution(n, x, w)
    let plane = shape[2...].reduce(1, *)
    if n.has(8) {
      let bias = try n.integers(8)
      guard bias.count == shape[1] else { throw n.fail("bias \(bias.shape) does not match \(shape[1]) output channels") }
      accumulators = accumulators.enumerated().map { i, v in v + bias.values[(i / plane) % shape[1]] }
    }
    let m = try multiplier(n, 1, 4, 6)
    return [try requantized(accumulators, multipliers: m, channelOf: { ($0 / plane) % shape[1] }, n, zero: 7, fallback: x.dataType, shape: shape)]
  }

  /// Exact grouped 1-D/2-D convolution of integers (geometry as for Conv).
  static func integerConvolution(_ n: ONNXNode, _ x: ONNXIntegers, _ w: ONNXIntegers) throws(ONNXError) -> ([Int64], [Int]) {
    guard x.shape.count == 3 || x.shape.count == 4, w.shape.count == x.shape.count else {
      throw n.fail("supports 1-D and 2-D integer convolution (input \(x.shape), weight \(w.shape))")
    }
    let groups = n.int("group", default: 1)
    guard groups >= 1, w.shape[1] * groups == x.shape[1], w.shape[0] % groups == 0 else { throw n.fail("weight \(w.shape) with group \(groups) does not fit input \(x.shape)") }
    let g = try window(n, spatial: Array(x.shape[2...]), kernel: Array(w.shape[2...]))
    let lift = { (v: [Int], fill: Int) in v.count == 1 ? [fill, v[0]] : v }
    let (size, kernel) = (lift(Array(x.shape[2...]), 1), lift(g.kernel, 1))
    let (stride, dilation, pad) = (lift(g.strides, 1), lift(g.dilations, 1), lift(g.padBegin, 0))
    let padEnd = lift(g.padEnd, 0)
    let out: [Int] = (0..<2).map { i in
      let span: Int = size[i] + pad[i] + padEnd[i] - (kernel[i] - 1) * dilation[i] - 1
      return span / stride[i] + 1
    }
    let (batch, channels, outputs) = (x.shape[0], x.shape[1], w.shape[0])
    let (inPerGroup, outPerGroup) = (channels / groups, outputs / groups)
    var y = [Int64](repeating: 0, count: batch * outputs * out[0] * out[1])
    for b in 0..<batch {
      for o in 0..<outputs {
        let group = o / outPerGroup
        for oy in 0..<out[0] {
          for ox in 0..<out[1] {
            var sum: Int64 = 0
            for c in 0..<inPerGroup {
              for ky in 0..<kernel[0] {
                let iy = oy * stride[0] + ky * dilation[0] - pad[0]
                guard iy >= 0 && iy < size[0] else { continue }
                for kx in 0..<kernel[1] {
                  let ix = ox * stride[1] + kx * dilation[1] - pad[1]
                  guard ix >= 0 && ix < size[1] else { continue }
                  let input = ((b * channels + group * inPerGroup + c) * size[0] + iy) * size[1] + ix
                  sum += x.values[input] * w.values[((o * inPerGroup + c) * kernel[0] + ky) * kernel[1] + kx]
                }
              }
            }
            y[((b * outputs + o) * out[0] + oy) * out[1] + ox] = sum
          }
        }
      }
    }
    let shape = [batch, outputs] + (x.shape.count == 3 ? [out[1]] : out)
    return (y, shape)
  }

  /// uint8 quantization with the scale and zero point chosen from the data's range (0 included),
  /// all in Float32 as the reference computes them.
  static func dynamicQuantizeLinear(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let x = try n.float(0)
    let values = x.scalars
    let high = Swift.max(0, values.max() ?? 0), low = Swift.min(0, values.min() ?? 0)
    let scale: Float = (high == low ? 1 : high - low) / 255
    let zero = Swift.max(0, Swift.min(255, 0 - low / scale)).rounded(.toNearestOrEven)
    let q = values.map { v in Int64(Swift.max(0, Swift.min(255, (v / scale).rounded(.toNearestOrEven) + zero))) }
    return [.integer(ONNXIntegers(shape: x.shape, values: q, dataType: .uint8)), .float(Tensor(shape: [], scalars: [scale])),
            .integer(ONNXIntegers(shape: [], values: [Int64(zero)], dataType: .uint8))]
  }
}
