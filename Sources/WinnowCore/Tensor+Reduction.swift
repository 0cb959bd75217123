import WinnowKernels

extension Tensor {
  func normalizedAxes(_ axes: [Int]) -> [Int] {
    axes.map { a in
      let axis = a < 0 ? a + rank : a
      precondition(axis >= 0 && axis < rank, "axis \(a) out of range for shape \(shape)")
      return axis
    }
  }

  /// Sum over `axes` (all axes when nil). Negative axes count from the end.
  public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let axes = normalizedAxes(axes ?? Array(0..<rank))
    let kept = Tensor.apply(.sum(axes: axes), [self])
    return keepDims ? kept : kept.reshaped(shape.indices.filter { !axes.contains($0) }.map { shape[$0] })
  }

  /// Mean over `axes` (all axes when nil).
  public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let axes = normalizedAxes(axes ?? Array(0..<rank))
    let n = axes.reduce(1) { $0 * shape[$1] }
    return sum(axes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
  }

  /// Biased variance (divides by n, as normalisation layers do) over `axes`.
  public func variance(axes: [Int], keepDims: Bool = false) -> Tensor {
    let centered = self - mean(axes: axes, keepDims: true)
    return centered.squared().mean(axes: axes, keepDims: keepDims)
  }

  /// Maximum along `axis`.
  public func max(axis: Int, keepDims: Bool = false) -> Tensor {
    let axis = normalizedAxes([axis])[0]
    let kept = Tensor.apply(.max(axis: axis), [self])
    var s = shape
    s.remove(at: axis)
    return keepDims ? kept : kept.reshaped(s)
  }

  /// Index of the first maximum along `axis` (not differentiable).
  public func argmax(axis: Int) -> [Int] {
    let axis = normalizedAxes([axis])[0]
    let (_, saved) = maxForward(detached, axis: axis)
    return saved.map(Int.init)
  }

  /// Softmax along `axis` (default: last).
  public func softmax(axis: Int = -1) -> Tensor { .apply(.softmax(axis: normalizedAxes([axis])[0]), [self]) }

  /// Log-softmax along `axis` (default: last), computed stably.
  public func logSoftmax(axis: Int = -1) -> Tensor {
    .apply(.logSoftmax(axis: normalizedAxes([axis])[0]), [self])
  }
}
