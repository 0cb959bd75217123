import WinnowCore

/// Batch normalisation over `N×C×H×W` (Ioffe & Szegedy 2015), PyTorch semantics.
///
/// Training: normalises with the batch mean and biased variance per channel and updates the
/// running statistics `r ← (1−momentum)·r + momentum·batch` (running variance unbiased).
/// Inference: uses the running statistics.
public final class BatchNorm2d: Layer {
  public var weight: Parameter
  public var bias: Parameter
  public var runningMean: Tensor
  public var runningVar: Tensor
  public var batchesTracked: Tensor
  public let epsilon: Float, momentum: Float

  public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
    weight = Parameter(.ones([channels]))
    bias = Parameter(.zeros([channels]))
    runningMean = .zeros([channels])
    runningVar = .ones([channels])
    batchesTracked = .zeros([])
    self.epsilon = epsilon
    self.momentum = momentum
  }

  public var channels: Int { weight.shape[0] }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    precondition(input.rank == 4 && input.shape[1] == channels, "BatchNorm2d(\(channels)) got input \(input.shape)")
    guard context.isTraining else {
      let c = [1, channels, 1, 1]
      let gamma = weight.effective.reshaped(c), beta = bias.effective.reshaped(c)
      let scale = gamma * (runningVar.reshaped(c) + epsilon).pow(-0.5)
      return input * scale + (beta - runningMean.reshaped(c) * scale)
    }
    // One recorded op (WinnowCore `Op.batchNorm`) rather than its ~10 primitives: the
    // same function, in three memory passes.
    let (y, mean, variance) = input.batchNormalized(gamma: weight.effective, beta: bias.effective, epsilon: epsilon)
    let n = Float(input.count / channels)
    let unbiased = variance * (n / Swift.max(n - 1, 1))
    runningMean = (runningMean * (1 - momentum) + mean * momentum).detached
    runningVar = (runningVar * (1 - momentum) + unbiased * momentum).detached
    batchesTracked = Tensor(batchesTracked.scalar + 1)
    return y
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try body("weight", &weight)
    try body("bias", &bias)
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    try body("running_mean", &runningMean)
    try body("running_var", &runningVar)
    try body("num_batches_tracked", &batchesTracked)
  }
}

/// Layer normalisation over the last axis (Ba et al. 2016), PyTorch semantics.
public final class LayerNorm: Layer {
  public var weight: Parameter
  public var bias: Parameter
  public let epsilon: Float

  public init(_ features: Int, epsilon: Float = 1e-5) {
    weight = Parameter(.ones([features]))
    bias = Parameter(.zeros([features]))
    self.epsilon = epsilon
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let mean = input.mean(axes: [-1], keepDims: true)
    let centered = input - mean
    let variance = centered.squared().mean(axes: [-1], keepDims: true)
    return centered * (variance + epsilon).pow(-0.5) * weight.effective + bias.effective
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try body("weight", &weight)
    try body("bias", &bias)
  }
}
