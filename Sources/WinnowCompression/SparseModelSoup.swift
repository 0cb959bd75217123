import WinnowCore
import WinnowNN

/// Sparse model soups (Zimmer et al. 2024, "Sparse Model Soups: A Recipe for Improved
/// Pruning via Model Averaging"): retrain k copies of one pruned model with different
/// configurations (seed, hence batch order and dropout; learning rate; weight decay …),
/// all under the same mask M, and average them uniformly:
///
///     θ_soup = (1/k)·Σᵢ θᵢ,   θᵢ = θᵢ ⊙ M for every i   ⇒   θ_soup = θ_soup ⊙ M
///
/// Because the mask is shared the soup has exactly the sparsity of each ingredient. This is
/// one prune–retrain phase of the paper's SMS; repeating prune → soup → prune gives SMS.
///
/// Batch-norm statistics of an average are not the average of the statistics. As in the
/// authors' code (`recalibrate_bn`), the soup's are recomputed by forward passes in training
/// mode, without parameter updates, over the first `recalibrationFraction` of the unshuffled
/// training set (their default 0.2); unlike their code, every batch weighs the same (see
/// ``recalibrateBatchNorm(_:on:fraction:batchSize:)``). With `recalibrationFraction: nil` the
/// soup keeps the mean of the ingredients' buffers. Models without batch norm are unaffected.
public enum SparseModelSoup {
  /// The pruned model every ingredient starts from.
  public struct Base: Sendable {
    public var spec: ModelSpec
    /// Parameters and buffers by plain name (``stateDictionary(of:)``).
    public var weights: [String: Tensor]
    public var masks: MaskSet

    public init(spec: ModelSpec, weights: [String: Tensor], masks: MaskSet) {
      self.spec = spec
      self.weights = weights
      self.masks = masks
    }

    /// The weights, buffers and masks `model` holds now.
    public init(spec: ModelSpec, model: Layer) {
      self.init(spec: spec, weights: stateDictionary(of: model), masks: MaskSet(of: model))
    }

    /// A fresh copy of the base model, masks applied.
    public func build() throws -> Layer {
      if let problem = spec.problem { throw PruningError.malformedPlan(reason: "soup base: \(problem)") }
      let model = spec.build(seed: 0)
      try loadStateDictionary(weights, into: model, prefix: ("", "mask.", ""), file: "soup base")
      try masks.apply(to: model)
      return model
    }
  }

  public struct Result {
    /// Test accuracy of each retrained ingredient, in the order given.
    public var ingredientAccuracies: [Float]
    public var soupAccuracy: Float
    public var model: Layer
    public var ingredients: [Layer]
  }

  /// Retrains one copy of `base` per configuration, averages them and evaluates everything
  /// on `test`. Throws ``PruningError`` for a bad request and ``FormatError`` when the base
  /// weights do not fit its spec.
  public static func run(
    base: Base, ingredients configurations: [TrainingConfiguration], train: Dataset, test: Dataset,
    recalibrationFraction: Double? = 0.2
  ) throws -> Result {
    guard !configurations.isEmpty else { throw PruningError.malformedPlan(reason: "a soup needs at least one ingredient") }
    for (i, c) in configurations.enumerated() {
      if let problem = c.problem { throw PruningError.malformedPlan(reason: "soup ingredient \(i): \(problem)") }
    }
    if let f = recalibrationFraction, !(f > 0 && f <= 1) {
      throw PruningError.malformedPlan(reason: "batch-norm recalibration fraction must be in (0, 1], got \(f)")
    }
    var ingredients: [Layer] = []
    var accuracies: [Float] = []
    for configuration in configurations {
      let model = try base.build()
      try Trainer(spec: base.spec, configuration: configuration, model: model).run(train: train, test: nil)
      ingredients.append(model)
      accuracies.append(evaluate(model, on: test).accuracy)
    }
    let soup = try base.build()
    try average(ingredients, into: soup)
    if let f = recalibrationFraction {
      recalibrateBatchNorm(soup, on: train, fraction: f, batchSize: configurations[0].batchSize)
    }
    return Result(ingredientAccuracies: accuracies, soupAccuracy: evaluate(soup, on: test).accuracy,
                  model: soup, ingredients: ingredients)
  }

