import WinnowKernels

/// A dense, row-major, Float32 n-dimensional array with value semantics.
///
/// Copies are cheap: storage is shared until one copy is mutated (copy-on-write). A tensor
/// produced by an operation on a *tracked* tensor records that operation (see
/// ``valueWithGradient(at:of:)``); untracked tensors record nothing and cost nothing extra.
///
///     let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
///     let y = (x * 2).sum(axes: [1])        // [12, 30]
public struct Tensor: @unchecked Sendable {
  /// Extent of each axis; `[]` is a scalar.
  public private(set) var shape: [Int]
  @usableFromInline var storage: TensorStorage
  /// The operation that produced this value, when recorded for differentiation.
  var node: GraphNode?

  init(shape: [Int], storage: TensorStorage, node: GraphNode? = nil) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
    precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not match \(storage.count) elements")
    self.shape = shape
    self.storage = storage
    self.node = node
  }

  /// A tensor of `shape` with every element equal to `value`.
  public init(shape: [Int], repeating value: Float = 0) {
    self.init(shape: shape, storage: TensorStorage(repeating: value, count: shape.reduce(1, *)))
  }

  /// A tensor of `shape` holding `scalars` in row-major order.
  public init(shape: [Int], scalars: [Float]) {
    precondition(
      shape.reduce(1, *) == scalars.count,
      "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
    let storage = TensorStorage(uninitializedCount: scalars.count)
    scalars.withUnsafeBufferPointer { src in
      if let p = src.baseAddress { storage.base.initialize(from: p, count: scalars.count) }
    }
    self.init(shape: shape, storage: storage)
  }

  /// A rank-0 tensor.
  public init(_ scalar: Float) { self.init(shape: [], scalars: [scalar]) }

  /// A rank-1 tensor.
  public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

  /// A tensor whose values are written by `body` into uninitialised storage of `shape`.
  public init(shape: [Int], initializer body: (UnsafeMutableBufferPointer<Float>) -> Void) {
    let storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
    body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    self.init(shape: shape, storage: storage)
  }

  public var rank: Int { shape.count }
  /// Number of elements.
  public var count: Int { storage.count }
  /// All elements in row-major order.
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: storage.count)) }
  /// The single element of a one-element tensor.
  public var scalar: Float {
    precondition(count == 1, "scalar of a tensor with \(count) elements")
    return storage.base[0]
  }
  /// True when this value is part of a recorded computation.
  public var isTracked: Bool { node != nil }

  /// The same values, cut loose from any recorded computation.
  public var detached: Tensor { Tensor(shape: shape, storage: storage) }

  /// Reads the elements without copying.
  @inlinable
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
  }

  /// Mutates the elements in place, copying first if the storage is shared. The result is
  /// detached from any recorded computation, since its values no longer match the record.
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    node = nil
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
  }

  /// Element at a full index (one entry per axis); for tests and small tensors.
  public subscript(index: Int...) -> Float {
    get { storage.base[flatIndex(index)] }
    set {
      let i = flatIndex(index)
      withUnsafeMutableBufferPointer { $0[i] = newValue }
    }
  }

  func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == rank, "index \(index) for a tensor of rank \(rank)")
    var flat = 0
    for (axis, i) in index.enumerated() {
      precondition(i >= 0 && i < shape[axis], "index \(index) out of bounds for shape \(shape)")
      flat = flat * shape[axis] + i
    }
    return flat
  }
}

extension Tensor {
  public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
  public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
  public static func zeros(like t: Tensor) -> Tensor { Tensor(shape: t.shape, repeating: 0) }

  /// Normal samples with the given mean and standard deviation, from a seeded generator.
  public static func randomNormal(
    _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, using rng: inout RandomGenerator
  ) -> Tensor {
    Tensor(shape: shape) { buffer in
      for i in buffer.indices { buffer[i] = mean + standardDeviation * rng.nextNormal() }
    }
  }

  /// Uniform samples in `range`, from a seeded generator.
  public static func randomUniform(
    _ shape: [Int], in range: ClosedRange<Float>, using rng: inout RandomGenerator
  ) -> Tensor {
    Tensor(shape: shape) { buffer in
      for i in buffer.indices { buffer[i] = rng.nextFloat(in: range) }
    }
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let shown = count <= 16 ? scalars.map { "\($0)" }.joined(separator: ", ")
      : scalars.prefix(16).map { "\($0)" }.joined(separator: ", ") + ", …"
    return "Tensor(shape: \(shape), [\(shown)])"
  }
}

extension Tensor: Equatable {
  /// Same shape and bit-for-bit equal values (NaN compares unequal, as for Float).
  public static func == (a: Tensor, b: Tensor) -> Bool {
    a.shape == b.shape && (a.storage === b.storage || a.scalars == b.scalars)
  }
}
