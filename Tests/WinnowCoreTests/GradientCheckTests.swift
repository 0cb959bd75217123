import Testing
import WinnowCore
import WinnowKernels
import WinnowTestSupport

/// A differentiable function of some tensors, checked against finite differences.
struct GradientCase: Sendable, CustomStringConvertible {
  let name: String
  let inputs: [Tensor]
  let function: @Sendable ([Tensor]) -> Tensor

  init(_ name: String, _ inputs: [Tensor], _ function: @escaping @Sendable ([Tensor]) -> Tensor) {
    self.name = name
    self.inputs = inputs
    self.function = function
  }

  /// A single op applied to the inputs directly (no public wrapper in between).
  init(_ name: String, _ op: Op, _ inputs: [Tensor]) {
    self.init(name, inputs) { Tensor.apply(op, $0) }
  }

  var description: String { name }
}

// MARK: - Inputs

private func uniform(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Tensor {
  randomTensor(shape, seed: seed, in: range)
}

/// Values on the grid `0.1·k + offset` in [-1, 1]: operands of maximum/minimum drawn with
/// offsets 0 and 0.05 differ by at least 0.05 everywhere, so no finite-difference step
/// (h = 0.01) crosses a tie.
private func grid(_ shape: [Int], _ seed: UInt64, offset: Float) -> Tensor {
  Tensor(shape: shape, scalars: uniform(shape, seed).scalars.map { ($0 * 10).rounded() / 10 + offset })
}

/// Inputs for a unary function: its domain, with kinks (0 for relu and abs) at least 0.05 away.
private func unaryInput(_ f: UnaryFunction) -> Tensor {
  switch f {
  case .log, .sqrt: return uniform([3, 4], 11, 0.3...2)
  case .relu, .abs: return awayFrom(0, uniform([3, 4], 11, -2...2), margin: 0.05)
  default: return uniform([3, 4], 11, -2.5...2.5)
  }
}

/// Broadcasting operand shapes: same rank, rank mismatch, and a scalar on either side.
private let binaryShapes: [([Int], [Int])] = [([2, 3, 4], [3, 1]), ([4], [2, 1, 4]), ([], [2, 3]), ([2, 3], [])]

private func binaryInputs(_ f: BinaryFunction, _ a: [Int], _ b: [Int]) -> [Tensor] {
  switch f {
  case .maximum, .minimum:
    // A scalar operand sits at 0, inside the other operand's range, so both sides win somewhere.
    return [grid(a, 21, offset: 0.05), b.isEmpty ? Tensor(0) : grid(b, 22, offset: 0)]
  case .divide: return [uniform(a, 21), uniform(b, 22, 0.5...1.5)]
  default: return [uniform(a, 21), uniform(b, 22)]
  }
}

/// Operand shapes of `op(A)·op(B)` with M = 3, K = 4, N = 5 under `batch` leading axes.
private func matmulInputs(_ tA: Bool, _ tB: Bool, batch: [Int]) -> [Tensor] {
  [uniform(batch + (tA ? [4, 3] : [3, 4]), 31), uniform(batch + (tB ? [5, 4] : [4, 5]), 32)]
}

private func conv(
  _ x: [Int], _ w: [Int], stride: [Int] = [1, 1], padding: [Int] = [0, 0], dilation: [Int] = [1, 1], groups: Int = 1
) -> GradientCase {
  GradientCase("conv2d x\(x) w\(w) s\(stride) p\(padding) d\(dilation) g\(groups)",
               .conv2d(stride: stride, padding: padding, dilation: dilation, groups: groups),
               [uniform(x, 41), uniform(w, 42)])
}

// MARK: - Cases

extension GradientCase {
  static let unary = UnaryFunction.allCases.map { f in GradientCase("\(f)", .unary(f), [unaryInput(f)]) }

  static let binary = BinaryFunction.allCases.flatMap { f in
    binaryShapes.map { a, b in GradientCase("\(f) \(a) \(b)", .binary(f), binaryInputs(f, a, b)) }
  }

  static let elementwise = [
    GradientCase("power 3", .power(3), [uniform([3, 4], 12, -1.5...1.5)]),
    GradientCase("power 2", .power(2), [uniform([3, 4], 12, -1.5...1.5)]),
    GradientCase("power 0.5", .power(0.5), [uniform([3, 4], 12, 0.3...2)]),
    GradientCase("power -1.5", .power(-1.5), [uniform([3, 4], 12, 0.5...2)]),
    GradientCase("clamp -0.5...0.5", .clamp(low: -0.5, high: 0.5),
                 [awayFrom(0.5, awayFrom(-0.5, uniform([4, 5], 13), margin: 0.05), margin: 0.05)]),
  ]

  static let reductions: [GradientCase] =
    [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2], []].map { axes in
      GradientCase("sum axes \(axes)", .sum(axes: axes), [uniform([2, 3, 4], 14)])
    }
    + [GradientCase("sum(axes: [-1, 0]) public", [uniform([2, 3, 4], 14)]) { $0[0].sum(axes: [-1, 0]) },
       GradientCase("mean and variance", [uniform([3, 5], 14)]) { $0[0].variance(axes: [1]) + $0[0].mean() }]
    + [0, 1, 2].map { axis in GradientCase("max axis \(axis)", .max(axis: axis), [distinctValues([3, 4, 5], seed: 15)]) }
    + [0, 1, 2].flatMap { axis in
      [GradientCase("softmax axis \(axis)", .softmax(axis: axis), [uniform([3, 4, 5], 16, -2...2)]),
       GradientCase("logSoftmax axis \(axis)", .logSoftmax(axis: axis), [uniform([3, 4, 5], 16, -2...2)])]
    }

  static let matmul: [GradientCase] = [[], [2], [2, 3]].flatMap { batch in
    [(false, false), (false, true), (true, false), (true, true)].map { tA, tB in
      GradientCase("matmul \(tA ? "Aᵀ" : "A")·\(tB ? "Bᵀ" : "B") batch \(batch)",
                   .matmul(transposeA: tA, transposeB: tB), matmulInputs(tA, tB, batch: batch))
    }
  } + [
    GradientCase("matmul rank 3 · shared rank 2 (Linear)", [uniform([2, 3, 4], 33), uniform([5, 4], 34)]) {
      $0[0].matmul($0[1], transposeB: true)
    },
  ]

  static let shape: [GradientCase] = [
    GradientCase("reshape", .reshape([4, 6]), [uniform([2, 3, 4], 51)]),
    GradientCase("permute [2, 0, 3, 1]", .permute([2, 0, 3, 1]), [uniform([2, 3, 4, 5], 52)]),
    GradientCase("expand [3, 1, 4] → [2, 3, 5, 4]", .expand([2, 3, 5, 4]), [uniform([3, 1, 4], 53)]),
    GradientCase("expand [4] → [3, 4]", .expand([3, 4]), [uniform([4], 53)]),
    GradientCase("slice axis 1", .slice(axis: 1, range: 1..<3), [uniform([2, 4, 3], 54)]),
    GradientCase("slice axis 0", .slice(axis: 0, range: 2..<3), [uniform([4, 3], 54)]),
    GradientCase("concat 3 inputs axis 1", .concat(axis: 1), [uniform([2, 1, 3], 55), uniform([2, 3, 3], 56), uniform([2, 2, 3], 57)]),
    GradientCase("concat 3 inputs axis 0", .concat(axis: 0), [uniform([1, 3], 55), uniform([2, 3], 56), uniform([1, 3], 57)]),
    GradientCase("gather repeated indices", .gather(indices: [0, 2, 2, 4, 0, 2], indexShape: [2, 3]), [uniform([5, 3], 58)]),
  ]

  static let convolution: [GradientCase] = [
    conv([2, 4, 7, 6], [6, 4, 3, 3]),
    conv([2, 4, 7, 6], [6, 2, 3, 3], stride: [2, 2], padding: [1, 1], dilation: [2, 2], groups: 2),
    conv([1, 4, 6, 7], [4, 1, 3, 3], stride: [2, 1], padding: [1, 2], groups: 4),  // depthwise
    conv([2, 3, 5, 5], [4, 3, 1, 1], stride: [2, 2]),
    conv([1, 2, 6, 5], [3, 2, 2, 3], stride: [1, 2], padding: [2, 1], dilation: [1, 2]),
  ]

  static let pooling: [GradientCase] = [
    GradientCase("maxPool2d k3 s2 p1", .maxPool2d(kernel: [3, 3], stride: [2, 2], padding: [1, 1]), [distinctValues([2, 3, 7, 6], seed: 61)]),
    GradientCase("maxPool2d k2 s1", .maxPool2d(kernel: [2, 2], stride: [1, 1], padding: [0, 0]), [distinctValues([1, 2, 5, 4], seed: 62)]),
    GradientCase("maxPool2d k2×3 s3×2 p1", .maxPool2d(kernel: [2, 3], stride: [3, 2], padding: [1, 1]), [distinctValues([2, 7, 6], seed: 63)]),
    GradientCase("avgPool2d k3 s2 p1", .avgPool2d(kernel: [3, 3], stride: [2, 2], padding: [1, 1]), [uniform([2, 3, 7, 6], 64)]),
    GradientCase("avgPool2d k2 s3 p1", .avgPool2d(kernel: [2, 2], stride: [3, 3], padding: [1, 1]), [uniform([1, 2, 7, 8], 65)]),
  ]

  /// Training-mode batch norm: planes of 6 (scalar remainder only), 12 (one 8-wide block and a
  /// remainder) and 1 (`N×C` input); γ away from 0 so that dx is not vanishingly small.
  static let normalization: [GradientCase] = [[3, 2, 2, 3], [2, 3, 3, 4], [5, 3]].map { shape in
    let channels = shape[1]
    return GradientCase("batchNorm \(shape)", .batchNorm(epsilon: 1e-5),
                        [uniform(shape, 91), uniform([channels], 92, 0.5...1.5), uniform([channels], 93)])
  }

  /// Ops where only some inputs are tracked, so the `needed` shortcuts of the derivative
  /// table are taken (the untracked operand is a captured constant).
  static let partlyConstant: [GradientCase] = {
    let c34 = uniform([3, 4], 71), c45 = uniform([4, 5], 72), w = uniform([6, 2, 3, 3], 73), x = uniform([2, 4, 6, 5], 74)
    return [
      GradientCase("subtract from constant", [uniform([3, 4], 75)]) { c34 - $0[0] },
      GradientCase("multiply by constant", [uniform([3, 4], 75)]) { $0[0] * c34 },
      GradientCase("divide constant by x", [uniform([3, 4], 75, 0.5...1.5)]) { c34 / $0[0] },
      GradientCase("divide x by constant", [uniform([3, 4], 75)]) { $0[0] / (c34 + 2) },
      GradientCase("matmul x·constant", [uniform([3, 4], 75)]) { $0[0].matmul(c45) },
      GradientCase("matmul constant·x", [uniform([5, 3], 75)]) { c34.matmul($0[0], transposeA: true, transposeB: true) },
      GradientCase("conv2d with constant weight", [uniform([2, 4, 6, 5], 76)]) { $0[0].conv2d(w, padding: (1, 1), groups: 2) },
      GradientCase("conv2d of constant input", [uniform([6, 2, 3, 3], 76)]) { x.conv2d($0[0], stride: (2, 2), groups: 2) },
      GradientCase("concat with constant middle", [uniform([2, 2], 77), uniform([2, 1], 78)]) {
        Tensor.concat([$0[0], c34.slice(axis: 0, 0..<2), $0[1]], axis: 1)
      },
    ]
  }()

  /// A composite that reads its input several times, so cotangents must accumulate.
  static let composite = [
    GradientCase("x·sigmoid(x) + softmax(x)·x", [uniform([3, 4], 81, -2...2)]) { xs in
      let x = xs[0]
      return x * x.sigmoid() + x.softmax(axis: 0) * x
    },
  ]

  static let all = unary + binary + elementwise + reductions + matmul + shape + convolution + pooling
    + normalization + partlyConstant + composite
}

