import Dispatch
import Testing
import WinnowKernels

/// `parallelFor` on Winnow's own pool (`thread_pool.c`): every index runs exactly once, for any
/// count and thread count, also when calls nest, come from several threads at once, or find the
/// workers parked.
@Suite struct ThreadPoolTests {
  /// Runs `parallelFor` and counts how often each index of `0..<count` was visited.
  static func visits(_ count: Int, threads: Int, minimumPerChunk: Int = 1) -> [Int] {
    var counts = [Int](repeating: 0, count: count)
    counts.withUnsafeMutableBufferPointer { buffer in
      let base = buffer.baseAddress
      parallelFor(count, minimumPerChunk: minimumPerChunk, threads: threads) { range in
        for i in range { base?[i] += 1 }  // chunks are disjoint: no two threads share an index
      }
    }
    return counts
  }

  @Test(arguments: [0, 1, 2, 3, 7, 64, 1000, 100_003], [1, 2, 3, 5, 16])
  func everyIndexRunsExactlyOnce(count: Int, threads: Int) {
    #expect(Self.visits(count, threads: threads) == [Int](repeating: 1, count: count))
    #expect(Self.visits(count, threads: threads, minimumPerChunk: 10) == [Int](repeating: 1, count: count))
  }

  @Test func nestedCallsRunInline() {
    var inner = [Int](repeating: 0, count: 4 * 100)
    inner.withUnsafeMutableBufferPointer { buffer in
      let base = buffer.baseAddress
      parallelFor(4, threads: 4) { outer in
        for o in outer {
          parallelFor(100, threads: 4) { range in for i in range { base?[o * 100 + i] += 1 } }
        }
      }
    }
    #expect(inner == [Int](repeating: 1, count: 400))
  }

  @Test func concurrentCallersAllFinish() {
    let callers = 6
    var totals = [Int](repeating: 0, count: callers)
    totals.withUnsafeMutableBufferPointer { buffer in
      nonisolated(unsafe) let base = buffer.baseAddress
      DispatchQueue.concurrentPerform(iterations: callers) { caller in
        var sum = 0
        for _ in 0..<50 { sum += Self.visits(257, threads: 3).reduce(0, +) }
        base?[caller] = sum
      }
    }
    #expect(totals == [Int](repeating: 50 * 257, count: callers))
  }

  /// With no spinning every job has to wake a parked worker (the condition-variable path).
  @Test func parkedWorkersWakeForEveryJob() {
    let saved = Parallelism.spinMicroseconds
    Parallelism.spinMicroseconds = 0
    defer { Parallelism.spinMicroseconds = saved }
    for round in 0..<200 {
      let count = 10 + round
      #expect(Self.visits(count, threads: 2) == [Int](repeating: 1, count: count))
    }
  }
}
