/// A dense row-major array of integers (`Int8`, `UInt8`, `Int32`, …): the storage of
/// quantized weights and activations and of integer accumulators.
///
/// Not differentiable and without arithmetic of its own: quantization schemes convert between
/// it and ``Tensor``, and integer kernels read its buffer directly.
public struct IntegerTensor<Scalar: FixedWidthInteger & Sendable>: Sendable, Equatable {
  public private(set) var shape: [Int]
  public var scalars: [Scalar] {
    didSet { precondition(scalars.count == shape.reduce(1, *), "integer tensor of shape \(shape) cannot hold \(scalars.count) values") }
  }

  public init(shape: [Int], scalars: [Scalar]) {
    precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == scalars.count,
                 "shape \(shape) does not match \(scalars.count) values")
    self.shape = shape
    self.scalars = scalars
  }

  public init(shape: [Int], repeating value: Scalar = 0) {
    self.init(shape: shape, scalars: [Scalar](repeating: value, count: shape.reduce(1, *)))
  }

  public var count: Int { scalars.count }
  public var rank: Int { shape.count }

  /// The values as Float32 (exact for 8- and 16-bit types and for |x| ≤ 2²⁴).
  public var floatTensor: Tensor { Tensor(shape: shape, scalars: scalars.map { Float($0) }) }

  /// Rounds each element of `tensor` to nearest (ties to even) and saturates to `Scalar`'s range.
  public init(rounding tensor: Tensor) {
    let lo = Float(Scalar.min), hi = Float(Scalar.max)
    self.init(shape: tensor.shape, scalars: tensor.scalars.map { v in
      v.isNaN ? 0 : Scalar(Swift.min(Swift.max(v.rounded(.toNearestOrEven), lo), hi))
    })
  }

  /// Same values, new shape.
  public func reshaped(_ newShape: [Int]) -> IntegerTensor {
    IntegerTensor(shape: newShape, scalars: scalars)
  }
}