// MARK: - Coverage

/// The key a recorded op is counted under for coverage: its case, refined by the payloads
/// whose derivatives differ (the function of unary/binary ops, the transposes of matmul).
///
/// This `switch` has no `default` on purpose: adding a case to `Op` stops this file from
/// compiling until the case is given a key here, a gradient case in `GradientCase.all`, and
/// an entry in `requiredCoverage`.
private func coverageKey(_ op: Op) -> String {
  switch op {
  case .unary(let f): return "unary.\(f)"
  case .binary(let f): return "binary.\(f)"
  case .power: return "power"
  case .clamp: return "clamp"
  case .sum: return "sum"
  case .max: return "max"
  case .matmul(let tA, let tB): return "matmul(transposeA: \(tA), transposeB: \(tB))"
  case .reshape: return "reshape"
  case .permute: return "permute"
  case .expand: return "expand"
  case .slice: return "slice"
  case .concat: return "concat"
  case .gather: return "gather"
  case .conv2d: return "conv2d"
  case .maxPool2d: return "maxPool2d"
  case .avgPool2d: return "avgPool2d"
  case .softmax: return "softmax"
  case .logSoftmax: return "logSoftmax"
  case .batchNorm: return "batchNorm"
  }
}

/// Every key the gradient cases must reach. Maintained by hand, next to ``coverageKey(_:)``;
/// unary and binary functions come from `allCases`, so new functions are required at once.
private let requiredCoverage: Set<String> = Set(
  UnaryFunction.allCases.map { "unary.\($0)" } + BinaryFunction.allCases.map { "binary.\($0)" }
    + [false, true].flatMap { a in [false, true].map { b in "matmul(transposeA: \(a), transposeB: \(b))" } }
    + ["power", "clamp", "sum", "max", "reshape", "permute", "expand", "slice", "concat", "gather", "conv2d",
       "maxPool2d", "avgPool2d", "softmax", "logSoftmax", "batchNorm"])

