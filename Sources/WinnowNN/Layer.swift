import WinnowCore

/// What a forward pass needs besides its input: training or inference, and the seeded
/// generator that dropout draws from.
public final class ForwardContext {
  public let isTraining: Bool
  public var rng: RandomGenerator

  public init(training: Bool, rng: RandomGenerator = RandomGenerator(seed: 0)) {
    self.isTraining = training
    self.rng = rng
  }
}

/// A building block of a network.
///
/// Layers are reference types because some own state that the forward pass updates (the
/// running statistics of batch normalisation). Parameters and buffers are enumerated
/// explicitly, with PyTorch-style dotted names (`layer1.0.conv1.weight`), so that state
/// dictionaries, checkpoints, optimizers and pruning all agree on names without reflection.
public protocol Layer: AnyObject {
  /// Computes the layer on `input`.
  func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor
  /// Calls `body` with the name (relative to this layer) and storage of every parameter.
  func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows
  /// Calls `body` for every non-trainable state tensor (e.g. running statistics).
  func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows
  /// Calls `body` with the name and object of every direct child layer.
  func visitChildren(_ body: (String, Layer) throws -> Void) rethrows
}

extension Layer {
  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {}
  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {}
  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {}

  /// Every layer below this one (depth first) with its dotted name; this layer is `""`.
  public var namedLayers: [(name: String, layer: Layer)] {
    var out: [(String, Layer)] = [("", self)]
    visitChildren { name, child in
      for (sub, layer) in child.namedLayers { out.append((sub.isEmpty ? name : name + "." + sub, layer)) }
    }
    return out
  }

  /// Inference-mode forward pass.
  public func callAsFunction(_ input: Tensor) -> Tensor { forward(input, ForwardContext(training: false)) }

  /// Names and shapes of all parameters, in visiting order.
  public var parameterShapes: [(name: String, shape: [Int])] {
    var out: [(String, [Int])] = []
    visitParameters { name, p in out.append((name, p.shape)) }
    return out
  }

  /// Total number of parameter elements.
  public var parameterCount: Int {
    var n = 0
    visitParameters { _, p in n += p.value.count }
    return n
  }
}

/// Prefixes the names a child layer reports with `prefix.`.
@inline(__always)
func visit(_ child: Layer, _ prefix: String, _ body: (String, inout Parameter) throws -> Void) rethrows {
  try child.visitParameters { name, p in try body(prefix + "." + name, &p) }
}

@inline(__always)
func visitBuffers(_ child: Layer, _ prefix: String, _ body: (String, inout Tensor) throws -> Void) rethrows {
  try child.visitBuffers { name, t in try body(prefix + "." + name, &t) }
}
