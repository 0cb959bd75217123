import WinnowCore

/// Ready-made networks used by the CLI, the tests and the benchmarks.
public enum Models {
  /// A multi-layer perceptron on flattened input: `fc1 … fcN` with ReLU between them.
  public static func mlp(inputs: Int, hidden: [Int], classes: Int, rng: inout RandomGenerator) -> Sequential {
    var layers: [(String, Layer)] = [("flatten", Flatten())]
    var width = inputs
    for (i, h) in hidden.enumerated() {
      layers.append(("fc\(i + 1)", Linear(width, h, rng: &rng)))
      layers.append(("relu\(i + 1)", Activation(.relu)))
      width = h
    }
    layers.append(("fc\(hidden.count + 1)", Linear(width, classes, rng: &rng)))
    return Sequential(named: layers)
  }

  /// LeNet-5 (LeCun et al. 1998) for `size×size` single-channel images (28 for MNIST):
  /// conv 5×5 (6, padded to keep the size) → pool → conv 5×5 (16) → pool → 120 → 84 → classes.
  public static func lenet5(inputSize: Int = 28, channels: Int = 1, classes: Int = 10, rng: inout RandomGenerator) -> Sequential {
    precondition(inputSize >= 16, "LeNet-5 needs images of at least 16×16, got \(inputSize)")
    let s = ((inputSize / 2) - 4) / 2
    return Sequential(named: [
      ("conv1", Conv2d(channels, 6, kernel: 5, padding: 2, rng: &rng)), ("relu1", Activation(.relu)),
      ("pool1", MaxPool2d(2)),
      ("conv2", Conv2d(6, 16, kernel: 5, rng: &rng)), ("relu2", Activation(.relu)), ("pool2", MaxPool2d(2)),
      ("flatten", Flatten()),
      ("fc1", Linear(16 * s * s, 120, rng: &rng)), ("relu3", Activation(.relu)),
      ("fc2", Linear(120, 84, rng: &rng)), ("relu4", Activation(.relu)),
      ("fc3", Linear(84, classes, rng: &rng)),
    ])
  }

  /// A small CNN for 8×8 images (the UCI digits): two 3×3 conv blocks and a linear head.
  public static func smallCNN(inputSize: Int = 8, channels: Int = 1, classes: Int = 10, width: Int = 16, rng: inout RandomGenerator) -> Sequential {
    let s = inputSize / 4
    return Sequential(named: [
      ("conv1", Conv2d(channels, width, kernel: 3, padding: 1, rng: &rng)), ("relu1", Activation(.relu)),
      ("pool1", MaxPool2d(2)),
      ("conv2", Conv2d(width, 2 * width, kernel: 3, padding: 1, rng: &rng)), ("relu2", Activation(.relu)),
      ("pool2", MaxPool2d(2)),
      ("flatten", Flatten()),
      ("fc1", Linear(2 * width * s * s, 64, rng: &rng)), ("relu3", Activation(.relu)),
      ("fc2", Linear(64, classes, rng: &rng)),
    ])
  }

  /// CIFAR-style ResNet (He et al. 2016) of depth `6n + 2` (8, 14, 20, …) for small images:
  /// a 3×3 stem, three stages of `n` basic blocks at widths w, 2w, 4w (stride 2 between
  /// stages, 1×1 projection shortcuts), global average pooling and a linear head.
  public static func resnet(depth: Int, channels: Int = 1, classes: Int = 10, width: Int = 16, rng: inout RandomGenerator) -> Sequential {
    precondition(depth >= 8 && (depth - 2) % 6 == 0, "ResNet depth must be 6n+2 (8, 14, 20, …), got \(depth)")
    let n = (depth - 2) / 6
    var layers: [(String, Layer)] = [
      ("conv1", Conv2d(channels, width, kernel: 3, padding: 1, bias: false, rng: &rng)),
      ("bn1", BatchNorm2d(width)), ("relu", Activation(.relu)),
    ]
    var inWidth = width
    for stage in 0..<3 {
      let outWidth = width << stage
      var blocks: [Layer] = []
      for b in 0..<n {
        blocks.append(BasicBlock(inWidth, outWidth, stride: stage > 0 && b == 0 ? 2 : 1, rng: &rng))
        inWidth = outWidth
      }
      layers.append(("layer\(stage + 1)", Sequential(blocks)))
    }
    layers.append(("pool", GlobalAvgPool2d()))
    layers.append(("fc", Linear(inWidth, classes, rng: &rng)))
    return Sequential(named: layers)
  }

  /// A transformer encoder classifier that reads an image as a sequence of its rows
  /// (`H` tokens of `W·C` values): linear token embedding + learned positions, `layers`
  /// encoder blocks, mean pooling over tokens, linear head.
  public static func transformerClassifier(
    sequenceLength: Int, tokenSize: Int, dimension: Int = 64, heads: Int = 4, layers: Int = 2,
    feedForward: Int = 128, classes: Int = 10, rng: inout RandomGenerator
  ) -> RowTransformer {
    RowTransformer(sequenceLength: sequenceLength, tokenSize: tokenSize, dimension: dimension, heads: heads,
                   layers: layers, feedForward: feedForward, classes: classes, rng: &rng)
  }
}

