import WinnowKernels
import WinnowCore

/// Updates a model's parameters from gradients.
///
/// Optimizer state (momentum buffers, moment estimates) is a dictionary of tensors keyed
/// `"<slot>.<parameter name>"`, so a checkpoint can save and restore it exactly.
public protocol Optimizer {
  var learningRate: Float { get set }
  /// Number of completed steps.
  var step: Int { get set }
  var state: [String: Tensor] { get set }
  /// Applies one update to every parameter that has a gradient, then re-applies masks
  /// (except on straight-through parameters, whose dense values keep learning).
  mutating func update(_ model: Layer, with gradients: Gradients)
}

/// Stochastic gradient descent with momentum, Nesterov momentum and (coupled) weight decay,
/// matching `torch.optim.SGD` (dampening 0).
///
///     g ← g + λ·w;  b ← μ·b + g (b = g on the first step);  g ← nesterov ? g + μ·b : b
///     w ← w − η·g
public struct SGD: Optimizer {
  public var learningRate: Float
  public var momentum: Float
  public var nesterov: Bool
  public var weightDecay: Float
  public var step = 0
  public var state: [String: Tensor] = [:]

  public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.nesterov = nesterov
    self.weightDecay = weightDecay
  }

  public mutating func update(_ model: Layer, with gradients: Gradients) {
    let (lr, mu, wd, nesterov) = (learningRate, momentum, weightDecay, self.nesterov)
    model.visitParameters { name, p in
      guard let g = gradients[name] else { return }
      let key = "momentum_buffer." + name
      var buffer = state[key]
      let isFirst = buffer == nil
      if mu != 0 && buffer == nil { buffer = Tensor.zeros(p.shape) }
      p.value.withUnsafeMutableBufferPointer { w in
        g.withUnsafeBufferPointer { g in
          if mu == 0 {
            for i in w.indices { w[i] -= lr * (g[i] + wd * w[i]) }
            return
          }
          buffer!.withUnsafeMutableBufferPointer { b in
            for i in w.indices {
              let d = g[i] + wd * w[i]
              b[i] = isFirst ? d : mu * b[i] + d
              w[i] -= lr * (nesterov ? d + mu * b[i] : b[i])
            }
          }
        }
      }
      if let buffer { state[key] = buffer }
      if !p.straightThrough { p.applyMask() }
    }
    step += 1
  }
}

/// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), matching `torch.optim`.
///
///     Adam:  g ← g + λ·w                 AdamW:  w ← w − η·λ·w
///     m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
///     w ← w − η · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
public struct Adam: Optimizer {
  public var learningRate: Float
  public var beta1: Float, beta2: Float, epsilon: Float
  public var weightDecay: Float
  /// Decoupled weight decay (AdamW) instead of L2 added to the gradient (Adam).
  public var decoupled: Bool
  public var step = 0
  public var state: [String: Tensor] = [:]

  public init(
    learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
    weightDecay: Float = 0, decoupled: Bool = false
  ) {
    self.learningRate = learningRate
    self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    self.weightDecay = weightDecay
    self.decoupled = decoupled
  }

  /// AdamW with PyTorch's default weight decay of 0.01.
  public static func adamW(learningRate: Float = 1e-3, weightDecay: Float = 0.01) -> Adam {
    Adam(learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
  }

  public mutating func update(_ model: Layer, with gradients: Gradients) {
    step += 1
    let t = Float(step)
    let (lr, b1, b2, eps, wd, decoupled) = (learningRate, beta1, beta2, epsilon, weightDecay, self.decoupled)
    let c1 = 1 - powf(b1, t), c2 = 1 - powf(b2, t)
    model.visitParameters { name, p in
      guard let g = gradients[name] else { return }
      var m = state["exp_avg." + name] ?? Tensor.zeros(p.shape)
      var v = state["exp_avg_sq." + name] ?? Tensor.zeros(p.shape)
      p.value.withUnsafeMutableBufferPointer { w in
        g.withUnsafeBufferPointer { g in
          m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
              for i in w.indices {
                var d = g[i]
                if decoupled { w[i] -= lr * wd * w[i] } else { d += wd * w[i] }
                m[i] = b1 * m[i] + (1 - b1) * d
                v[i] = b2 * v[i] + (1 - b2) * d * d
                w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
              }
            }
          }
        }
      }
      state["exp_avg." + name] = m
      state["exp_avg_sq." + name] = v
      if !p.straightThrough { p.applyMask() }
    }
  }
}
