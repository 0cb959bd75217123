import WinnowKernels

extension BERTInference {
  /// Tokens per feed-forward block (before balancing, see ``feedForwardBlocks(rows:)``).
  ///
  /// Why blocks: the FFN's `M×F` activations are 4× wider than the hidden states. Run over all
  /// `M` tokens at once (25 MB at 32×128 tokens for MiniLM), they go to memory after the up
  /// projection, come back for GELU, go out again, and come back for the down projection.
  /// A block of ~96 tokens (96×1536 floats = 576 KiB) stays in L2 from the up projection to
  /// the down projection.
  static let feedForwardRows = 96

  /// How `rows` tokens are cut into feed-forward blocks: the count (a multiple of the thread
  /// count, so the blocks split evenly) and the rows per block (the last block may be shorter).
  func feedForwardBlocks(rows m: Int, threads: Int) -> (count: Int, rowsPerBlock: Int) {
    guard m > 0 else { return (0, 1) }
    var count = (m + Self.feedForwardRows - 1) / Self.feedForwardRows
    if threads > 1 { count = (count + threads - 1) / threads * threads }
    count = Swift.min(count, m)
    let rowsPerBlock = (m + count - 1) / count
    return ((m + rowsPerBlock - 1) / rowsPerBlock, rowsPerBlock)
  }

  /// `X = LayerNorm(A + gelu(A·W1ᵀ + b1)·W2ᵀ + b2)` for the `m` tokens of `workspace.scratch`
  /// (`A`) into `workspace.hidden` (`X`), block by block of tokens (``feedForwardRows``).
  ///
  /// Blocks are split over threads in contiguous runs; each run keeps its activations in the
  /// rows of `workspace.intermediate` that belong to its first block's tokens, so runs never
  /// share memory. The GEMMs inside a run are then single-threaded (nested `parallelFor`
  /// runs inline). With an observer (calibration), one block of all `m` tokens, so the
  /// observer sees the whole `M×F` input of the down projection at once; with a phase clock
  /// (profiles are for one thread), the blocks run in turn.
  func feedForward(
    _ block: Block, rows m: Int, _ workspace: Workspace, observe: ((String, UnsafePointer<Float>, Int) -> Void)?,
    clock: PhaseClock?
  ) {
    let (c, f) = (configuration.hiddenSize, configuration.intermediateSize)
    let threads = clock == nil ? Parallelism.threads : 1
    let (count, rowsPerBlock) = observe == nil ? feedForwardBlocks(rows: m, threads: threads) : (m > 0 ? 1 : 0, Swift.max(m, 1))
    let (x, a) = (workspace.hidden, workspace.scratch)
    let runs = Swift.min(threads, count)
    func run(_ index: Int) {
      let first = count * index / runs, end = count * (index + 1) / runs
      let buffer = workspace.intermediate + first * rowsPerBlock * f
      for b in first..<end {
        let r0 = b * rowsPerBlock, rows = Swift.min(rowsPerBlock, m - r0)
        block.intermediateBias.withUnsafeBufferPointer {
          block.intermediate.multiply(a + r0 * c, m: rows, bias: $0.baseAddress, activation: .none, into: buffer)
        }
        clock?.lap(.intermediate)
        activate(buffer, rows: rows, width: f)
        clock?.lap(.activation)
        observe?("output.dense", buffer, f)
        block.outputBias.withUnsafeBufferPointer {
          block.output.multiply(buffer, m: rows, bias: $0.baseAddress, activation: .none, into: x + r0 * c)
        }
        clock?.lap(.output)
        layerNorm(x + r0 * c, residual: a + r0 * c, block.outputNorm, rows: rows)
        clock?.lap(.layerNorm)
      }
    }
    if runs <= 1 {
      if count > 0 { run(0) }
    } else {
      parallelFor(runs) { indices in for index in indices { run(index) } }
    }
  }
}
