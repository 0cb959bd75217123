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
    let inner = heads * width, stride = 3 * inner
    var offsets = [0]
    for length in lengths { offsets.append(offsets.last! + length) }
    let scale = 1 / Float(width).squareRoot()
    let precision = attentionPrecision.effective
    let packedPath = PanelPackedWeights.isAvailable
    let (qkv, context) = (workspace.queryKeyValue, workspace.context)
    let jobs = lengths.count * heads, chunks = Swift.min(workspace.attentionSlots, jobs)
    parallelFor(chunks) { chunkRange in
      for chunk in chunkRange {
        let slot = workspace.attention + chunk * workspace.attentionSlot
        for job in (jobs * chunk / chunks)..<(jobs * (chunk + 1) / chunks) {
          let (s, h) = job.quotientAndRemainder(dividingBy: heads)
          let n = lengths[s]
          guard n > 0 else { continue }
          let q = qkv + offsets[s] * stride + h * width
          let out = context + offsets[s] * inner + h * width
          if precision == .bfloat16 {
            AttentionKernels.bfloat16(
              q: q, k: q + inner, v: q + 2 * inner, stride: stride, n: n, d: width, scale: scale, into: out,
              outStride: inner, workspace: slot)
          } else if packedPath {
            Self.attentionPanelPacked(q, n: n, width: width, inner: inner, scale: scale, slot: slot, into: out)
          } else {
            Self.attentionBLAS(q, n: n, width: width, inner: inner, scale: scale, scores: slot, into: out)
          }
        }
      }
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
