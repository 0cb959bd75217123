import WinnowCore

/// Where a training run stands: everything besides the weights and optimizer tensors that
/// a resumed run needs to continue exactly as if it had never stopped.
public struct TrainingState: Codable, Sendable, Hashable {
  /// Epochs fully completed.
  public var epoch = 0
  /// Batches completed within the current epoch.
  public var batchInEpoch = 0
  /// Optimizer steps taken over the whole run.
  public var globalStep = 0
  /// The shuffling generator as it was at the start of the current epoch, so that the
  /// epoch's batch order can be drawn again.
  public var epochShuffleRNG: RandomGenerator
  /// The dropout generator, current.
  public var dropoutRNG: RandomGenerator
  /// Running sums over the current epoch (for its reported training loss and accuracy).
  public var epochLossSum: Double = 0
  public var epochCorrect = 0
  public var epochSeen = 0

  public init(seed: UInt64) {
    var root = RandomGenerator(seed: seed ^ 0x5EED_0F_5107)
    epochShuffleRNG = root.split()
    dropoutRNG = root.split()
  }
}

/// One epoch's numbers, as written to the JSON-lines metrics file.
public struct EpochMetrics: Codable, Sendable, Hashable {
  public var epoch: Int
  public var step: Int
  public var trainLoss: Float
  public var trainAccuracy: Float
  public var testLoss: Float?
  public var testAccuracy: Float?
  public var learningRate: Float
  public var seconds: Double
  public var samplesPerSecond: Double
}
