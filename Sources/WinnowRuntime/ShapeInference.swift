import WinnowCore
import WinnowKernels

/// The result shape of `op` on inputs of `shapes`, or the reason it would be invalid: every
/// precondition of `Op.evaluate`, checked before running, so a hostile packed file is an
/// error and not a crash.
func inferShape(_ op: Op, _ shapes: [[Int]]) -> Result<[Int], ShapeProblem> {
  func fail(_ s: String) -> Result<[Int], ShapeProblem> { .failure(ShapeProblem(message: "\(op.name): \(s)")) }
  let arity: Int
  switch op {
  case .binary, .matmul, .conv2d: arity = 2
  case .concat: arity = shapes.count
  case .batchNorm: arity = 3
  default: arity = 1
  }
  guard shapes.count == arity, arity > 0 else { return fail("takes \(arity == 0 ? "at least one" : "\(arity)") inputs, got \(shapes.count)") }
  let x = shapes[0]
  guard x.allSatisfy({ $0 >= 0 }) else { return fail("negative size in \(x)") }
  func axisOK(_ a: Int) -> Bool { a >= 0 && a < x.count }
  switch op {
  case .unary, .power, .clamp:
    return .success(x)
  case .binary:
    guard let s = broadcastShape(x, shapes[1]) else { return fail("\(x) and \(shapes[1]) do not broadcast") }
    return .success(s)
  case .sum(let axes):
    guard axes.allSatisfy(axisOK) else { return fail("axes \(axes) out of range for \(x)") }
    var s = x
    for a in axes { s[a] = 1 }
    return .success(s)
  case .max(let axis), .softmax(let axis), .logSoftmax(let axis):
    guard axisOK(axis) else { return fail("axis \(axis) out of range for \(x)") }
    if case .max = op { var s = x; s[axis] = 1; return .success(s) }
    return .success(x)
  case .matmul(let tA, let tB):
    let b = shapes[1]
    guard x.count >= 2, x.count == b.count, x.dropLast(2) == b.dropLast(2) else { return fail("\(x) and \(b) do not multiply") }
    let (m, k) = tA ? (x[x.count - 1], x[x.count - 2]) : (x[x.count - 2], x[x.count - 1])
    let (kb, n) = tB ? (b[b.count - 1], b[b.count - 2]) : (b[b.count - 2], b[b.count - 1])
    guard k == kb else { return fail("inner sizes \(k) and \(kb) differ") }
    return .success(Array(x.dropLast(2)) + [m, n])
  case .reshape(let s):
    guard s.allSatisfy({ $0 >= 0 }), count(s) == count(x) else { return fail("cannot reshape \(x) to \(s)") }
    return .success(s)
  case .permute(let p):
    guard p.sorted() == Array(0..<x.count) else { return fail("\(p) is not a permutation of \(x.count) axes") }
    return .success(p.map { x[$0] })
  case .expand(let s):
    guard s.allSatisfy({ $0 >= 0 }), broadcastShape(x, s) == s else { return fail("cannot expand \(x) to \(s)") }
    return .success(s)
  case .slice(let axis, let range):
    guard axisOK(axis), range.lowerBound >= 0, range.upperBound <= x[axis] else { return fail("\(range) out of bounds of axis \(axis) of \(x)") }
    var s = x
    s[axis] = range.count
    return .success(s)
  case .concat(let axis):
    guard axisOK(axis), shapes.allSatisfy({ t in t.count == x.count && (0..<x.count).allSatisfy { $0 == axis || t[$0] == x[$0] } })
    else { return fail("inputs \(shapes) do not join along axis \(axis)") }
    var s = x
    s[axis] = shapes.reduce(0) { $0 + $1[axis] }
    return .success(s)
  case .gather(let indices, let indexShape):
    guard !x.isEmpty, count(indexShape) == indices.count, indices.allSatisfy({ $0 >= 0 && Int($0) < x[0] })
    else { return fail("indices do not fit \(x)") }
    return .success(indexShape + x.dropFirst())
  case .conv2d(let stride, let padding, let dilation, let groups):
    let w = shapes[1]
    guard x.count == 4, w.count == 4, stride.count == 2, padding.count == 2, dilation.count == 2, groups > 0,
      w[1] * groups == x[1], w[0] % groups == 0
    else { return fail("weight \(w) with groups \(groups) does not fit input \(x)") }
    let g = Conv2DGeometry(batch: x[0], inChannels: x[1], height: x[2], width: x[3], outChannels: w[0],
                           kernelHeight: w[2], kernelWidth: w[3], stride: (stride[0], stride[1]),
                           padding: (padding[0], padding[1]), dilation: (dilation[0], dilation[1]), groups: groups)
    if let problem = g.problem { return fail(problem) }
    return .success([x[0], w[0], g.outHeight, g.outWidth])
  case .maxPool2d(let kernel, let stride, let padding), .avgPool2d(let kernel, let stride, let padding):
    guard x.count >= 2, kernel.count == 2, stride.count == 2, padding.count == 2 else { return fail("bad pooling geometry for \(x)") }
    let g = Pool2DGeometry(planes: x.dropLast(2).reduce(1, *), height: x[x.count - 2], width: x[x.count - 1],
                           kernel: (kernel[0], kernel[1]), stride: (stride[0], stride[1]), padding: (padding[0], padding[1]))
    if let problem = g.problem { return fail(problem) }
    return .success(Array(x.dropLast(2)) + [g.outHeight, g.outWidth])
  case .batchNorm:
    guard x.count >= 2, shapes[1] == [x[1]], shapes[2] == [x[1]] else { return fail("γ \(shapes[1]) and β \(shapes[2]) do not fit input \(x)") }
    return .success(x)
  }
}

struct ShapeProblem: Error { let message: String }

/// The element count of `shape`, or -1 on overflow.
private func count(_ shape: [Int]) -> Int {
  var n = 1
  for d in shape {
    let (p, o) = n.multipliedReportingOverflow(by: d)
    if o { return -1 }
    n = p
  }
  return n
}
