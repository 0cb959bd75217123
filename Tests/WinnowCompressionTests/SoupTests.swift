import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

private func configuration(seed: UInt64, learningRate: Float = 0.05) -> TrainingConfiguration {
  var c = TrainingConfiguration()
  c.epochs = 1
  c.batchSize = 32
  c.learningRate = learningRate
  c.seed = seed
  return c
}

/// A model trained for an epoch, then pruned: the base every ingredient retrains.
private func prunedBase(_ spec: ModelSpec, train: Dataset, sparsity: Double) throws -> SparseModelSoup.Base {
  let trainer = Trainer(spec: spec, configuration: configuration(seed: 0))
  try trainer.run(train: train, test: nil)
  try Pruning.magnitude(trainer.model, sparsity: sparsity, global: true)
  return SparseModelSoup.Base(spec: spec, model: trainer.model)
}

private func buffers(_ model: Layer) -> [String: Tensor] {
  var out: [String: Tensor] = [:]
  model.visitBuffers { name, b in out[name] = b }
  return out
}

@Suite struct SparseModelSoupTests {
  @Test func soupKeepsTheMaskExactlyAndAveragesTheIngredients() throws {
    let (train, test) = try smallDigits(train: 384, test: 128)
    let base = try prunedBase(ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10), train: train, sparsity: 0.8)
    let ingredients = [configuration(seed: 1), configuration(seed: 2), configuration(seed: 3, learningRate: 0.02)]
    let result = try SparseModelSoup.run(base: base, ingredients: ingredients, train: train, test: test)

    #expect(result.ingredientAccuracies.count == 3)
    #expect(MaskSet(of: result.model) == base.masks)
    for model in result.ingredients { #expect(MaskSet(of: model) == base.masks) }
    // Global magnitude pruning zeroed round(0.8·n) of the n masked weights; the soup keeps them.
    #expect(SparsityReport(model: result.model).maskedSparsity >= 0.8 - 1e-4)
    let soup = parameterValues(of: result.model)
    let parts = result.ingredients.map(parameterValues(of:))
    #expect(parts[0] != parts[1] && parts[1] != parts[2], "ingredients differ")
    for (name, value) in soup {
      let mean = (0..<value.count).map { i in Float(parts.reduce(0.0) { $0 + Double($1[name]!.scalars[i]) } / 3) }
      // The mean of three Float32 values: summed in Double, rounded once.
      #expect(value.scalars == mean, "\(name)")
      if let mask = base.masks[name] {
        #expect(zip(value.scalars, mask.scalars).allSatisfy { $1 == 1 || $0 == 0 }, "\(name): pruned entries are exactly 0")
      }
    }
    let soupAgain = try SparseModelSoup.run(base: base, ingredients: ingredients, train: train, test: test)
    #expect(soupAgain.soupAccuracy == result.soupAccuracy && soupAgain.ingredientAccuracies == result.ingredientAccuracies)
  }

  /// Recalibration is a pure function of the weights and the data: running it again on the
  /// soup changes nothing; without it the soup keeps the ingredients' mean statistics.
  @Test func batchNormStatisticsAreRecomputedForTheSoup() throws {
    let (train, test) = try smallDigits(train: 128, test: 128)
    let spec = ModelSpec(.resnet8, inputShape: [1, 8, 8], classes: 10)
    let base = try prunedBase(spec, train: train, sparsity: 0.5)
    let ingredients = [configuration(seed: 1), configuration(seed: 2)]
    let recalibrated = try SparseModelSoup.run(base: base, ingredients: ingredients, train: train, test: test, recalibrationFraction: 0.5)
    let averaged = try SparseModelSoup.run(base: base, ingredients: ingredients, train: train, test: test, recalibrationFraction: nil)
    #expect(parameterValues(of: recalibrated.model) == parameterValues(of: averaged.model))

    let statistics = buffers(recalibrated.model)
    #expect(SparseModelSoup.recalibrateBatchNorm(recalibrated.model, on: train, fraction: 0.5, batchSize: 32))
    #expect(buffers(recalibrated.model) == statistics)
    #expect(statistics["bn1.num_batches_tracked"]!.scalar == 2, "half of 4 batches")
    #expect(statistics["bn1.running_mean"] != buffers(averaged.model)["bn1.running_mean"])

    // bn1 normalises conv1's output: its statistics are the mean over the two batches of
    // conv1's per-channel batch mean and unbiased variance.
    let conv1 = recalibrated.model.namedLayers.first { $0.name == "conv1" }!.layer
    var (mean, variance) = ([Double](repeating: 0, count: 16), [Double](repeating: 0, count: 16))
    for batch in train.batches(size: 32).prefix(2) {
      let y = conv1(batch.images)
      let n = Float(y.count / 16)
      let m = y.mean(axes: [0, 2, 3], keepDims: true)
      let v = (y - m).squared().mean(axes: [0, 2, 3]) * (n / (n - 1))
      for c in 0..<16 { mean[c] += Double(m.scalars[c]) / 2; variance[c] += Double(v.scalars[c]) / 2 }
    }
    // Float32 reductions over 32·8·8 values, read back through ×0.1 and ÷0.1: 1e-5 relative.
    let toFloat = { (d: [Double]) in Tensor(shape: [16], scalars: d.map { Float($0) }) }
    #expect(gradientMismatch(statistics["bn1.running_mean"]!, toFloat(mean), atol: 1e-6, rtol: 1e-5) == nil)
    #expect(gradientMismatch(statistics["bn1.running_var"]!, toFloat(variance), atol: 1e-6, rtol: 1e-5) == nil)

    let ingredientBuffers = averaged.ingredients.map(buffers)
    for (name, value) in buffers(averaged.model) {
      let mean = (0..<value.count).map { i in Float(ingredientBuffers.reduce(0.0) { $0 + Double($1[name]!.scalars[i]) } / 2) }
      #expect(value.scalars == mean, "\(name)")
    }
    #expect(!SparseModelSoup.recalibrateBatchNorm(ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10).build(seed: 0), on: train, fraction: 1, batchSize: 32))
  }

  @Test func invalidSoupsAreRejected() throws {
    let (train, test) = try smallDigits(train: 64, test: 128)
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    let base = SparseModelSoup.Base(spec: spec, model: spec.build(seed: 0))
    #expect(throws: PruningError.self) { try SparseModelSoup.run(base: base, ingredients: [], train: train, test: test) }
    var broken = configuration(seed: 1)
    broken.epochs = 0
    #expect(throws: PruningError.self) { try SparseModelSoup.run(base: base, ingredients: [broken], train: train, test: test) }
    #expect(throws: PruningError.self) {
      try SparseModelSoup.run(base: base, ingredients: [configuration(seed: 1)], train: train, test: test, recalibrationFraction: 0)
    }
    let other = SparseModelSoup.Base(spec: ModelSpec(.smallcnn, inputShape: [1, 8, 8], classes: 10), weights: base.weights, masks: base.masks)
    #expect(throws: FormatError.self) { try SparseModelSoup.run(base: other, ingredients: [configuration(seed: 1)], train: train, test: test) }
  }
}
