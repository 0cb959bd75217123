import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// `A` as Double from the SVD's factors: `U·diag(σ)·Vᵀ` over the first `r` triplets.
private func reconstruct(_ svd: SingularValueDecomposition, rank r: Int) -> [Double] {
  var out = [Double](repeating: 0, count: svd.rows * svd.columns)
  for t in 0..<r {
    for i in 0..<svd.rows {
      for j in 0..<svd.columns { out[i * svd.columns + j] += svd.u[i * svd.k + t] * svd.singularValues[t] * svd.v[j * svd.k + t] }
    }
  }
  return out
}

/// Largest `|QᵀQ − I|` entry for the `count` columns of the row-major `length×count` `q`.
private func orthonormalityError(_ q: [Double], length: Int, count: Int) -> Double {
  var worst = 0.0
  for a in 0..<count {
    for b in 0..<count {
      let d = (0..<length).reduce(0.0) { $0 + q[$1 * count + a] * q[$1 * count + b] }
      worst = max(worst, abs(d - (a == b ? 1 : 0)))
    }
  }
  return worst
}

private func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64) -> [Double] {
  var rng = RandomGenerator(seed: seed)
  return (0..<rows * columns).map { _ in Double(rng.nextNormal()) }
}

@Suite struct SingularValueDecompositionTests {
  /// Tall, wide, square, vector-shaped and a rank-deficient product, in Double.
  @Test(arguments: [(7, 5), (5, 7), (16, 16), (1, 9), (9, 1), (33, 20)])
  func reconstructsWithOrthonormalFactorsAndSortedValues(shape: (Int, Int)) {
    let (m, n) = shape
    let a = randomMatrix(m, n, seed: UInt64(m * 100 + n))
    let svd = SingularValueDecomposition(rows: m, columns: n, values: a)
    #expect(svd.k == min(m, n))
    let back = reconstruct(svd, rank: svd.k)
    // Jacobi is accurate to a few ulps of ‖A‖; entries are O(1).
    #expect(zip(a, back).allSatisfy { abs($0 - $1) < 1e-12 })
    #expect(orthonormalityError(svd.u, length: m, count: svd.k) < 1e-12)
    #expect(orthonormalityError(svd.v, length: n, count: svd.k) < 1e-12)
    #expect(svd.singularValues == svd.singularValues.sorted(by: >))
    #expect(svd.singularValues.allSatisfy { $0 >= 0 })
  }

  @Test func rankDeficientMatrixHasZeroTailAndOrthonormalU() {
    // A = X·Y with X 12×3, Y 3×8: rank 3.
    let (x, y) = (randomMatrix(12, 3, seed: 1), randomMatrix(3, 8, seed: 2))
    var a = [Double](repeating: 0, count: 96)
    for i in 0..<12 { for j in 0..<8 { for t in 0..<3 { a[i * 8 + j] += x[i * 3 + t] * y[t * 8 + j] } } }
    let svd = SingularValueDecomposition(rows: 12, columns: 8, values: a)
    #expect(svd.singularValues[3...].allSatisfy { $0 < 1e-12 * svd.singularValues[0] })
    #expect(orthonormalityError(svd.u, length: 12, count: 8) < 1e-12)
    #expect(svd.rank(keepingEnergy: 1) == 3)
  }

  @Test func knownSingularValues() {
    let svd = SingularValueDecomposition(Tensor(shape: [2, 3], scalars: [3, 0, 0, 0, -4, 0]))
    #expect(svd.singularValues == [4, 3])
  }

  /// Eckart–Young: `‖A − A_r‖²_F = Σ_{i>r} σᵢ²` for every r.
  @Test func truncationErrorEqualsDiscardedEnergy() {
    let (m, n) = (24, 17)
    let a = randomMatrix(m, n, seed: 7)
    let svd = SingularValueDecomposition(rows: m, columns: n, values: a)
    for r in 0...svd.k {
      let error = zip(a, reconstruct(svd, rank: r)).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
      let discarded = svd.singularValues[r...].reduce(0.0) { $0 + $1 * $1 }
      #expect(abs(error - discarded) < 1e-10 * max(1, discarded), "rank \(r)")
    }
    // The Float path agrees to Float precision.
    let truncated = svd.truncated(rank: 5).scalars
    let error = zip(a, truncated).reduce(0.0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) }
    let discarded = svd.singularValues[5...].reduce(0.0) { $0 + $1 * $1 }
    #expect(abs(error - discarded) < 1e-4 * discarded)
  }

  @Test func energyRankAndBalancedFactors() {
    let svd = SingularValueDecomposition(Tensor(shape: [3, 3], scalars: [4, 0, 0, 0, 2, 0, 0, 0, 1]))
    // σ² = 16, 4, 1 of 21: rank 1 keeps 76%, rank 2 keeps 95.2%.
    #expect(svd.rank(keepingEnergy: 0.7) == 1)
    #expect(svd.rank(keepingEnergy: 0.9) == 2)
    #expect(svd.rank(keepingEnergy: 1) == 3)
    let (left, right) = svd.factors(rank: 2)
    #expect(allClose(left.matmul(right), svd.truncated(rank: 2), atol: 1e-6))
    #expect(abs(abs(left[0, 0]) - 2) < 1e-6 && abs(abs(right[0, 0]) - 2) < 1e-6)
  }
}

