extension Tensor {
  /// Matrix product over the last two axes, optionally transposing either operand.
  ///
  /// `A[..., M, K] · B[..., K, N]`. A rank-2 `B` is shared by every batch of a higher-rank
  /// `A` (the Linear layer case); otherwise leading axes must match.
  public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    if rank > 2 && other.rank == 2 && !transposeA {
      let lead = Array(shape.dropLast())
      let flat = reshaped([-1, shape[rank - 1]])
      let product = Tensor.apply(.matmul(transposeA: false, transposeB: transposeB), [flat, other])
      return product.reshaped(lead + [product.shape[1]])
    }
    return .apply(.matmul(transposeA: transposeA, transposeB: transposeB), [self, other])
  }

  /// 2-D convolution of this `N×C×H×W` tensor with `O×(C/groups)×kH×kW` weights.
  public func conv2d(
    _ weight: Tensor, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), groups: Int = 1
  ) -> Tensor {
    .apply(.conv2d(stride: [stride.0, stride.1], padding: [padding.0, padding.1],
                   dilation: [dilation.0, dilation.1], groups: groups), [self, weight])
  }

  /// Max pooling over the last two axes (stride defaults to the kernel size).
  public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
    let s = stride ?? kernel
    return .apply(.maxPool2d(kernel: [kernel.0, kernel.1], stride: [s.0, s.1], padding: [padding.0, padding.1]), [self])
  }

  /// Average pooling over the last two axes, padding counted (stride defaults to the kernel).
  public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
    let s = stride ?? kernel
    return .apply(.avgPool2d(kernel: [kernel.0, kernel.1], stride: [s.0, s.1], padding: [padding.0, padding.1]), [self])
  }

  /// Mean over the last two axes, keeping `N×C×1×1`.
  public func globalAvgPool2d() -> Tensor { mean(axes: [rank - 2, rank - 1], keepDims: true) }
}
