import WinnowKernels

extension Int8LinearWeights {
  /// The runtime's int8 format from a quantized `N×K` Linear weight (symmetric int8, one
  /// scale per output channel) and, optionally, the calibrated input range of the same layer.
  ///
  /// WinnowCompression's asymmetric int8 activations use codes −128…127 with zero point `z`;
  /// the kernel's use 0…255. Adding 128 to both is the same quantizer: `x ≈ s·(q − z)`.
  public init(quantized weight: QuantizedTensor, input: (scheme: QuantizationScheme, range: ClosedRange<Float>)? = nil) throws {
    guard case .integer(8, true, .perChannel) = weight.scheme, weight.shape.count == 2 else {
      throw QuantizationError.unsupportedUse(layer: "weight", scheme: weight.scheme.description,
                                             reason: "Int8LinearWeights takes symmetric per-channel int8 codes of an N×K weight")
    }
    var activation = ActivationQuantization.dynamicPerToken
    if let input {
      guard case .integer(8, false, .perTensor) = input.scheme else {
        throw QuantizationError.unsupportedUse(layer: "input", scheme: input.scheme.description,
                                               reason: "Int8LinearWeights takes affine per-tensor int8 inputs (int8-asym-tensor)")
      }
      let (scale, zeroPoint) = input.scheme.parameters(for: input.range)
      activation = .calibrated(scale: scale, zeroPoint: zeroPoint + 128)
    }
    try self.init(codes: weight.codes.scalars, scales: weight.scales, outputFeatures: weight.shape[0],
                  inputFeatures: weight.shape[1], activationQuantization: activation)
  }
}
