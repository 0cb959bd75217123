import CWinnowKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits `0..<count` into contiguous chunks and runs them on up to `Parallelism.threads`
/// threads (the caller and Winnow's pool workers, `thread_pool.c`), waiting for all. Small jobs
/// (below `minimumPerChunk` items a chunk) run inline. A call made while the pool is busy (from
/// inside a chunk, or from a second thread at the same time) runs its chunks on its own thread.
/// `threads` defaults to `Parallelism.threads`.
public func parallelFor(
  _ count: Int, minimumPerChunk: Int = 1, threads: Int = Parallelism.threads, _ body: (Range<Int>) -> Void
) {
  let chunks = min(threads, max(1, count / max(1, minimumPerChunk)))
  if chunks <= 1 {
    if count > 0 { body(0..<count) }
    return
  }
  withoutActuallyEscaping(body) { body in
    var job = ChunkedJob(count: count, chunks: chunks, body: body)
    withUnsafeMutablePointer(to: &job) { pointer in
      winnow_parallel_run(Int64(chunks), Int32(min(threads, 256)), { context, chunk in
        guard let job = context?.assumingMemoryBound(to: ChunkedJob.self).pointee else { return }
        let lo = job.count * Int(chunk) / job.chunks
        let hi = job.count * (Int(chunk) + 1) / job.chunks
        if lo < hi { job.body(lo..<hi) }
      }, pointer)
    }
  }
}

/// What the pool's C workers need to run one chunk of a ``parallelFor`` call.
private struct ChunkedJob {
  let count: Int
  let chunks: Int
  let body: (Range<Int>) -> Void
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

  /// How long an idle pool worker spins waiting for the next job before it parks, in
  /// microseconds (default 200, or `WINNOW_SPIN_US`). Longer keeps back-to-back kernel calls
  /// fast; shorter gives the core back sooner on a shared machine.
  public static var spinMicroseconds: Int {
    get { Int(winnow_spin_microseconds()) }
    set { winnow_set_spin_microseconds(Int64(max(0, newValue))) }
  }
}

private func activeProcessorCount() -> Int {
  #if canImport(Glibc) || canImport(Darwin) || canImport(Musl)
  let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
  return n > 0 ? n : 1
  #else
  return 1
  #endif
}
