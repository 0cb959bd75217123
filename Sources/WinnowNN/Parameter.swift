import WinnowCore

/// A trainable tensor of a layer, optionally carrying a pruning mask.
///
/// With a mask (same shape, 1 = keep, 0 = pruned) the layer computes with `value ⊙ mask`, so
/// pruned weights contribute nothing and receive zero gradient; optimizers re-apply the mask
/// after each step, so the zeros survive momentum and weight decay.
///
/// A ``straightThrough`` parameter computes with `value ⊙ mask` too, but its gradient reaches
/// every entry of `value` and optimizers keep the pruned entries (dense weights behind a mask
/// that is recomputed during training, as in SR-STE).
public struct Parameter: Sendable {
  public var value: Tensor
  public var mask: Tensor? {
    didSet {
      if let mask { precondition(mask.shape == value.shape, "mask \(mask.shape) for parameter \(value.shape)") }
    }
  }
  /// Straight-through estimator (Bengio et al. 2013): the forward pass uses `value ⊙ mask`,
  /// the backward pass treats the mask as the identity, and ``applyMask()`` is not called by
  /// optimizers. Not saved in checkpoints: the method that sets it sets it again every step.
  public var straightThrough = false

  public init(_ value: Tensor, mask: Tensor? = nil) {
    self.value = value
    self.mask = mask
  }

  /// The value the layer computes with: masked when a mask is set. Straight-through it is
  /// `value + stopgrad(value ⊙ mask − value)`: the same numbers (pruned entries exactly 0),
  /// with gradient ∂/∂value = the unmasked upstream gradient.
  public var effective: Tensor {
    guard let mask else { return value }
    guard straightThrough else { return value * mask }
    let v = value.detached  // the correction is computed off the record: stopgrad
    return value + (v * mask - v)
  }

  public var shape: [Int] { value.shape }

  /// Sets pruned entries of `value` to exactly zero.
  public mutating func applyMask() {
    guard let mask else { return }
    value = (value.detached * mask).detached
  }
}
