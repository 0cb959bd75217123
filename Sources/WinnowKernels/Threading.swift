import Dispatch

/// Splits `0..<count` into contiguous chunks and runs them on up to `Parallelism.threads`
/// threads, waiting for all. Small jobs (below `minimumPerChunk` items a chunk) run inline,
/// because a dispatch costs about half a microsecond per call on this class of machine.
public func parallelFor(
  _ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void
) {
  let threads = Parallelism.threads
  let chunks = min(threads, max(1, count / max(1, minimumPerChunk)))
  if chunks <= 1 {
    if count > 0 { body(0..<count) }
    return
  }
  withoutActuallyEscaping(body) { body in
    let box = UnsafeSendable(body)
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
      let lo = count * chunk / chunks
      let hi = count * (chunk + 1) / chunks
      if lo < hi { box.value(lo..<hi) }
    }
  }
}

/// How many threads Winnow's own kernels use (BLAS has its own setting: ``BLASThreads``).
public enum Parallelism {
  nonisolated(unsafe) private static var configured: Int = 0
  /// Number of threads; defaults to the number of active processors.
  public static var threads: Int {
    get { configured > 0 ? configured : activeProcessorCount() }
    set { configured = max(1, newValue) }
  }
  /// The fewest elements worth one thread in a memory-bound elementwise loop: about 10 µs of
  /// work, well above the cost of waking a worker (`parallelFor(count, minimumPerChunk:)`).
  public static let elementwiseGrain = 65_536
}

private func activeProcessorCount() -> Int {
  #if canImport(Glibc) || canImport(Darwin) || canImport(Musl)
  let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
  return n > 0 ? n : 1
  #else
  return 1
  #endif
}

struct UnsafeSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