@Suite struct LowRankLayerTests {
  @Test func factorizedLinearMatchesTruncatedWeightAndKeepsNames() throws {
    var rng = RandomGenerator(seed: 4)
    let model = Models.mlp(inputs: 20, hidden: [12], classes: 5, rng: &rng)
    let dense = (model.namedLayers.first { $0.name == "fc1" }!.layer as! Linear)
    let svd = SingularValueDecomposition(dense.weight.value)
    let expectedWeight = svd.truncated(rank: 4), bias = dense.bias!.value
    let x = randomTensor([3, 20], seed: 5)
    let entries = try LowRankFactorization.factorize(model, selection: .rank(4), layers: ["fc1"])
    #expect(entries.count == 1 && entries[0].rank == 4 && entries[0].parametersAfter == 4 * 32 + 12)
    #expect(model.parameterShapes.map(\.name) == ["fc1.first.weight", "fc1.second.weight", "fc1.second.bias", "fc2.weight", "fc2.bias"])
    let layer = model.namedLayers.first { $0.name == "fc1" }!.layer as! LowRankLinear
    #expect(allClose(layer.denseWeight, expectedWeight, atol: 1e-5))
    let reference = x.matmul(expectedWeight, transposeB: true) + bias
    #expect(allClose(layer(x), reference, rtol: 1e-4, atol: 1e-5))
  }

  @Test func factorizedConvolutionMatchesTruncatedWeight() throws {
    var rng = RandomGenerator(seed: 6)
    let model = Sequential(named: [("conv", Conv2d(3, 8, kernel: 3, stride: 2, padding: 1, rng: &rng))])
    let conv = model.layers[0].layer as! Conv2d
    let truncated = SingularValueDecomposition(conv.weight.value.reshaped([8, 27])).truncated(rank: 3).reshaped([8, 3, 3, 3])
    let reference = Conv2d(weight: truncated, bias: conv.bias!.value, stride: (2, 2), padding: (1, 1), dilation: (1, 1))
    let x = randomTensor([2, 3, 7, 7], seed: 8)
    try LowRankFactorization.factorize(model, selection: .rank(3))
    #expect(model.parameterShapes.map(\.shape) == [[3, 3, 3, 3], [8, 3, 1, 1], [8]])
    #expect(allClose(model(x), reference(x), rtol: 1e-4, atol: 1e-5))
  }

  /// Both factors receive gradients equal to finite differences of a weighted output.
  @Test func lowRankLinearGradientsMatchFiniteDifferences() {
    var rng = RandomGenerator(seed: 9)
    let layer = LowRankLinear(6, 4, rank: 2, rng: &rng)
    let x = randomTensor([3, 6], seed: 10), w = randomTensor([3, 4], seed: 11)
    let (_, gradients) = valueWithGradients(of: layer) { (layer(x) * w).sum() }
    for name in ["first.weight", "second.weight", "second.bias"] {
      var original = Tensor.zeros([0])
      layer.visitParameters { n, p in if n == name { original = p.value } }
      let numeric = numericGradientInDouble(of: { value in
        layer.visitParameters { n, p in if n == name { p.value = value } }
        defer { layer.visitParameters { n, p in if n == name { p.value = original } } }
        return weightedSum(layer(x), w)
      }, at: original)
      // Float32 forward, h = 1e-2, products of O(1) terms: 1e-3 absolute is ample.
      #expect(gradientMismatch(gradients[name]!, numeric, atol: 1e-3, rtol: 1e-3) == nil, "\(name)")
    }
  }

  @Test func rankSelectionRules() throws {
    var rng = RandomGenerator(seed: 12)
    let model = Models.mlp(inputs: 64, hidden: [32], classes: 10, rng: &rng)
    let entries = try LowRankFactorization.factorize(model, selection: .compression(2), layers: ["fc1"])
    // ⌊64·32 / (2·96)⌋ = 10, and the factors hold at most half the weights.
    #expect(entries[0].rank == 10 && entries[0].parametersAfter - 32 <= 64 * 32 / 2)
    let full = try LowRankFactorization.factorize(model, selection: .energy(1), layers: ["fc2"])
    #expect(full[0].factorized == false && full[0].rank == 10 && full[0].parametersAfter == full[0].parametersBefore)
  }

