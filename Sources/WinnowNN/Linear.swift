import WinnowCore

/// Affine map `y = x·Wᵀ + b` over the last axis; `weight` is `out×in` (PyTorch layout).
///
/// Initialised like PyTorch: weight and bias uniform in ±1/√in.
public final class Linear: Layer {
  public var weight: Parameter
  public var bias: Parameter?
  public var inFeatures: Int { weight.shape[1] }
  public var outFeatures: Int { weight.shape[0] }

  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) {
    let bound = 1 / Float(inFeatures).squareRoot()
    weight = Parameter(.randomUniform([outFeatures, inFeatures], in: -bound...bound, using: &rng))
    self.bias = bias ? Parameter(.randomUniform([outFeatures], in: -bound...bound, using: &rng)) : nil
  }

  public init(weight: Tensor, bias: Tensor?) {
    precondition(weight.rank == 2, "Linear weight must be out×in, got \(weight.shape)")
    self.weight = Parameter(weight)
    self.bias = bias.map { Parameter($0) }
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let y = input.matmul(weight.effective, transposeB: true)
    return bias.map { y + $0.effective } ?? y
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try body("weight", &weight)
    if bias != nil { try body("bias", &bias!) }
  }
}

/// 2-D convolution with `out×(in/groups)×kH×kW` weights and an optional bias.
///
/// Initialised like PyTorch: uniform in ±1/√(in/groups·kH·kW).
public final class Conv2d: Layer {
  public var weight: Parameter
  public var bias: Parameter?
  public let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
  /// Channel groups (`in` for depthwise); structured pruning updates it for depthwise layers.
  public var groups: Int

  public init(
    _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    dilation: Int = 1, groups: Int = 1, bias: Bool = true, rng: inout RandomGenerator
  ) {
    precondition(inChannels % groups == 0 && outChannels % groups == 0, "groups \(groups) must divide \(inChannels) and \(outChannels)")
    let fanIn = inChannels / groups * kernel * kernel
    let bound = 1 / Float(fanIn).squareRoot()
    weight = Parameter(.randomUniform([outChannels, inChannels / groups, kernel, kernel], in: -bound...bound, using: &rng))
    self.bias = bias ? Parameter(.randomUniform([outChannels], in: -bound...bound, using: &rng)) : nil
    self.stride = (stride, stride)
    self.padding = (padding, padding)
    self.dilation = (dilation, dilation)
    self.groups = groups
  }

  /// A convolution with the given weights (`out×in×kH×kW`, groups 1) and geometry.
  public init(weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)) {
    precondition(weight.rank == 4, "Conv2d weight must be out×in×kH×kW, got \(weight.shape)")
    self.weight = Parameter(weight)
    self.bias = bias.map { Parameter($0) }
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    groups = 1
  }

  public var inChannels: Int { weight.shape[1] * groups }
  public var outChannels: Int { weight.shape[0] }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let y = input.conv2d(weight.effective, stride: stride, padding: padding, dilation: dilation, groups: groups)
    return bias.map { y + $0.effective.reshaped([1, outChannels, 1, 1]) } ?? y
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try body("weight", &weight)
    if bias != nil { try body("bias", &bias!) }
  }
}

/// A lookup table: integer ids (stored as Float in the input tensor) pick rows of `weight`.
///
/// Input of shape `S` gives output `S×dim`. Initialised `N(0, 1)` like PyTorch.
public final class Embedding: Layer {
  public var weight: Parameter

  public init(_ count: Int, _ dimension: Int, rng: inout RandomGenerator) {
    weight = Parameter(.randomNormal([count, dimension], using: &rng))
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    let ids = input.scalars.map { Int($0) }
    return weight.effective.gather(rows: ids, indexShape: input.shape)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try body("weight", &weight)
  }
}
