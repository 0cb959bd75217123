import WinnowCore

/// Which network to build, for the input it will see: enough to rebuild a model from a
/// checkpoint without the code that made it.
public struct ModelSpec: Codable, Sendable, Hashable {
  public enum Architecture: String, Codable, Sendable, CaseIterable {
    case mlp, smallcnn, lenet5, resnet8, resnet20, transformer
  }

  public var architecture: Architecture
  /// `[C, H, W]` of one input image.
  public var inputShape: [Int]
  public var classes: Int

  public init(_ architecture: Architecture, inputShape: [Int], classes: Int) {
    self.architecture = architecture
    self.inputShape = inputShape
    self.classes = classes
  }

  /// Why this spec cannot be built, or nil.
  public var problem: String? {
    guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
      return "input shape must be [C, H, W] with positive sizes, got \(inputShape)"
    }
    guard classes >= 2 else { return "need at least 2 classes, got \(classes)" }
    let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
    switch architecture {
    case .lenet5 where h != w || h < 16: return "lenet5 needs square images of at least 16×16, got \(h)×\(w)"
    case .smallcnn where h != w || h % 4 != 0: return "smallcnn needs square images with a side divisible by 4, got \(h)×\(w)"
    case .transformer where (w * c) < 1: return "transformer needs non-empty rows"
    default: return nil
    }
  }

  /// Builds the network with weights drawn from `seed`.
  public func build(seed: UInt64) -> Layer {
    precondition(problem == nil, problem ?? "")
    var rng = RandomGenerator(seed: seed)
    let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
    switch architecture {
    case .mlp: return Models.mlp(inputs: c * h * w, hidden: [128, 64], classes: classes, rng: &rng)
    case .smallcnn: return Models.smallCNN(inputSize: h, channels: c, classes: classes, rng: &rng)
    case .lenet5: return Models.lenet5(inputSize: h, channels: c, classes: classes, rng: &rng)
    case .resnet8: return Models.resnet(depth: 8, channels: c, classes: classes, rng: &rng)
    case .resnet20: return Models.resnet(depth: 20, channels: c, classes: classes, rng: &rng)
    case .transformer:
      return Models.transformerClassifier(sequenceLength: h, tokenSize: w * c, classes: classes, rng: &rng)
    }
  }
}
