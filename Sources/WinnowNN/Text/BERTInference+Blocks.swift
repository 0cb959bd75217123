import WinnowKernels

/// Running an encoder block in pieces of ~``BERTInference/blockRows`` tokens, so that each
/// piece's intermediate results stay in L2.
///
/// Why: over all `M` tokens of a 32×128 MiniLM batch, Q|K|V is 19 MB and the FFN activations
/// are 25 MB. Written by one GEMM and read by the next step, they went to memory and back;
/// attention then read each sequence's Q, K and V rows (4.6 KB apart) from memory too. A
/// piece of ~96 tokens keeps them in L2 (96×1536 floats = 576 KiB).
///
/// Two shapes of piece:
/// - **sequence groups** (``runGrouped``): consecutive whole sequences, run through the whole
///   block (QKV, attention, output projection, LayerNorm, FFN, LayerNorm) by one thread, the
///   groups split over threads. Used when there are at least two groups and at least one per
///   thread, since attention needs whole sequences.
/// - **token blocks of the FFN** (``feedForward``): otherwise (one long sequence, or fewer
///   groups than threads), the attention half runs over all tokens with its work split inside
///   each step, and only the FFN is cut into blocks of tokens split over threads.
///
/// Every piece writes the rows of the workspace buffers that belong to its own tokens, so
/// pieces never share memory, and a token's result does not depend on the cut.
extension BERTInference {
  /// Target tokens per piece.
  static let blockRows = 96

  /// Consecutive whole sequences of at least ``blockRows`` tokens each (the last group may
  /// have fewer).
  static func sequenceGroups(_ lengths: [Int]) -> [Range<Int>] {
    var groups: [Range<Int>] = []
    var (start, tokens) = (0, 0)
    for (s, n) in lengths.enumerated() {
      tokens += n
      if tokens >= blockRows {
        groups.append(start..<(s + 1))
        (start, tokens) = (s + 1, 0)
      }
    }
    if start < lengths.count { groups.append(start..<lengths.count) }
    return groups
  }

  /// The block over `groups` of sequences, contiguous runs of groups per thread (`threads`
  /// runs at most; attention slot `i` for run `i`).
  func runGrouped(
    _ block: Block, _ lengths: [Int], _ groups: [Range<Int>], _ workspace: Workspace, threads: Int, clock: PhaseClock?
  ) {
    let offsets = Self.rowOffsets(lengths)
    let runs = Swift.min(threads, groups.count, workspace.attentionSlots)
    func run(_ index: Int) {
      for g in (groups.count * index / runs)..<(groups.count * (index + 1) / runs) {
        runGroup(block, lengths, offsets, groups[g], workspace, slot: index, clock: clock)
      }
    }
    if runs <= 1 {
      run(0)
    } else {
      parallelFor(runs) { indices in for index in indices { run(index) } }
    }
  }

  /// The whole block for the tokens of `sequences`, on the calling thread.
  func runGroup(
    _ block: Block, _ lengths: [Int], _ offsets: [Int], _ sequences: Range<Int>, _ workspace: Workspace, slot: Int,
    clock: PhaseClock?
  ) {
    let (c, f, inner) = (configuration.hiddenSize, configuration.intermediateSize, block.heads * block.headWidth)
    let r0 = offsets[sequences.lowerBound], rows = offsets[sequences.upperBound] - r0
    guard rows > 0 else { return }
    let (x, a) = (workspace.hidden + r0 * c, workspace.scratch + r0 * c)
    block.queryKeyValueBias.withUnsafeBufferPointer {
      block.queryKeyValue.multiply(
        x, m: rows, bias: $0.baseAddress, activation: .none, into: workspace.queryKeyValue + r0 * 3 * inner)
    }
    clock?.lap(.queryKeyValue)
    for s in sequences {
      for h in 0..<block.heads {
        attend(workspace, sequence: s, head: h, lengths, offsets, heads: block.heads, width: block.headWidth, slot: slot)
      }
    }
    clock?.lap(.attention)
    block.attentionOutputBias.withUnsafeBufferPointer {
      block.attentionOutput.multiply(
        workspace.context + r0 * inner, m: rows, bias: $0.baseAddress, activation: .none, into: a)
    }
    clock?.lap(.attentionOutput)
    layerNorm(a, residual: x, block.attentionNorm, rows: rows)
    clock?.lap(.layerNorm)
    feedForwardRows(block, from: r0, rows: rows, buffer: workspace.intermediate + r0 * f, workspace, observe: nil, clock: clock)
  }

