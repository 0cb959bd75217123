import WinnowCore

/// `Attention` (opset 23+): scaled dot-product attention with grouped key/value heads, a
/// key/value cache, boolean or additive masks, causal and sliding-window masking and a
/// logit soft cap. The mask is assembled as an unrecorded additive bias (0 or −∞); the
/// attention itself is Winnow matmul and softmax, so it is differentiable in Q, K and V.
extension ONNXOperators {
  static let attention: [String: Kernel] = ["Attention": attentionKernel]

  /// `B×S×(H·D)` → `B×H×S×D`.
  static func splitHeads(_ x: Tensor, heads: Int, _ n: ONNXNode) throws(ONNXError) -> Tensor {
    guard x.rank == 3 else { return x }
    guard heads > 0, x.shape[2] % heads == 0 else { throw n.fail("hidden size \(x.shape[2]) is not divisible by \(heads) heads") }
    return x.reshaped([x.shape[0], x.shape[1], heads, x.shape[2] / heads]).permuted([0, 2, 1, 3])
  }

  static func attentionKernel(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let rank = try n.float(0).rank
    guard rank == 3 || rank == 4, try n.float(1).rank == rank, try n.float(2).rank == rank else {
      throw n.fail("Q, K and V must all be 3-D or all 4-D")
    }
    let q = try splitHeads(n.float(0), heads: n.int("q_num_heads", default: 0), n)
    var k = try splitHeads(n.float(1), heads: n.int("kv_num_heads", default: 0), n)
    var v = try splitHeads(n.float(2), heads: n.int("kv_num_heads", default: 0), n)
    let pastLength = n.has(4) ? try n.float(4).shape[2] : 0
    if n.has(4) { k = Tensor.concat([try n.float(4), k], axis: 2) }
    if n.has(5) { v = Tensor.concat([try n.float(5), v], axis: 2) }
    let (presentKey, presentValue) = (k, v)
    let (heads, kvHeads) = (q.shape[1], k.shape[1])
    guard kvHeads > 0, heads % kvHeads == 0 else { throw n.fail("\(heads) query heads do not share \(kvHeads) key/value heads evenly") }
    if heads != kvHeads {
      let repeats = heads / kvHeads
      let repeatHeads = { (t: Tensor) in
        t.unsqueezed(axis: 2).expanded(to: [t.shape[0], kvHeads, repeats, t.shape[2], t.shape[3]])
          .reshaped([t.shape[0], heads, t.shape[2], t.shape[3]])
      }
      (k, v) = (repeatHeads(k), repeatHeads(v))
    }
    let (queries, keys) = (q.shape[2], k.shape[2])
    let bias = try attentionBias(n, batch: q.shape[0], queries: queries, keys: keys, pastLength: pastLength)
    let scale = n.attribute("scale").map { $0.f } ?? 1 / Float(q.shape[3]).squareRoot()
    var scores = try matmul(q, k.transposed(), n) * scale
    let softcap = n.float("softcap", default: 0)
    if softcap > 0 { scores = (scores * (1 / softcap)).tanh() * softcap }
    let withBias = scores + bias.safe
    var probabilities = withBias.softmax(axis: -1)
    if let keep = bias.rowKept { probabilities = probabilities * keep }
    var y = try matmul(probabilities, v, n)
    if rank == 3 { y = y.permuted([0, 2, 1, 3]).reshaped([y.shape[0], y.shape[2], y.shape[1] * y.shape[3]]) }
    let mode = n.int("qk_matmul_output_mode", default: 0)
    let qkOutput = mode == 3 ? probabilities : mode == 2 ? scores + bias.full : scores
    return [.float(y), .float(presentKey), .float(presentValue), .float(qkOutput)]
  }

  /// The additive bias (0 or −∞): the mask padded to the key length, causal and window
  /// limits aligned to the bottom right (offset = cached length or `nonpad − S`), padding.
  /// `safe` has fully masked rows set to 0 and `rowKept` zeroes them after the softmax.
  static func attentionBias(_ n: ONNXNode, batch: Int, queries: Int, keys: Int, pastLength: Int) throws(ONNXError)
    -> (full: Tensor, safe: Tensor, rowKept: Tensor?) {
    var bias = Tensor.zeros([queries, keys])
    if n.has(3) {
      var mask: Tensor
      switch try n.value(3) {
      case .float(let t), .floating(let t, _): mask = t.detached
      case .integer(let b): mask = Tensor(shape: b.shape, scalars: b.values.map { $0 != 0 ? 0 : -.infinity })
      }
      guard let last = mask.shape.last, last <= keys else { throw n.fail("attn_mask \(mask.shape) is longer than the \(keys) keys") }
      if last < keys { mask = padded(mask, begin: [0], end: [keys - last], value: -.infinity) }
      _ = try n.broadcast(bias.shape, mask.shape)
      bias = bias + mask
    }
    let nonpad: [Int]? = n.has(6) ? try n.intList(6) : nil
    let offsets: [Int] = nonpad.map { $0.map { $0 - queries } } ?? [pastLength]
    let (left, right) = (n.int("left_window_size", default: -1), n.int("right_window_size", default: -1))
    let causal = n.int("is_causal", default: 0) != 0
    if causal || left >= 0 || right >= 0 {
      let limits = Tensor(shape: [offsets.count, 1, queries, keys], scalars: offsets.flatMap { offset in
        (0..<(queries * keys)).map { index -> Float in
          let difference = index / keys + offset - index % keys
          let allowed = (!causal || difference >= 0) && (left < 0 || difference <= left) && (right < 0 || -difference <= right)
          return allowed ? 0 : -.infinity
        }
      })
      let limit = offsets.count == 1 ? limits.reshaped([queries, keys]) : limits
      _ = try n.broadcast(bias.shape, limit.shape)
      bias = bias + limit
    }
    if let nonpad {
      guard nonpad.count == batch else { throw n.fail("nonpad_kv_seqlen has \(nonpad.count) entries for batch \(batch)") }
      let padding = Tensor(shape: [batch, 1, 1, keys], scalars: nonpad.flatMap { length in (0..<keys).map { $0 < length ? 0 : -.infinity } })
      _ = try n.broadcast(bias.shape, padding.shape)
      bias = bias + padding
    }
    let rows = bias.scalars.count / Swift.max(keys, 1)
    let masked = (0..<rows).map { r in (0..<keys).allSatisfy { bias.scalars[r * keys + $0] == -.infinity } }
    guard masked.contains(true) else { return (bias, bias, nil) }
    var rowShape = bias.shape
    rowShape[rowShape.count - 1] = 1
    let safe = Tensor(shape: bias.shape, scalars: bias.scalars.enumerated().map { masked[$0.offset / keys] ? 0 : $0.element })
    return (bias, safe, Tensor(shape: rowShape, scalars: masked.map { $0 ? 0 : 1 }))
  }
}