  /// Sets every parameter and buffer of `soup` to the uniform mean of `models`' (summed in
  /// Double), then re-applies `soup`'s masks. Entries pruned in every model stay exactly 0.
  public static func average(_ models: [Layer], into soup: Layer) throws(PruningError) {
    guard !models.isEmpty else { throw .malformedPlan(reason: "cannot average zero models") }
    let parameters = models.map(parameterValues(of:))
    let buffers = models.map(bufferValues(of:))
    var failure: PruningError?
    soup.visitParameters { name, p in
      guard failure == nil else { return }
      do throws(PruningError) {
        p.value = try mean(of: name, in: parameters, shape: p.shape)
        p.applyMask()
      } catch { failure = error }
    }
    soup.visitBuffers { name, b in
      guard failure == nil else { return }
      do throws(PruningError) { b = try mean(of: name, in: buffers, shape: b.shape) } catch { failure = error }
    }
    if let failure { throw failure }
  }

  /// Recomputes the batch-norm running statistics of `model` for its current weights: the
  /// equally weighted mean, over the first `fraction` of `data`'s batches (at least one, in
  /// order, in training mode, no parameter updates), of each batch's mean and unbiased
  /// variance, like PyTorch's `update_bn` (cumulative average). Returns false, doing nothing,
  /// when `model` has no ``BatchNorm2d``.
  ///
  /// The layers' own exponential average would keep a share (1 − momentum)^batches of the
  /// reset values, which on a small data set is not negligible. A batch statistic s is read
  /// back from the layer: with the running value set to 0 the forward pass stores momentum·s.
  @discardableResult
  public static func recalibrateBatchNorm(_ model: Layer, on data: Dataset, fraction: Double, batchSize: Int) -> Bool {
    let norms = model.namedLayers.compactMap { $0.layer as? BatchNorm2d }.filter { $0.momentum > 0 }
    guard !norms.isEmpty else { return false }
    let all = data.batches(size: batchSize)
    let batches = all.prefix(max(1, Int(fraction * Double(all.count))))
    var means = norms.map { [Double](repeating: 0, count: $0.channels) }
    var variances = means
    let context = ForwardContext(training: true)
    for batch in batches {
      for bn in norms { bn.runningMean = .zeros([bn.channels]); bn.runningVar = .zeros([bn.channels]) }
      _ = model.forward(batch.images, context)
      for (l, bn) in norms.enumerated() {
        let m = Double(bn.momentum)
        for (c, v) in bn.runningMean.scalars.enumerated() { means[l][c] += Double(v) / m }
        for (c, v) in bn.runningVar.scalars.enumerated() { variances[l][c] += Double(v) / m }
      }
    }
    let count = Double(batches.count)
    for (l, bn) in norms.enumerated() {
      bn.runningMean = Tensor(means[l].map { Float($0 / count) })
      bn.runningVar = Tensor(variances[l].map { Float($0 / count) })
      bn.batchesTracked = Tensor(Float(batches.count))
    }
    return true
  }

  private static func bufferValues(of model: Layer) -> [String: Tensor] {
    var values: [String: Tensor] = [:]
    model.visitBuffers { name, b in values[name] = b.detached }
    return values
  }

  private static func mean(of name: String, in models: [[String: Tensor]], shape: [Int]) throws(PruningError) -> Tensor {
    var sum = [Double](repeating: 0, count: shape.reduce(1, *))
    for values in models {
      guard let t = values[name] else { throw .unknownLayer(name, known: values.keys.sorted()) }
      guard t.shape == shape else { throw .maskShapeMismatch(layer: name, expected: shape, actual: t.shape) }
      t.withUnsafeBufferPointer { v in for i in v.indices { sum[i] += Double(v[i]) } }
    }
    let k = Double(models.count)
    return Tensor(shape: shape, scalars: sum.map { Float($0 / k) })
  }
}