  /// How `rows` tokens are cut into FFN blocks: the count (a multiple of the thread count, so
  /// the blocks split evenly) and the rows per block (the last block may be shorter).
  func feedForwardBlocks(rows m: Int, threads: Int) -> (count: Int, rowsPerBlock: Int) {
    guard m > 0 else { return (0, 1) }
    var count = (m + Self.blockRows - 1) / Self.blockRows
    if threads > 1 { count = (count + threads - 1) / threads * threads }
    count = Swift.min(count, m)
    let rowsPerBlock = (m + count - 1) / count
    return ((m + rowsPerBlock - 1) / rowsPerBlock, rowsPerBlock)
  }

  /// `X = LayerNorm(A + gelu(A·W1ᵀ + b1)·W2ᵀ + b2)` for all `m` tokens (`A` in
  /// `workspace.scratch`, `X` into `workspace.hidden`), in FFN blocks split over threads in
  /// contiguous runs; each run keeps its activations in the rows of `workspace.intermediate`
  /// of its first block's tokens. With an observer (calibration), one block of all `m` tokens,
  /// so the observer sees the whole `M×F` input of the down projection; with a phase clock
  /// (profiles are for one thread), the blocks run in turn.
  func feedForward(
    _ block: Block, rows m: Int, _ workspace: Workspace, observe: ((String, UnsafePointer<Float>, Int) -> Void)?,
    clock: PhaseClock?
  ) {
    let f = configuration.intermediateSize
    let threads = clock == nil ? Parallelism.threads : 1
    let (count, rowsPerBlock) =
      observe == nil ? feedForwardBlocks(rows: m, threads: threads) : (m > 0 ? 1 : 0, Swift.max(m, 1))
    let runs = Swift.min(threads, count)
    func run(_ index: Int) {
      let first = count * index / runs, end = count * (index + 1) / runs
      let buffer = workspace.intermediate + first * rowsPerBlock * f
      for b in first..<end {
        let r0 = b * rowsPerBlock
        feedForwardRows(
          block, from: r0, rows: Swift.min(rowsPerBlock, m - r0), buffer: buffer, workspace, observe: observe, clock: clock)
      }
    }
    if runs <= 1 {
      if count > 0 { run(0) }
    } else {
      parallelFor(runs) { indices in for index in indices { run(index) } }
    }
  }

  /// The FFN and its LayerNorm for tokens `r0 ..< r0 + rows`, activations in `buffer` (`rows×F`).
  func feedForwardRows(
    _ block: Block, from r0: Int, rows: Int, buffer: UnsafeMutablePointer<Float>, _ workspace: Workspace,
    observe: ((String, UnsafePointer<Float>, Int) -> Void)?, clock: PhaseClock?
  ) {
    let (c, f) = (configuration.hiddenSize, configuration.intermediateSize)
    let (x, a) = (workspace.hidden + r0 * c, workspace.scratch + r0 * c)
    block.intermediateBias.withUnsafeBufferPointer {
      block.intermediate.multiply(a, m: rows, bias: $0.baseAddress, activation: .none, into: buffer)
    }
    clock?.lap(.intermediate)
    activate(buffer, rows: rows, width: f)
    clock?.lap(.activation)
    observe?("output.dense", buffer, f)
    block.outputBias.withUnsafeBufferPointer {
      block.output.multiply(buffer, m: rows, bias: $0.baseAddress, activation: .none, into: x)
    }
    clock?.lap(.output)
    layerNorm(x, residual: a, block.outputNorm, rows: rows)
    clock?.lap(.layerNorm)
  }
}