  @Test func badRequestsNameTheProblem() {
    var rng = RandomGenerator(seed: 13)
    let model = Models.mlp(inputs: 16, hidden: [8], classes: 4, rng: &rng)
    #expect(throws: LowRankError.invalidRank(layer: "fc1", rank: 9, maximum: 8)) {
      try LowRankFactorization.factorize(model, selection: .rank(9), layers: ["fc1"])
    }
    #expect(throws: LowRankError.invalidRank(layer: "fc1", rank: 0, maximum: 8)) {
      try LowRankFactorization.factorize(model, selection: .rank(0), layers: ["fc1"])
    }
    #expect(throws: LowRankError.invalidEnergy(1.5)) { try LowRankFactorization.factorize(model, selection: .energy(1.5)) }
    #expect(throws: LowRankError.invalidEnergy(0)) { try LowRankFactorization.factorize(model, selection: .energy(0)) }
    #expect(throws: LowRankError.invalidCompression(1)) { try LowRankFactorization.factorize(model, selection: .compression(1)) }
    #expect(throws: LowRankError.unknownLayer("fc9", known: ["fc1", "fc2"])) {
      try LowRankFactorization.factorize(model, selection: .rank(2), layers: ["fc9"])
    }
    #expect(throws: LowRankError.self) { try LowRankFactorization.factorize(model, selection: .rank(2), layers: ["relu1"]) }
    #expect("\(LowRankError.invalidRank(layer: "fc1", rank: 9, maximum: 8))".contains("fc1"))
  }

  /// Writes `model` as a checkpoint and loads it back the way every command does.
  private func checkpointRoundTrip(_ model: Layer, spec: ModelSpec) throws -> Layer {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lowrank-\(getpid())-\(spec.architecture).ckpt").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    var configuration = TrainingConfiguration()
    configuration.epochs = 1
    try Checkpoint(spec: spec, configuration: configuration, state: TrainingState(seed: 0), model: model,
                   optimizer: configuration.makeOptimizer()).write(path: path)
    return try loadModel(from: try Checkpoint.read(path: path), file: path)
  }

  @Test func factorizedCheckpointLoadsBack() throws {
    let spec = ModelSpec(.lenet5, inputShape: [1, 16, 16], classes: 4)
    let model = spec.build(seed: 1)
    try LowRankFactorization.factorize(model, selection: .rank(3), layers: ["conv2", "fc1"])
    let loaded = try checkpointRoundTrip(model, spec: spec)
    #expect(loaded.parameterShapes.map(\.name) == model.parameterShapes.map(\.name))
    let x = randomTensor([2, 1, 16, 16], seed: 3)
    #expect(loaded(x) == model(x))
  }

  /// Convolutions inside ResNet basic blocks (children of a residual block, not of a
  /// Sequential) factorize in place, and the factorized checkpoint loads back.
  @Test func residualBlockConvolutionsFactorizeAndLoadBack() throws {
    let spec = ModelSpec(.resnet8, inputShape: [1, 12, 12], classes: 4)
    let model = spec.build(seed: 2)
    let eligible = LowRankFactorization.eligibleLayers(of: model)
    #expect(eligible.contains("layer1.0.conv1") && eligible.contains("layer2.0.conv2") && eligible.contains("layer2.0.shortcut.0"))
    let x = randomTensor([2, 1, 12, 12], seed: 5)
    let before = model(x)
    // Full rank (16 of 16·9 = 144 columns) reproduces the block exactly up to rounding.
    let entries = try LowRankFactorization.factorize(model, selection: .rank(16), layers: ["layer1.0.conv1"], onlyWhenSmaller: false)
    #expect(entries.first?.factorized == true && model.parameterShapes.contains { $0.name == "layer1.0.conv1.first.weight" })
    #expect(allClose(model(x), before, rtol: 1e-3, atol: 1e-4))
    try LowRankFactorization.factorize(model, selection: .rank(4), layers: ["layer2.0.conv2"])
    let loaded = try checkpointRoundTrip(model, spec: spec)
    #expect(loaded.parameterShapes.map(\.name) == model.parameterShapes.map(\.name))
    #expect(allClose(loaded(x), model(x), rtol: 1e-5, atol: 1e-6))
  }

  @Test func factorShapesThatDoNotFitTheLayerAreRejected() throws {
    let spec = ModelSpec(.lenet5, inputShape: [1, 16, 16], classes: 4)
    // Chained but the wrong input width for fc1, a Linear-shaped factor for conv2, and rank 0.
    let bad: [[String: [Int]]] = [
      ["fc1.first.weight": [3, 7], "fc1.second.weight": [120, 3]],
      ["conv2.first.weight": [3, 150], "conv2.second.weight": [16, 3]],
      ["fc2.first.weight": [0, 120], "fc2.second.weight": [84, 0]],
    ]
    for shapes in bad {
      #expect(throws: LowRankError.self, "\(shapes)") { try LowRankFactorization.rebuild(spec.build(seed: 1), toShapes: shapes) }
    }
    let good = ["fc1.first.weight": [3, 64], "fc1.second.weight": [120, 3],
                "conv2.first.weight": [3, 6, 5, 5], "conv2.second.weight": [16, 3, 1, 1]]
    #expect(try LowRankFactorization.rebuild(spec.build(seed: 1), toShapes: good).sorted() == ["conv2", "fc1"])
  }
}

