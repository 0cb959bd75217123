import WinnowCore

/// A layer whose direct children can be swapped for other layers (a layer for its quantized
/// or factorized version), by the name they have in ``Layer/namedLayers``.
public protocol LayerContainer: Layer {
  /// Replaces the child called `name` by `layer`; returns false, changing nothing, when there
  /// is no such child.
  @discardableResult
  func replaceLayer(named name: String, with layer: Layer) -> Bool
}

/// A layer ending in a residual addition `main + shortcut`, with a slot on each summand for
/// a layer applied just before the addition: the children ``summandNames`` (`add_main`,
/// `add_shortcut`), absent until set through ``LayerContainer/replaceLayer(named:with:)``.
/// Quantization puts its activation quantizers there, as an integer kernel requantizes both
/// inputs of an addition to a common scale.
public protocol ResidualAddition: LayerContainer {}

extension ResidualAddition {
  public static var summandNames: [String] { ["add_main", "add_shortcut"] }
}

/// Layers applied in order; children are named `0`, `1`, … unless names are given.
public final class Sequential: LayerContainer {
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
/// activation: the residual block of ResNets and transformers. `add_main` / `add_shortcut`
/// (``ResidualAddition``), when set, act on the two summands just before the addition.
public final class Residual: ResidualAddition {
  public private(set) var body: Layer
  public private(set) var shortcut: Layer?
  public let activation: Layer?
  public private(set) var addMain: Layer?
  public private(set) var addShortcut: Layer?

  public init(_ body: Layer, shortcut: Layer? = nil, activation: Layer? = nil) {
    self.body = body
    self.shortcut = shortcut
    self.activation = activation
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let main = body.forward(input, context), side = shortcut?.forward(input, context) ?? input
    let sum = (addMain?.forward(main, context) ?? main) + (addShortcut?.forward(side, context) ?? side)
    return activation?.forward(sum, context) ?? sum
  }

  @discardableResult
  public func replaceLayer(named name: String, with layer: Layer) -> Bool {
    switch name {
    case "body": body = layer
    case "shortcut" where shortcut != nil: shortcut = layer
    case "add_main": addMain = layer
    case "add_shortcut": addShortcut = layer
    default: return false
    }
    return true
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(self.body, "body", body)
    if let shortcut { try visit(shortcut, "shortcut", body) }
    if let addMain { try visit(addMain, "add_main", body) }
    if let addShortcut { try visit(addShortcut, "add_shortcut", body) }
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    try WinnowNN.visitBuffers(self.body, "body", body)
    if let shortcut { try WinnowNN.visitBuffers(shortcut, "shortcut", body) }
    if let addMain { try WinnowNN.visitBuffers(addMain, "add_main", body) }
    if let addShortcut { try WinnowNN.visitBuffers(addShortcut, "add_shortcut", body) }
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("body", self.body)
    if let shortcut { try body("shortcut", shortcut) }
    if let addMain { try body("add_main", addMain) }
    if let addShortcut { try body("add_shortcut", addShortcut) }
  }
}
