import Foundation
import Synchronization
import WinnowKernels

extension BERTInference {
  /// The buffers of one call for `M` real tokens, carved from one allocation:
  ///
  ///     hidden        M×C     the running hidden states (the block input and output)
  ///     scratch       M×C     the attention block's output (the FFN input and residual)
  ///     queryKeyValue M×3C'   Q | K | V of every token (C' = widest block's heads·d)
  ///     context       M×C'    attention output, heads side by side
  ///     intermediate  M×F     FFN activations (each thread uses the rows of its own token blocks)
  ///     attention     slots × (n² scores + packed K or Vᵀ) per attention thread
  ///
  /// Every block reuses the same buffers. The allocation is kept by the ``BERTInference``
  /// value (``WorkspaceCache``) for the next call of the same or a smaller size, so a batch
  /// after the first touches no fresh pages: allocating `M×1536` floats afresh in every block
  /// page-faulted ~12 % of the CPU time of a 32×128 batch back in as system time.
  struct Workspace {
    let hidden, scratch, queryKeyValue, context, intermediate, attention: UnsafeMutablePointer<Float>
    /// Floats per attention slot (one slot per concurrently running attention chunk).
    let attentionSlot: Int
    let attentionSlots: Int

    /// Floats a call needs, given the shape.
    static func floatCount(
      tokens m: Int, hidden c: Int, inner: Int, intermediate f: Int, longest: Int, headWidth: Int, slots: Int
    ) -> Int {
      m * (2 * c + 4 * inner + f) + slots * slotCount(longest: longest, headWidth: headWidth)
    }

    /// Scores `n×n` and the packed right operand (`K`: ceil(n/32)·32·d floats, `Vᵀ`: ceil(d/32)·32·n),
    /// or the bf16 kernel's operands and scores, whichever is larger.
    static func slotCount(longest n: Int, headWidth d: Int) -> Int {
      let packed = Swift.max(PanelGEMM.packedCount(n: n, k: d), PanelGEMM.packedCount(n: d, k: n), 1)
      // Rounded to 16 floats so every slot starts 64-byte aligned.
      let floats = Swift.max(Swift.max(n * n, 1) + packed, AttentionKernels.bfloat16WorkspaceCount(n: n, d: d))
      return (floats + 15) / 16 * 16
    }

    init(
      base: UnsafeMutablePointer<Float>, tokens m: Int, hidden c: Int, inner: Int, intermediate f: Int, longest: Int,
      headWidth: Int, slots: Int
    ) {
      hidden = base
      scratch = hidden + m * c
      queryKeyValue = scratch + m * c
      context = queryKeyValue + 3 * m * inner
      intermediate = context + m * inner
      attention = intermediate + m * f
      attentionSlot = Self.slotCount(longest: longest, headWidth: headWidth)
      attentionSlots = slots
    }
  }

  /// Keeps the largest workspace allocation between calls (at most ``capacityFloats``).
  /// A call takes it if it is large enough, else allocates; concurrent calls on one
  /// ``BERTInference`` simply allocate their own.
  final class WorkspaceCache: Sendable {
    /// 256 MiB: 32 × 512 tokens of a BERT-base-sized model.
    static let capacityFloats = 64 << 20
    private let kept = Mutex<(address: UInt, floats: Int)?>(nil)

    /// A buffer of at least `floats` floats (64-byte aligned, old contents) and its capacity.
    func take(floats: Int) -> (UnsafeMutablePointer<Float>, Int) {
      let reused = kept.withLock { slot -> (address: UInt, floats: Int)? in
        guard let buffer = slot, buffer.floats >= floats else { return nil }
        slot = nil
        return buffer
      }
      if let reused, let pointer = UnsafeMutablePointer<Float>(bitPattern: reused.address) { return (pointer, reused.floats) }
      let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(floats, 1) * 4, alignment: 64)
      return (raw.bindMemory(to: Float.self, capacity: Swift.max(floats, 1)), Swift.max(floats, 1))
    }

    /// Hands a buffer back: kept if it is the largest so far (within the cap), else freed.
    func give(_ pointer: UnsafeMutablePointer<Float>, floats: Int) {
      let address = UInt(bitPattern: pointer)
      let release: UInt? = kept.withLock { slot in
        guard floats <= Self.capacityFloats else { return address }
        guard let current = slot else { slot = (address, floats); return nil }
        if current.floats >= floats { return address }
        slot = (address, floats)
        return current.address
      }
      if let release, let pointer = UnsafeMutableRawPointer(bitPattern: release) { pointer.deallocate() }
    }

    deinit {
      if let buffer = kept.withLock({ $0 }), let pointer = UnsafeMutableRawPointer(bitPattern: buffer.address) {
        pointer.deallocate()
      }
    }
  }

  /// Runs `body` with a workspace for `batch` (from the cache when possible).
  func withWorkspace<R>(_ batch: TokenBatch, _ body: (Workspace) -> R) -> R {
    let (c, f) = (configuration.hiddenSize, configuration.intermediateSize)
    let m = batch.lengths.reduce(0, +), longest = batch.lengths.max() ?? 0
    let inner = blocks.map { $0.heads * $0.headWidth }.max() ?? 0, headWidth = blocks.map(\.headWidth).max() ?? 0
    let slots = Swift.max(1, Swift.min(Parallelism.threads, batch.batchSize * (blocks.map(\.heads).max() ?? 1)))
    let floats = Workspace.floatCount(
      tokens: m, hidden: c, inner: inner, intermediate: f, longest: longest, headWidth: headWidth, slots: slots)
    let (base, capacity) = workspaceCache.take(floats: floats)
    defer { workspaceCache.give(base, floats: capacity) }
    return body(Workspace(
      base: base, tokens: m, hidden: c, inner: inner, intermediate: f, longest: longest, headWidth: headWidth, slots: slots))
  }
}

/// The stages of ``BERTInference``, for per-phase profiles.
public enum BERTInferencePhase: String, CaseIterable, Sendable {
  case embeddings
  case queryKeyValue = "QKV projection"
  case attention = "attention (Q·Kᵀ, softmax, P·V)"
  case attentionOutput = "attention output projection"
  case intermediate = "FFN up"
  case activation = "GELU"
  case output = "FFN down"
  case layerNorm = "residual + LayerNorm"
  case pooling
}

/// Process CPU time spent per phase (all threads; on one thread, that thread's time).
public struct BERTInferenceProfile: Sendable {
  public var seconds: [BERTInferencePhase: Double] = [:]
  public var total: Double { seconds.values.reduce(0, +) }

  public init() {}

  /// Adds another profile's times (profiles of several calls).
  public mutating func add(_ other: BERTInferenceProfile) {
    for (phase, s) in other.seconds { seconds[phase, default: 0] += s }
  }
}

/// Charges the process CPU time since the previous lap to a phase.
final class PhaseClock {
  var profile = BERTInferenceProfile()
  private var last = PhaseClock.now()

  static func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
  }

  func lap(_ phase: BERTInferencePhase) {
    let t = Self.now()
    profile.seconds[phase, default: 0] += t - last
    last = t
  }
}
