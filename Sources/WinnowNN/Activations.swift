import WinnowCore

/// An elementwise activation as a layer (no parameters).
public final class Activation: Layer {
  public enum Kind: String, Sendable, CaseIterable { case relu, gelu, geluTanh, tanh, sigmoid, silu }
  public let kind: Kind

  public init(_ kind: Kind) { self.kind = kind }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    switch kind {
    case .relu: return input.relu()
    case .gelu: return input.gelu()
    case .geluTanh: return input.gelu(approximateTanh: true)
    case .tanh: return input.tanh()
    case .sigmoid: return input.sigmoid()
    case .silu: return input.silu()
    }
  }
}

/// Collapses every axis after the first: `N×…` → `N×(product)`.
public final class Flatten: Layer {
  public init() {}
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor { input.flattened() }
}

/// Zeroes each element with probability `p` while training and scales survivors by
/// `1/(1−p)` (inverted dropout); the identity at inference. Draws from the context's
/// seeded generator.
public final class Dropout: Layer {
  public let probability: Float

  public init(_ probability: Float) {
    precondition(probability >= 0 && probability < 1, "dropout probability \(probability) not in [0, 1)")
    self.probability = probability
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    guard context.isTraining, probability > 0 else { return input }
    let keep = 1 - probability
    let scale = 1 / keep
    let mask = Tensor(shape: input.shape) { m in
      for i in m.indices { m[i] = context.rng.nextUnitFloat() < keep ? scale : 0 }
    }
    return input * mask
  }
}

/// 2-D max pooling (stride defaults to the kernel size).
public final class MaxPool2d: Layer {
  public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
  public init(_ kernel: Int, stride: Int? = nil, padding: Int = 0) {
    self.kernel = (kernel, kernel)
    self.stride = (stride ?? kernel, stride ?? kernel)
    self.padding = (padding, padding)
  }
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    input.maxPool2d(kernel: kernel, stride: stride, padding: padding)
  }
}

/// 2-D average pooling (stride defaults to the kernel size, padding counted).
public final class AvgPool2d: Layer {
  public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
  public init(_ kernel: Int, stride: Int? = nil, padding: Int = 0) {
    self.kernel = (kernel, kernel)
    self.stride = (stride ?? kernel, stride ?? kernel)
    self.padding = (padding, padding)
  }
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    input.avgPool2d(kernel: kernel, stride: stride, padding: padding)
  }
}

/// Mean over the spatial axes, then flattened: `N×C×H×W` → `N×C`.
public final class GlobalAvgPool2d: Layer {
  public init() {}
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    input.mean(axes: [2, 3])
  }
}
