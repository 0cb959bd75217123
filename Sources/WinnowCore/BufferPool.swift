import WinnowKernels

/// Freed tensor buffers, kept for the next allocation of the same size.
///
/// Training allocates the same activation and gradient sizes every step. Handed back to
/// malloc, the large ones return to the operating system (glibc trims the top of its heap),
/// and the next step page-faults every page back in: on the project machine ~220 faults and
/// ~10 % of a LeNet-5 training step. Kept here, they are reused as they are.
///
/// Only buffers of at least ``minimumBytes`` are kept (malloc recycles small ones well), by
/// exact byte count, at most ``capacityBytes`` in all; beyond that they go to malloc as before.
/// ``TensorStorage/releaseCachedBuffers()`` empties the pool.
final class BufferPool: @unchecked Sendable {
  static let shared = BufferPool()
  static let minimumBytes = 64 << 10
  static let capacityBytes = 256 << 20
  static let alignment = 64

  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private var free: [Int: [UnsafeMutableRawPointer]] = [:]
  private var heldBytes = 0

  private init() { pthread_mutex_init(mutex, nil) }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }

  /// A buffer of `byteCount` bytes, 64-byte aligned, uninitialised (or holding old values).
  func take(byteCount: Int) -> UnsafeMutableRawPointer {
    if byteCount >= Self.minimumBytes {
      let reused: UnsafeMutableRawPointer? = locked {
        guard let buffer = free[byteCount]?.popLast() else { return nil }
        heldBytes -= byteCount
        return buffer
      }
      if let reused { return reused }
    }
    return .allocate(byteCount: byteCount, alignment: Self.alignment)
  }

  /// Returns a buffer from ``take(byteCount:)``; it is kept for reuse or deallocated.
  func give(_ buffer: UnsafeMutableRawPointer, byteCount: Int) {
    if byteCount >= Self.minimumBytes {
      let kept = locked {
        guard heldBytes + byteCount <= Self.capacityBytes else { return false }
        free[byteCount, default: []].append(buffer)
        heldBytes += byteCount
        return true
      }
      if kept { return }
    }
    buffer.deallocate()
  }

  /// Deallocates every kept buffer.
  func drain() {
    let buffers = locked {
      defer { free = [:]; heldBytes = 0 }
      return free.values.flatMap { $0 }
    }
    for buffer in buffers { buffer.deallocate() }
  }
}

extension TensorStorage {
  /// Gives the memory of freed tensors, which Winnow keeps for reuse, back to the system.
  public static func releaseCachedBuffers() { BufferPool.shared.drain() }
}
