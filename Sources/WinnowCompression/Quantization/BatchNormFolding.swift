import WinnowCore
import WinnowNN

/// Folds inference-mode batch normalisation into the convolution before it (Jacob et al.
/// 2018, §3.2), so the scale is quantized together with the weights:
///
///     BN(conv(x)) = γ·(W∗x + b − μ)/√(σ² + ε) + β = W'∗x + b'
///     W'[o] = W[o]·γ[o]/√(σ²[o] + ε)      b'[o] = (b[o] − μ[o])·γ[o]/√(σ²[o] + ε) + β[o]
///
/// Only in inference mode (running statistics); the folded model is for PTQ and deployment.
/// Masks are kept: scaling a row keeps its zeros.
public enum BatchNormFolding {
  /// Folds every `Conv2d` immediately followed by a `BatchNorm2d` in any `Sequential` of
  /// `model` (nested ones too), and `conv1`/`bn1`, `conv2`/`bn2` of every ``BasicBlock``; the
  /// batch norm is replaced by an identity. Returns the names of the folded convolutions.
  @discardableResult
  public static func fold(_ model: Layer) -> [String] {
    var folded: [String] = []
    for (prefix, layer) in model.namedLayers {
      let pairs: [(conv: (name: String, layer: Layer), norm: (name: String, layer: Layer))]
      if let sequential = layer as? Sequential {
        pairs = zip(sequential.layers, sequential.layers.dropFirst()).map { ($0, $1) }
      } else if let block = layer as? BasicBlock {
        pairs = [(("conv1", block.conv1), ("bn1", block.bn1)), (("conv2", block.conv2), ("bn2", block.bn2))]
      } else {
        continue
      }
      for (first, second) in pairs {
        guard let conv = first.layer as? Conv2d, let norm = second.layer as? BatchNorm2d,
              norm.channels == conv.outChannels, let container = layer as? any LayerContainer else { continue }
        fold(norm, into: conv)
        container.replaceLayer(named: second.name, with: Identity())
        folded.append(prefix.isEmpty ? first.name : prefix + "." + first.name)
      }
    }
    return folded
  }

  /// Rewrites `conv`'s weight and bias so that `conv` alone computes `norm(conv(x))` in inference mode.
  public static func fold(_ norm: BatchNorm2d, into conv: Conv2d) {
    let channels = conv.outChannels
    let gamma = norm.weight.effective.scalars, beta = norm.bias.effective.scalars
    let mean = norm.runningMean.scalars, variance = norm.runningVar.scalars
    let factor = (0..<channels).map { gamma[$0] / (variance[$0] + norm.epsilon).squareRoot() }
    let weight = conv.weight.value.detached.scalars
    let rowLength = weight.count / channels
    let scaled = weight.enumerated().map { $1 * factor[$0 / rowLength] }
    conv.weight.value = Tensor(shape: conv.weight.shape, scalars: scaled)
    let bias = conv.bias?.value.scalars ?? [Float](repeating: 0, count: channels)
    let newBias = (0..<channels).map { (bias[$0] - mean[$0]) * factor[$0] + beta[$0] }
    conv.bias = Parameter(Tensor(shape: [channels], scalars: newBias))
  }
}

/// `y = x`: what a folded batch norm becomes.
public final class Identity: Layer {
  public init() {}
  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor { input }
}
