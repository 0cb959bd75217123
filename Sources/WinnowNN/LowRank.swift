import WinnowCore

/// A linear map `N×K` of rank at most `r`, stored as two thin maps:
/// `y = second(first(x)) = x·Aᵀ·Bᵀ + b` with `first.weight = A` (`r×K`, no bias) and
/// `second.weight = B` (`N×r`, with the bias).
///
/// Parameters: `r·(K + N) + N` instead of `N·K + N`, so it saves parameters (and
/// multiply-adds) when `r < N·K/(N + K)`. Parameter names are `first.weight`,
/// `second.weight`, `second.bias`. Built from a trained `Linear` by truncated SVD
/// (`WinnowCompression.LowRankFactorization`) or trained from scratch.
public final class LowRankLinear: Layer {
  public let first: Linear
  public let second: Linear

  public var inFeatures: Int { first.inFeatures }
  public var outFeatures: Int { second.outFeatures }
  public var rank: Int { first.outFeatures }

  /// A rank-`rank` map initialised like two PyTorch `Linear` layers.
  public init(_ inFeatures: Int, _ outFeatures: Int, rank: Int, bias: Bool = true, rng: inout RandomGenerator) {
    precondition(rank >= 1, "rank must be at least 1, got \(rank)")
    first = Linear(inFeatures, rank, bias: false, rng: &rng)
    second = Linear(rank, outFeatures, bias: bias, rng: &rng)
  }

  /// From factors `first` (`r×K`) and `second` (`N×r`) and an optional bias (`N`).
  public init(first: Tensor, second: Tensor, bias: Tensor?) {
    precondition(first.rank == 2 && second.rank == 2 && second.shape[1] == first.shape[0],
                 "low-rank factors must be r×K and N×r, got \(first.shape) and \(second.shape)")
    self.first = Linear(weight: first, bias: nil)
    self.second = Linear(weight: second, bias: bias)
  }

  /// The dense `N×K` weight `B·A` this layer computes with.
  public var denseWeight: Tensor { second.weight.effective.detached.matmul(first.weight.effective.detached) }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    second.forward(first.forward(input, context), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(first, "first", body)
    try visit(second, "second", body)
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("first", first)
    try body("second", second)
  }
}

/// A convolution `N×C×kH×kW` of rank at most `r` as two convolutions: `first`, `kH×kW` with
/// `r` output channels (the original stride, padding and dilation, no bias), then `second`,
/// `1×1` from `r` to `N` channels with the bias.
///
/// The rank is that of the weight reshaped to `N×(C·kH·kW)`, the matrix the convolution
/// multiplies im2col columns by. Parameters: `r·(C·kH·kW + N) + N`. Names as for
/// ``LowRankLinear``: `first.weight`, `second.weight`, `second.bias`. Groups must be 1.
public final class LowRankConv2d: Layer {
  public let first: Conv2d
  public let second: Conv2d

  public var rank: Int { first.outChannels }
  public var inChannels: Int { first.inChannels }
  public var outChannels: Int { second.outChannels }

  /// From `first` (`r×C×kH×kW`), `second` (`N×r×1×1`), an optional bias and the geometry of
  /// the convolution being factorized.
  public init(first: Tensor, second: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)) {
    precondition(first.rank == 4 && second.rank == 4 && second.shape[1] == first.shape[0]
                 && second.shape[2] == 1 && second.shape[3] == 1,
                 "low-rank convolution factors must be r×C×kH×kW and N×r×1×1, got \(first.shape) and \(second.shape)")
    self.first = Conv2d(weight: first, bias: nil, stride: stride, padding: padding, dilation: dilation)
    self.second = Conv2d(weight: second, bias: bias, stride: (1, 1), padding: (0, 0), dilation: (1, 1))
  }

  public func forward(_ input: Tensor, _ context: ForwardContext) -> Tensor {
    second.forward(first.forward(input, context), context)
  }

  public func visitParameters(_ body: (String, inout Parameter) throws -> Void) rethrows {
    try visit(first, "first", body)
    try visit(second, "second", body)
  }

  public func visitChildren(_ body: (String, Layer) throws -> Void) rethrows {
    try body("first", first)
    try body("second", second)
  }
}
