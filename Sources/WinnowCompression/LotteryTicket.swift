import WinnowKernels
import WinnowCore
import WinnowNN

/// Iterative magnitude pruning with rewinding: the lottery-ticket procedure (Frankle &
/// Carbin 2019; rewinding to an early step k: Frankle et al. 2020).
///
/// Round r: train the (masked) network, prune `fractionPerRound` of the weights still alive
/// (global magnitude), rewind the surviving weights to their values at step `rewindStep`
/// (0 = initialisation), and train again. After R rounds the sparsity is 1 − (1 − p)^R.
public struct LotteryTicketSearch {
  public struct Round: Sendable, Codable, Hashable {
    public var round: Int
    public var sparsity: Double
    public var testAccuracy: Float
  }

  public var spec: ModelSpec
  public var configuration: TrainingConfiguration
  public var rounds: Int
  public var fractionPerRound: Double
  public var rewindStep: Int
  public var progress: ProgressReporter?

  public init(spec: ModelSpec, configuration: TrainingConfiguration, rounds: Int, fractionPerRound: Double, rewindStep: Int = 0) throws(PruningError) {
    guard rounds >= 1 else { throw .malformedPlan(reason: "lottery ticket search needs at least one round") }
    guard fractionPerRound > 0 && fractionPerRound < 1 else { throw .impossibleSparsity(layer: "(per round)", sparsity: fractionPerRound) }
    guard rewindStep >= 0 else { throw .malformedPlan(reason: "rewind step must not be negative") }
    self.spec = spec
    self.configuration = configuration
    self.rounds = rounds
    self.fractionPerRound = fractionPerRound
    self.rewindStep = rewindStep
  }

  /// Cumulative sparsity after `round` prunings.
  public func sparsity(afterRound round: Int) -> Double { 1 - pow(1 - fractionPerRound, Double(round)) }

  /// Runs every round; returns the per-round accuracy, the final masks (the ticket), and the
  /// rewound weights the ticket starts from.
  public func run(train: Dataset, test: Dataset) throws -> (rounds: [Round], ticket: MaskSet, rewindWeights: [String: Tensor]) {
    let model = spec.build(seed: configuration.seed)
    var rewind = rewindStep == 0 ? parameterValues(of: model) : [:]
    var results: [Round] = []
    for round in 0...rounds {
      let trainer = Trainer(spec: spec, configuration: configuration, model: model)
      trainer.progress = progress
      if round == 0 && rewindStep > 0 {
        let k = rewindStep
        trainer.afterStep = { state in
          if state.globalStep == k { rewind = parameterValues(of: model) }
          return true
        }
      }
      try trainer.run(train: train, test: nil)
      let sparsity = sparsity(afterRound: round)
      results.append(Round(round: round, sparsity: sparsity, testAccuracy: evaluate(model, on: test).accuracy))
      guard round < rounds else { break }
      try Pruning.magnitude(model, sparsity: self.sparsity(afterRound: round + 1), global: true,
                            names: prunableParameters(of: model).map(\.name))
      try rewindParameters(of: model, to: rewind)
    }
    return (results, MaskSet(of: model), rewind)
  }
}

/// The raw (unmasked) value of every parameter.
public func parameterValues(of model: Layer) -> [String: Tensor] {
  var values: [String: Tensor] = [:]
  model.visitParameters { name, p in values[name] = p.value.detached }
  return values
}

/// Restores stored parameter values bit-exactly, keeping each parameter's mask (pruned
/// weights are zeroed again). Buffers (batch-norm statistics) are left as they are.
public func rewindParameters(of model: Layer, to values: [String: Tensor]) throws(PruningError) {
  var failure: PruningError?
  model.visitParameters { name, p in
    guard failure == nil else { return }
    guard let v = values[name] else { failure = .unknownLayer(name, known: values.keys.sorted()); return }
    guard v.shape == p.shape else { failure = .maskShapeMismatch(layer: name, expected: p.shape, actual: v.shape); return }
    p.value = v
    p.applyMask()
  }
  if let failure { throw failure }
}

extension LotteryTicketSearch {
  /// The control experiment of the lottery-ticket papers: the same mask on freshly drawn
  /// weights (seed `seed`), trained with the same configuration. A winning ticket beats it.
  public func trainRandomReinitialisation(ticket: MaskSet, seed: UInt64, train: Dataset, test: Dataset) throws -> Float {
    let model = spec.build(seed: seed)
    try ticket.apply(to: model)
    let trainer = Trainer(spec: spec, configuration: configuration, model: model)
    trainer.progress = progress
    try trainer.run(train: train, test: nil)
    return evaluate(model, on: test).accuracy
  }
}
