import WinnowCore
import WinnowNN

/// Post-training quantization (survey of Gholami et al., §III-D, §IV-A): quantize a trained
/// model's weights with ranges from the weights themselves and its activations with ranges
/// from a few calibration batches, without training.
///
/// `apply` wraps every planned layer in a ``QuantizedLayer`` (in place), calibrates static
/// activation ranges by running the batches through the model in inference mode, and leaves
/// a fake-quantized model whose accuracy is the quantized model's. Fold batch norm first
/// (``BatchNormFolding``) so its scale is quantized with the weights.
///
/// With an activation scheme, activations are quantized at every
/// ``ActivationQuantizationPoint``: the input of each quantized layer, and both summands of
/// every residual addition (``ResidualAddition``: an ``ActivationQuantizer`` on `add_main` and
/// `add_shortcut`). In a ResNet ``BasicBlock`` that is: the block input at `conv1` and at the
/// projection `shortcut.0`, `relu(bn1(conv1(x)))` at `conv2`, `bn2(conv2(·))` at `add_main`
/// and the shortcut branch (identity or projection) at `add_shortcut`; the block output is
/// quantized where it is consumed (the next block's convolutions, or the head's input).
public struct PostTrainingQuantizer: Sendable {
  public var plan: QuantizationPlan
  /// Ranges of static activation quantizers.
  public var activationRanges: RangeEstimator
  /// Ranges of each weight block (min–max, or MSE-optimal clipping).
  public var weightRanges: RangeEstimator
  /// Quantize activations with ranges of the current batch instead of calibrated ones.
  public var dynamicActivations: Bool
  /// Quantize both summands of every residual addition too (with an activation scheme).
  /// Off only to measure what the residual points cost: integer kernels cannot skip them.
  public var residualActivations: Bool

  public init(plan: QuantizationPlan, activationRanges: RangeEstimator = .minMax, weightRanges: RangeEstimator = .minMax,
              dynamicActivations: Bool = false, residualActivations: Bool = true) {
    self.plan = plan
    self.activationRanges = activationRanges
    self.weightRanges = weightRanges
    self.dynamicActivations = dynamicActivations
    self.residualActivations = residualActivations
  }

  /// Quantizes `model` in place; `calibration` are input batches (needed only for static
  /// activation ranges). Returns the quantized layers.
  @discardableResult
  public func apply(to model: Layer, calibration: [Tensor]) throws(QuantizationError) -> [QuantizedLayer] {
    try plan.validate(against: model)
    let layers = try install(on: model)
    guard let scheme = plan.activations else { return layers }
    let residual = residualActivations
      ? installResidualQuantizers(on: model, activation: dynamicActivations ? .dynamic(scheme) : .float) : []
    guard !dynamicActivations else { return layers }
    let points: [ActivationQuantizationPoint] = layers + residual
    guard !calibration.isEmpty else { throw .noCalibrationData(layer: points.first?.name ?? "activations") }
    let observers = points.map { point in
      let observer = ActivationObserver()
      point.activation = .observing(scheme, observer)
      return observer
    }
    let context = ForwardContext(training: false)
    for batch in calibration { _ = model.forward(batch, context) }
    for (point, observer) in zip(points, observers) {
      guard let range = observer.range(activationRanges, scheme: scheme) else { throw .noCalibrationData(layer: point.name) }
      point.activation = .fixed(scheme, range: range)
    }
    return layers
  }

  func install(on model: Layer) throws(QuantizationError) -> [QuantizedLayer] {
    var installed: [QuantizedLayer] = []
    for entry in quantizableLayers(of: model) {
      guard let scheme = plan.layers[entry.name] else { continue }
      let weight = (entry.layer as? Linear)?.weight.effective ?? (entry.layer as? Conv2d)?.weight.effective ?? Tensor(0)
      let ranges = try weightRanges.blockRanges(of: weight.detached, scheme: scheme, layer: entry.name)
      let activation: QuantizedLayer.ActivationMode = plan.activations.map { dynamicActivations ? .dynamic($0) : .float } ?? .float
      let layer = try QuantizedLayer(name: entry.name, wrapping: entry.layer, weightScheme: scheme, activation: activation,
                                     weightMode: .ranges(ranges))
      try replaceLayer(named: entry.name, in: model, with: layer)
      installed.append(layer)
    }
    return installed
  }
}

/// Quantization-aware training (survey §IV-B): the forward pass computes with fake-quantized
/// weights (and activations), the backward pass reaches the latent Float32 weights through
/// the straight-through estimator, or also learns the step sizes (LSQ, Esser et al. 2020).
/// Run any `Trainer` on the prepared model; masks stay exactly as they were (the latent
/// weights stay masked by the optimizer, the quantized weights by ``QuantizedLayer``).
public enum QuantizationAwareTraining {
  public enum Estimator: String, Sendable, CaseIterable {
    /// Weight ranges re-taken from the current weights every step; gradient passes inside.
    case straightThrough = "ste"
    /// Learned step per block, initialised from the PTQ ranges.
    case learnedStepSize = "lsq"
  }

  /// Switches the weights of already-installed (PTQ) layers to training-time quantizers.
  public static func prepare(_ layers: [QuantizedLayer], estimator: Estimator) throws(QuantizationError) {
    for layer in layers {
      switch estimator {
      case .straightThrough:
        layer.weightMode = .ranges(nil)
      case .learnedStepSize:
        let ranges: [ClosedRange<Float>]?
        if case .ranges(let r) = layer.weightMode { ranges = r } else { ranges = nil }
        let steps = try FakeQuantization.initialSteps(layer.weightParameter.effective, scheme: layer.weightScheme,
                                                      ranges: ranges, layer: layer.name)
        layer.weightMode = .learnedStep(Parameter(steps))
      }
    }
  }
}
