import WinnowCore
import WinnowNN

/// A point where activations are fake-quantized: the input of every ``QuantizedLayer``, and
/// the two summands of every residual addition (``ActivationQuantizer``).
public protocol ActivationQuantizationPoint: AnyObject {
  /// Dotted name, as in ``Layer/namedLayers`` (`layer1.0.conv1`, `layer1.0.add_main`).
  var name: String { get }
  var activation: QuantizedLayer.ActivationMode { get set }
}

/// `y = fq(x)` with the activation scheme: what post-training quantization puts on both
/// summands of a residual addition (``ResidualAddition``'s `add_main` / `add_shortcut`).
///
/// An integer kernel adds two int8 tensors only after requantizing them to one scale, so a
/// quantized ResNet carries quantization error on the residual path too; without these
/// points the identity shortcut would stay in Float32 and the simulation would flatter the
/// model. Ranges come from calibration (static), each batch (dynamic), or stay fixed through
/// QAT with the straight-through estimator (gradient 1 inside the range, 0 outside).
public final class ActivationQuantizer: Layer, ActivationQuantizationPoint {
  public let name: String
  public var activation: QuantizedLayer.ActivationMode

  public init(name: String, activation: QuantizedLayer.ActivationMode) {
    self.name = name
    self.activation = activation
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    activation.apply(to: input, layer: name)
  }
}

extension QuantizedLayer.ActivationMode {
  /// The (fake-)quantized `x`: unchanged for `.float`; recorded and unchanged while observing.
  func apply(to x: Tensor, layer: String) -> Tensor {
    switch self {
    case .float: return x
    // The schemes were validated with the plan; a failure would leave x in Float32.
    case .dynamic(let scheme): return (try? FakeQuantization.straightThrough(x, scheme: scheme, layer: layer)) ?? x
    case .fixed(let scheme, let range): return (try? FakeQuantization.straightThrough(x, scheme: scheme, ranges: [range], layer: layer)) ?? x
    case .observing(_, let observer):
      observer.observe(x.detached)
      return x
    }
  }
}

extension Layer {
  /// Every activation quantization point of this model (quantized layers' inputs and residual
  /// summands), in the order of ``Layer/namedLayers``.
  public var activationQuantizationPoints: [ActivationQuantizationPoint] {
    namedLayers.compactMap { $0.layer as? ActivationQuantizationPoint }
  }
}

/// Puts an ``ActivationQuantizer`` with `activation` on both summands of every residual
/// addition of `model`; returns them.
func installResidualQuantizers(on model: Layer, activation: QuantizedLayer.ActivationMode) -> [ActivationQuantizer] {
  var installed: [ActivationQuantizer] = []
  for (name, layer) in model.namedLayers {
    guard let block = layer as? any ResidualAddition else { continue }
    for summand in type(of: block).summandNames {
      let quantizer = ActivationQuantizer(name: name.isEmpty ? summand : name + "." + summand, activation: activation)
      if block.replaceLayer(named: summand, with: quantizer) { installed.append(quantizer) }
    }
  }
  return installed
}
