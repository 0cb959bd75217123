import WinnowKernels

/// How ``BERTInference`` computes attention's products `Q·Kᵀ` and `P·V` (softmax stays float32).
public enum AttentionPrecision: String, Sendable, Hashable, CaseIterable {
  /// Float32 operands and sums (the panel-packed AVX-512 GEMM, else BLAS).
  case float32
  /// bfloat16 operands, float32 sums and softmax (``AttentionKernels``, AVX512-BF16
  /// `vdpbf16ps`: twice the multiply–adds per instruction of fp32). Where the CPU lacks
  /// AVX512-BF16 this falls back to ``float32`` (the portable bf16 code would be slower).
  case bfloat16

  /// The precision that actually runs on this CPU.
  var effective: AttentionPrecision {
    self == .bfloat16 && !AttentionKernels.hasNativeBFloat16 ? .float32 : self
  }
}

extension BERTInference {
  /// Scaled dot-product attention of each sequence's rows, head by head, in parallel.
  ///
  /// Reads `workspace.queryKeyValue` (rows `[q (C') | k (C') | v (C')]`) and writes
  /// `workspace.context` (rows `C'`, heads side by side). Per (sequence s of n tokens, head h):
  ///
  ///     S = Q·Kᵀ (n×n),  P = softmax(S/√d),  O = P·V (n×d)
  ///
  /// The (sequence, head) jobs are cut into at most `workspace.attentionSlots` contiguous
  /// chunks, each with its own slot of the workspace for scores and the packed operands.
  func attention(_ workspace: Workspace, _ lengths: [Int], heads: Int, width: Int) {
    let offsets = Self.rowOffsets(lengths)
    let jobs = lengths.count * heads, chunks = Swift.min(workspace.attentionSlots, jobs)
    parallelFor(chunks) { chunkRange in
      for chunk in chunkRange {
        for job in (jobs * chunk / chunks)..<(jobs * (chunk + 1) / chunks) {
          let (s, h) = job.quotientAndRemainder(dividingBy: heads)
          attend(workspace, sequence: s, head: h, lengths, offsets, heads: heads, width: width, slot: chunk)
        }
      }
    }
  }

  /// The first row of each sequence in the packed `Σ lengths` rows, and the total at the end.
  static func rowOffsets(_ lengths: [Int]) -> [Int] {
    var offsets = [0]
    for length in lengths { offsets.append(offsets[offsets.count - 1] + length) }
    return offsets
  }

  /// Attention of one (sequence, head), using attention slot `slot` of the workspace.
  func attend(
    _ workspace: Workspace, sequence s: Int, head h: Int, _ lengths: [Int], _ offsets: [Int], heads: Int, width: Int,
    slot: Int
  ) {
    let n = lengths[s]
    guard n > 0 else { return }
    let inner = heads * width, stride = 3 * inner
    let scale = 1 / Float(width).squareRoot()
    let buffer = workspace.attention + slot * workspace.attentionSlot
    let q = workspace.queryKeyValue + offsets[s] * stride + h * width
    let out = workspace.context + offsets[s] * inner + h * width
    if attentionPrecision.effective == .bfloat16 {
      AttentionKernels.bfloat16(
        q: q, k: q + inner, v: q + 2 * inner, stride: stride, n: n, d: width, scale: scale, into: out,
        outStride: inner, workspace: buffer)
    } else if PanelPackedWeights.isAvailable {
      Self.attentionPanelPacked(q, n: n, width: width, inner: inner, scale: scale, slot: buffer, into: out)
    } else {
      Self.attentionBLAS(q, n: n, width: width, inner: inner, scale: scale, scores: buffer, into: out)
    }
  }

  /// One (sequence, head) in float32 on the panel-packed GEMM: `slot` holds the `n×n`
  /// scores, then the packed `K` or `Vᵀ`.
  static func attentionPanelPacked(
    _ q: UnsafeMutablePointer<Float>, n: Int, width: Int, inner: Int, scale: Float, slot: UnsafeMutablePointer<Float>,
    into out: UnsafeMutablePointer<Float>
  ) {
    let stride = 3 * inner, scores = slot, packed = slot + n * n
    PanelGEMM.pack(q + inner, n: n, k: width, ldw: stride, into: packed)
    PanelGEMM.multiply(q, m: n, k: width, lda: stride, packed: packed, n: n, into: scores, ldy: n)
    RowKernels.softmax(scores, rows: n, length: n, stride: n, scale: scale)
    PanelGEMM.packTransposed(q + 2 * inner, k: n, n: width, ldv: stride, into: packed)
    PanelGEMM.multiply(scores, m: n, k: n, lda: n, packed: packed, n: width, into: out, ldy: inner)
  }

  /// One (sequence, head) in float32 on BLAS.
  static func attentionBLAS(
    _ q: UnsafeMutablePointer<Float>, n: Int, width: Int, inner: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
    into out: UnsafeMutablePointer<Float>
  ) {
    let stride = 3 * inner
    sgemm(transposeA: false, transposeB: true, m: n, n: n, k: width, alpha: 1, a: q, lda: stride,
          b: q + inner, ldb: stride, beta: 0, c: scores, ldc: n)
    RowKernels.softmax(scores, rows: n, length: n, stride: n, scale: scale)
    sgemm(transposeA: false, transposeB: false, m: n, n: width, k: n, alpha: 1, a: scores, lda: n,
          b: q + 2 * inner, ldb: stride, beta: 0, c: out, ldc: inner)
  }
}