/// Keys of every op recorded in the graph that produced `value`.
private func recordedKeys(_ value: Tensor) -> Set<String> {
  var keys = Set<String>()
  var stack = [value]
  while let t = stack.popLast() {
    guard let (op, inputs) = t.producer else { continue }
    keys.insert(coverageKey(op))
    stack += inputs
  }
  return keys
}

// MARK: - Tests

@Suite struct GradientCheckTests {
  /// Analytic gradient (reverse mode) = central differences, for `L = Σ wᵢ·yᵢ` with fixed
  /// random weights `w`, so that every output element contributes.
  ///
  /// Numeric side: h = 1e-2, differences and the weighted sum in Double. Errors: truncation
  /// `h²·|f‴|/6 ≲ 2e-5·|f‴|` (zero for the linear and bilinear ops), and Float32 rounding of
  /// the outputs, `≲ u·Σ|wᵢyᵢ|/h ≈ 6e-6·Σ|wᵢyᵢ|` over the outputs one input reaches.
  /// Tolerance `|a − n| ≤ 1e-3 + 1e-2·|n|` covers both with room, and is far below the size of
  /// any real derivative bug (a wrong sign, a missing term, a misrouted element).
  @Test(arguments: GradientCase.all)
  func analyticGradientMatchesFiniteDifferences(_ c: GradientCase) {
    let output = c.function(c.inputs)
    let w = randomTensor(output.shape, seed: 99)
    let (_, analytic) = valueWithGradient(at: c.inputs) { xs in (c.function(xs) * w).sum() }
    for (i, x) in c.inputs.enumerated() {
      let numeric = numericGradientInDouble(of: { xi in
        var xs = c.inputs
        xs[i] = xi
        return weightedSum(c.function(xs), w)
      }, at: x, h: 1e-2)
      #expect(analytic[i].shape == x.shape, "\(c) input \(i): gradient shape \(analytic[i].shape)")
      if let mismatch = gradientMismatch(analytic[i], numeric, atol: 1e-3, rtol: 1e-2) {
        Issue.record("\(c), input \(i) \(x.shape): \(mismatch)")
      }
      // Guards against a vacuous pass where both sides are zero.
      #expect(numeric.scalars.contains { Swift.abs($0) > 1e-2 }, "\(c) input \(i): numeric gradient is all ~0")
    }
  }

  /// Fails when an `Op` case (or a unary/binary function, or a matmul transpose pair) has no
  /// gradient case: the recorded graphs of all cases must reach exactly `requiredCoverage`.
  @Test func everyOpHasAGradientCase() {
    var reached = Set<String>()
    for c in GradientCase.all {
      let tracked = c.inputs.enumerated().map { $1.tracked(key: $0) }
      reached.formUnion(recordedKeys(c.function(tracked)))
    }
    #expect(requiredCoverage.subtracting(reached).isEmpty,
            "ops without a gradient case: \(requiredCoverage.subtracting(reached).sorted())")
    #expect(reached.subtracting(requiredCoverage).isEmpty,
            "ops reached but missing from requiredCoverage: \(reached.subtracting(requiredCoverage).sorted())")
  }
}