/// ResNet basic block: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, where the
/// shortcut is the identity or, when the shape changes, a 1×1 convolution and batch norm.
///
/// A ``ResidualAddition``: `add_main` and `add_shortcut`, when set, act on the two summands
/// just before the addition. Every child can be replaced (``LayerContainer``), so the
/// convolutions can be wrapped (quantization) while keeping their names.
public final class BasicBlock: ResidualAddition {
  public private(set) var conv1: Layer, bn1: Layer, conv2: Layer, bn2: Layer
  public private(set) var shortcut: Layer?
  public private(set) var addMain: Layer?, addShortcut: Layer?

  public init(_ inChannels: Int, _ outChannels: Int, stride: Int, rng: inout RandomGenerator) {
    conv1 = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false, rng: &rng)
    bn1 = BatchNorm2d(outChannels)
    conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, bias: false, rng: &rng)
    bn2 = BatchNorm2d(outChannels)
    shortcut = stride != 1 || inChannels != outChannels
      ? Sequential([Conv2d(inChannels, outChannels, kernel: 1, stride: stride, bias: false, rng: &rng), BatchNorm2d(outChannels)])
      : nil
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let h = bn1.forward(conv1.forward(input, context), context).relu()
    let y = bn2.forward(conv2.forward(h, context), context)
    let s = shortcut?.forward(input, context) ?? input
    return ((addMain?.forward(y, context) ?? y) + (addShortcut?.forward(s, context) ?? s)).relu()
  }

  @discardableResult
  public func replaceLayer(named name: String, with layer: Layer) -> Bool {
    switch name {
    case "conv1": conv1 = layer
    case "bn1": bn1 = layer
    case "conv2": conv2 = layer
    case "bn2": bn2 = layer
    case "shortcut" where shortcut != nil: shortcut = layer
    case "add_main": addMain = layer
    case "add_shortcut": addShortcut = layer
    default: return false
    }
    return true
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(conv1, "conv1", body); try visit(bn1, "bn1", body)
    try visit(conv2, "conv2", body); try visit(bn2, "bn2", body)
    if let shortcut { try visit(shortcut, "shortcut", body) }
    if let addMain { try visit(addMain, "add_main", body) }
    if let addShortcut { try visit(addShortcut, "add_shortcut", body) }
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    try WinnowNN.visitBuffers(conv1, "conv1", body); try WinnowNN.visitBuffers(bn1, "bn1", body)
    try WinnowNN.visitBuffers(conv2, "conv2", body); try WinnowNN.visitBuffers(bn2, "bn2", body)
    if let shortcut { try WinnowNN.visitBuffers(shortcut, "shortcut", body) }
    if let addMain { try WinnowNN.visitBuffers(addMain, "add_main", body) }
    if let addShortcut { try WinnowNN.visitBuffers(addShortcut, "add_shortcut", body) }
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("conv1", conv1); try body("bn1", bn1); try body("conv2", conv2); try body("bn2", bn2)
    if let shortcut { try body("shortcut", shortcut) }
    if let addMain { try body("add_main", addMain) }
    if let addShortcut { try body("add_shortcut", addShortcut) }
  }
}

/// See ``Models/transformerClassifier(sequenceLength:tokenSize:dimension:heads:layers:feedForward:classes:rng:)``.
public final class RowTransformer: Layer {
  public let embed: Linear
  public var positions: Parameter
  public let encoder: Sequential
  public let norm: LayerNorm
  public let head: Linear
  public let sequenceLength: Int, tokenSize: Int

  public init(sequenceLength: Int, tokenSize: Int, dimension: Int, heads: Int, layers: Int, feedForward: Int,
              classes: Int, rng: inout RandomGenerator) {
    self.sequenceLength = sequenceLength
    self.tokenSize = tokenSize
    embed = Linear(tokenSize, dimension, rng: &rng)
    positions = Parameter(.randomNormal([sequenceLength, dimension], standardDeviation: 0.02, using: &rng))
    encoder = Sequential((0..<layers).map { _ in
      TransformerEncoderLayer(dimension: dimension, heads: heads, feedForward: feedForward, rng: &rng)
    })
    norm = LayerNorm(dimension)
    head = Linear(dimension, classes, rng: &rng)
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let tokens = input.reshaped([input.shape[0], sequenceLength, tokenSize])
    let x = embed.forward(tokens, context) + positions.effective
    let encoded = norm.forward(encoder.forward(x, context), context)
    return head.forward(encoded.mean(axes: [1]), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(embed, "embed", body)
    try body("pos_embedding", &positions)
    try visit(encoder, "encoder", body)
    try visit(norm, "norm", body)
    try visit(head, "head", body)
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("embed", embed); try body("encoder", encoder); try body("norm", norm); try body("head", head)
  }
}