@Suite struct LAPACKSingularValueDecompositionTests {
  /// LAPACK's divide and conquer equals one-sided Jacobi on tall, wide, square, vector-shaped
  /// and rank-deficient matrices: singular values to 1e-12·σ₁, reconstruction to 1e-12 with
  /// orthonormal factors, and every singular vector of a well-separated value equal up to sign.
  @Test(arguments: [(7, 5), (5, 7), (1, 9), (40, 17), (17, 40), (300, 40), (40, 300), (64, 64)])
  func lapackEqualsJacobi(shape: (Int, Int)) throws {
    let (m, n) = shape
    var a = randomMatrix(m, n, seed: UInt64(m * 1000 + n))
    if m == 64 {  // rank 10: A = X·Y
      let (x, y) = (randomMatrix(64, 10, seed: 1), randomMatrix(10, 64, seed: 2))
      for e in 0..<64 * 64 {
        let (i, j) = (e / 64, e % 64)
        var sum = 0.0
        for t in 0..<10 { sum += x[i * 10 + t] * y[t * 64 + j] }
        a[e] = sum
      }
    }
    let jacobi = SingularValueDecomposition(rows: m, columns: n, values: a, method: .jacobi)
    let lapack = SingularValueDecomposition(rows: m, columns: n, values: a, method: .lapack)
    let scale = jacobi.singularValues[0]
    #expect(zip(jacobi.singularValues, lapack.singularValues).allSatisfy { abs($0 - $1) <= 1e-12 * scale })
    let back = reconstruct(lapack, rank: lapack.k)
    #expect(zip(a, back).allSatisfy { abs($0 - $1) <= 1e-12 * scale })
    #expect(orthonormalityError(lapack.u, length: m, count: lapack.k) < 1e-12)
    #expect(orthonormalityError(lapack.v, length: n, count: lapack.k) < 1e-12)
    let s = jacobi.singularValues, k = jacobi.k
    func separated(_ t: Int) -> Bool {
      let above = t == 0 || s[t - 1] - s[t] > 1e-6 * scale, below = t == k - 1 || s[t] - s[t + 1] > 1e-6 * scale
      return s[t] > 1e-8 * scale && above && below
    }
    for t in 0..<k where separated(t) {
      let du = (0..<m).reduce(0.0) { $0 + jacobi.u[$1 * k + t] * lapack.u[$1 * k + t] }
      let dv = (0..<n).reduce(0.0) { $0 + jacobi.v[$1 * k + t] * lapack.v[$1 * k + t] }
      #expect(abs(abs(du) - 1) < 1e-8 && abs(du * dv - 1) < 1e-8, "vector \(t) of \(m)×\(n): \(du), \(dv)")
    }
    // Truncation error = discarded energy, on the LAPACK path too.
    let r = max(1, lapack.k / 2), truncated = lapack.truncated(rank: r).scalars
    var error = 0.0
    for (x, y) in zip(a, truncated) { error += (x - Double(y)) * (x - Double(y)) }
    let discarded = lapack.singularValues[r...].reduce(0.0) { $0 + $1 * $1 }
    let total = a.reduce(0.0) { $0 + $1 * $1 }
    #expect(abs(error - discarded) <= 1e-5 * total, "\(error) vs \(discarded)")
  }

  /// `.automatic` takes LAPACK from `min(M, N) = 256` on (bit-identical to `.lapack`), and a
  /// non-finite entry falls back to Jacobi (NaN singular values, no crash).
  @Test func automaticChoiceAndFallback() {
    let (m, n) = (SingularValueDecomposition.lapackThreshold, 270)
    let a = randomMatrix(m, n, seed: 3)
    let automatic = SingularValueDecomposition(rows: m, columns: n, values: a)
    let lapack = SingularValueDecomposition(rows: m, columns: n, values: a, method: .lapack)
    #expect(automatic.singularValues == lapack.singularValues && automatic.u == lapack.u && automatic.v == lapack.v)
    var bad = randomMatrix(4, 3, seed: 4)
    bad[5] = .nan
    let fallback = SingularValueDecomposition(rows: 4, columns: 3, values: bad, method: .lapack)
    #expect(fallback.k == 3 && fallback.singularValues.contains { $0.isNaN })
  }
}
