import WinnowKernels

extension BERTInference {
  /// Scaled dot-product attention of each sequence's rows, head by head, in parallel.
  ///
  /// Reads `workspace.queryKeyValue` (rows `[q (C') | k (C') | v (C')]`) and writes
  /// `workspace.context` (rows `C'`, heads side by side). Per (sequence s of n tokens, head h):
  ///
  ///     S = Q·Kᵀ (n×n),  P = softmax(S/√d),  O = P·V (n×d)
  ///
  /// The (sequence, head) jobs are cut into at most `workspace.attentionSlots` contiguous
  /// chunks, each with its own slot of the workspace for scores and the packed operand.
  func attention(_ workspace: Workspace, _ lengths: [Int], heads: Int, width: Int) {
    let inner = heads * width, stride = 3 * inner
    var offsets = [0]
    for length in lengths { offsets.append(offsets.last! + length) }
    let scale = 1 / Float(width).squareRoot()
    let packedPath = PanelPackedWeights.isAvailable
    let (qkv, context) = (workspace.queryKeyValue, workspace.context)
    let jobs = lengths.count * heads, chunks = Swift.min(workspace.attentionSlots, jobs)
    parallelFor(chunks) { chunkRange in
      for chunk in chunkRange {
        let scores = workspace.attention + chunk * workspace.attentionSlot
        let longest = lengths.max() ?? 0
        let packed = scores + Swift.max(longest * longest, 1)
        for job in (jobs * chunk / chunks)..<(jobs * (chunk + 1) / chunks) {
          let (s, h) = job.quotientAndRemainder(dividingBy: heads)
          let n = lengths[s]
          guard n > 0 else { continue }
          let q = qkv + offsets[s] * stride + h * width
          let out = context + offsets[s] * inner + h * width
          if packedPath {
            PanelGEMM.pack(q + inner, n: n, k: width, ldw: stride, into: packed)
            PanelGEMM.multiply(q, m: n, k: width, lda: stride, packed: packed, n: n, into: scores, ldy: n)
            RowKernels.softmax(scores, rows: n, length: n, stride: n, scale: scale)
            PanelGEMM.packTransposed(q + 2 * inner, k: n, n: width, ldv: stride, into: packed)
            PanelGEMM.multiply(scores, m: n, k: n, lda: n, packed: packed, n: width, into: out, ldy: inner)
          } else {
            sgemm(transposeA: false, transposeB: true, m: n, n: n, k: width, alpha: 1, a: q, lda: stride,
                  b: q + inner, ldb: stride, beta: 0, c: scores, ldc: n)
            RowKernels.softmax(scores, rows: n, length: n, stride: n, scale: scale)
            sgemm(transposeA: false, transposeB: false, m: n, n: width, k: n, alpha: 1, a: scores, lda: n,
                  b: q + 2 * inner, ldb: stride, beta: 0, c: out, ldc: inner)
          }
        }
      }
    }
  }
}
