import WinnowKernels

/// The buffer behind a ``Tensor``: `count` Float32 values, 64-byte aligned, owned by this object.
///
/// Tensors share storage until one of them is mutated (copy-on-write in ``Tensor``). Large
/// buffers come from and return to a ``BufferPool``, so training steps reuse them.
public final class TensorStorage: @unchecked Sendable {
  public let count: Int
  public let base: UnsafeMutablePointer<Float>

  /// Uninitialised storage; every caller writes all `count` values before reading.
  init(uninitializedCount count: Int) {
    precondition(count >= 0, "negative element count \(count)")
    self.count = count
    let raw = BufferPool.shared.take(byteCount: max(count, 1) * MemoryLayout<Float>.stride)
    base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
  }

  convenience init(repeating value: Float, count: Int) {
    self.init(uninitializedCount: count)
    base.initialize(repeating: value, count: count)
  }

  func copy() -> TensorStorage {
    let other = TensorStorage(uninitializedCount: count)
    other.base.initialize(from: base, count: count)
    return other
  }

  deinit { BufferPool.shared.give(UnsafeMutableRawPointer(base), byteCount: max(count, 1) * MemoryLayout<Float>.stride) }
}
