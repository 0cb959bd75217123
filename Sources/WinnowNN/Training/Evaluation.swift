import WinnowCore

/// Loss and accuracy of a model on a data set.
public struct EvaluationResult: Sendable, Codable, Hashable {
  public var loss: Float
  public var accuracy: Float
  public var examples: Int

  public init(loss: Float, accuracy: Float, examples: Int) {
    self.loss = loss
    self.accuracy = accuracy
    self.examples = examples
  }
}

/// Runs `model` in inference mode over `data` in batches and returns the mean
/// cross-entropy and the accuracy.
public func evaluate(_ model: Layer, on data: Dataset, batchSize: Int = 256) -> EvaluationResult {
  var lossSum: Double = 0
  var correct = 0
  let context = ForwardContext(training: false)
  for batch in data.batches(size: batchSize) {
    let logits = model.forward(batch.images, context)
    lossSum += Double(crossEntropy(logits, labels: batch.labels).scalar) * Double(batch.labels.count)
    correct += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
  }
  let n = max(data.count, 1)
  return EvaluationResult(loss: Float(lossSum / Double(n)), accuracy: Float(correct) / Float(n), examples: data.count)
}
