import WinnowCore

/// Layers applied in order; children are named `0`, `1`, … unless names are given.
public final class Sequential: Layer {
  public private(set) var layers: [(name: String, layer: Layer)]

  public init(_ layers: [Layer]) {
    self.layers = layers.enumerated().map { ("\($0.offset)", $0.element) }
  }

  public init(named layers: [(String, Layer)]) {
    precondition(Set(layers.map(\.0)).count == layers.count, "duplicate layer names in Sequential")
    self.layers = layers.map { (name: $0.0, layer: $0.1) }
  }

  /// Replaces the child called `name` by `layer` (e.g. a layer by its factorization).
  /// Returns false, changing nothing, when there is no such child.
  @discardableResult
  public func replaceLayer(named name: String, with layer: Layer) -> Bool {
    guard let i = layers.firstIndex(where: { $0.name == name }) else { return false }
    layers[i].layer = layer
    return true
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    layers.reduce(input) { x, entry in entry.layer.forward(x, context) }
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    for (name, layer) in layers { try visit(layer, name, body) }
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    for (name, layer) in layers { try WinnowNN.visitBuffers(layer, name, body) }
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    for (name, layer) in layers { try body(name, layer) }
  }
}

/// `body(x) + shortcut(x)` (identity shortcut when none is given), then an optional
/// activation: the residual block of ResNets and transformers.
public final class Residual: Layer {
  public let body: Layer
  public let shortcut: Layer?
  public let activation: Layer?

  public init(_ body: Layer, shortcut: Layer? = nil, activation: Layer? = nil) {
    self.body = body
    self.shortcut = shortcut
    self.activation = activation
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let sum = body.forward(input, context) + (shortcut?.forward(input, context) ?? input)
    return activation?.forward(sum, context) ?? sum
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(self.body, "body", body)
    if let shortcut { try visit(shortcut, "shortcut", body) }
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    try WinnowNN.visitBuffers(self.body, "body", body)
    if let shortcut { try WinnowNN.visitBuffers(shortcut, "shortcut", body) }
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("body", self.body)
    if let shortcut { try body("shortcut", shortcut) }
  }
}
