import WinnowCore
import WinnowNN

/// A Linear or Conv2d computing with fake-quantized weights and, optionally, inputs: what
/// post-training quantization evaluates and quantization-aware training trains.
///
///     y = layer(fq_a(x); fq_w(W ⊙ M) ⊙ M, b)
///
/// `fq_w` uses fixed calibrated ranges (PTQ), min–max ranges recomputed every step (QAT with
/// the straight-through estimator) or learned steps (LSQ). The mask `M` is applied before and
/// after, so pruned weights are exactly zero whatever the scheme (binary codes have no zero).
/// Parameters keep the wrapped layer's names (`weight`, `bias`), plus `weight_step` under LSQ,
/// so optimizers, checkpoints and masks see the same model.
public final class QuantizedLayer: Layer, ActivationQuantizationPoint {
  /// How the input is quantized.
  public enum ActivationMode {
    case float
    /// A range from the current batch, every call.
    case dynamic(QuantizationScheme)
    /// A range fixed by calibration.
    case fixed(QuantizationScheme, range: ClosedRange<Float>)
    /// Calibration: inputs pass through unchanged and are recorded.
    case observing(QuantizationScheme, ActivationObserver)
  }

  /// How the weight is quantized.
  public enum WeightMode {
    /// Calibrated block ranges (nil: min–max of the current weight), straight-through gradient.
    case ranges([ClosedRange<Float>]?)
    /// LSQ: learned steps, one per block.
    case learnedStep(Parameter)
  }

  public let name: String
  public let inner: Layer
  public let weightScheme: QuantizationScheme
  public var activation: ActivationMode
  public var weightMode: WeightMode

  public init(name: String, wrapping inner: Layer, weightScheme: QuantizationScheme,
              activation: ActivationMode = .float, weightMode: WeightMode = .ranges(nil)) throws(QuantizationError) {
    guard inner is Linear || inner is Conv2d else {
      throw .unsupportedUse(layer: name, scheme: weightScheme.description, reason: "only Linear and Conv2d layers are quantized")
    }
    self.name = name
    self.inner = inner
    self.weightScheme = weightScheme
    self.activation = activation
    self.weightMode = weightMode
    _ = try weightScheme.blockSize(for: weightParameter.shape, layer: name)
  }

  var weightParameter: Parameter {
    get { (inner as? Linear)?.weight ?? (inner as! Conv2d).weight }
    set {
      if let linear = inner as? Linear { linear.weight = newValue } else { (inner as! Conv2d).weight = newValue }
    }
  }

  /// The weight the layer computes with (tracked when the latent weight or step is).
  public func quantizedWeight() -> Tensor {
    let parameter = weightParameter
    let w = parameter.effective
    let quantized: Tensor
    switch weightMode {
    case .ranges(let ranges):
      // Validated at init; the ranges match the blocks by construction.
      quantized = (try? FakeQuantization.straightThrough(w, scheme: weightScheme, ranges: ranges, layer: name)) ?? w
    case .learnedStep(let step):
      guard case .integer(let bits, _, _) = weightScheme else { return w }
      quantized = FakeQuantization.learnedStepSize(w, step: step.value, bits: bits)
    }
    return parameter.mask.map { quantized * $0 } ?? quantized
  }

  /// The codes, scales and zero points of the current weight (LSQ: at the learned steps).
  public func quantizedWeightCodes() throws(QuantizationError) -> QuantizedTensor {
    let w = weightParameter.effective.detached
    switch weightMode {
    case .ranges(let ranges): return try weightScheme.quantize(w, ranges: ranges, layer: name)
    case .learnedStep(let step):
      let qMax = Float(weightScheme.codeRange.upperBound)
      let steps = step.value.scalars.map { Swift.max(abs($0), .leastNormalMagnitude) }
      return try weightScheme.quantize(w, ranges: steps.map { (-qMax * $0)...(qMax * $0) }, layer: name)
    }
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let x = activation.apply(to: input, layer: name), w = quantizedWeight()
    if let linear = inner as? Linear {
      let y = x.matmul(w, transposeB: true)
      return linear.bias.map { y + $0.effective } ?? y
    }
    let conv = inner as! Conv2d
    let y = x.conv2d(w, stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups)
    return conv.bias.map { y + $0.effective.reshaped([1, conv.outChannels, 1, 1]) } ?? y
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try inner.visitParameters(body)
    if case .learnedStep(var step) = weightMode {
      try body("weight_step", &step)
      weightMode = .learnedStep(step)
    }
  }

  public func visitBuffers(_ body: (String, inout Tensor) throws -> Void) rethrows {
    try inner.visitBuffers(body)
  }

  /// Writes the dequantized weight into the wrapped layer (mask kept) and returns it: a plain
  /// model that computes what this one computes without activation quantization.
  public func baked() -> Layer {
    var parameter = weightParameter
    parameter.value = quantizedWeight().detached
    weightParameter = parameter
    return inner
  }
}

extension Layer {
  /// The quantized layers of this model, with their names.
  public var quantizedLayers: [QuantizedLayer] {
    namedLayers.compactMap { $0.layer as? QuantizedLayer }
  }
}

/// Replaces the layer called `name` (dotted, as in ``Layer/namedLayers``) inside its parent
/// ``LayerContainer`` (a `Sequential`, a residual block).
func replaceLayer(named name: String, in model: Layer, with layer: Layer) throws(QuantizationError) {
  let parts = name.split(separator: ".").map(String.init)
  let parentName = parts.dropLast().joined(separator: ".")
  guard let parent = model.namedLayers.first(where: { $0.name == parentName })?.layer as? any LayerContainer,
        let last = parts.last, parent.replaceLayer(named: last, with: layer) else {
    throw .unsupportedUse(layer: name, scheme: "", reason: "its parent cannot replace children (not a Sequential or residual block), so it cannot be wrapped")
  }
}

/// Replaces every ``QuantizedLayer`` by its wrapped layer holding the dequantized weights and
/// turns residual activation quantizers into pass-throughs: a plain model that computes what
/// the quantized one computes without activation quantization.
public func bakeQuantization(into model: Layer) {
  for entry in model.namedLayers {
    if let quantizer = entry.layer as? ActivationQuantizer { quantizer.activation = .float }
    guard let quantized = entry.layer as? QuantizedLayer else { continue }
    try? replaceLayer(named: entry.name, in: model, with: quantized.baked())
  }
}
