import WinnowCore

/// A trainable tensor of a layer, optionally carrying a pruning mask.
///
/// With a mask (same shape, 1 = keep, 0 = pruned) the layer computes with `value ⊙ mask`, so
/// pruned weights contribute nothing and receive zero gradient; optimizers re-apply the mask
/// after each step, so the zeros survive momentum and weight decay.
public struct Parameter: Sendable {
  public var value: Tensor
  public var mask: Tensor? {
    didSet {
      if let mask { precondition(mask.shape == value.shape, "mask \(mask.shape) for parameter \(value.shape)") }
    }
  }

  public init(_ value: Tensor, mask: Tensor? = nil) {
    self.value = value
    self.mask = mask
  }

  /// The value the layer computes with: masked when a mask is set.
  public var effective: Tensor { mask.map { value * $0 } ?? value }

  public var shape: [Int] { value.shape }

  /// Sets pruned entries of `value` to exactly zero.
  public mutating func applyMask() {
    guard let mask else { return }
    value = (value.detached * mask).detached
  }
}
