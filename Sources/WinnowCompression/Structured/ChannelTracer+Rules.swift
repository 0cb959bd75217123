import WinnowCore

// How each primitive couples the channel positions of its inputs and result. Every case of
// `Op` is listed: a new op must decide its rule (pinning everything is always safe).
extension ChannelTracer {
  mutating func couple(op: Op, inputs: [Tensor], result y: Tensor) {
    let tracked = inputs.filter { $0.graphNode != nil }
    switch op {
    case .unary, .power, .clamp:
      identity(inputs[0], y)
    case .binary:
      for x in tracked { broadcastCouple(x, y) }
    case .expand:
      if inputs[0].graphNode != nil { broadcastCouple(inputs[0], y) }
    case .sum(let axes):
      for a in y.shape.indices {
        if axes.contains(a) { pin(inputs[0], a); pin(y, a) } else { couple(inputs[0], a, y, a) }
      }
    case .max(let axis):
      for a in y.shape.indices {
        if a == axis { pin(inputs[0], a); pin(y, a) } else { couple(inputs[0], a, y, a) }
      }
    case .matmul(let tA, let tB):
      matmulCouple(inputs[0], inputs[1], y, tA, tB)
    case .reshape:
      reshapeCouple(inputs[0], y)
    case .permute(let p):
      for (i, axis) in p.enumerated() { couple(inputs[0], axis, y, i) }
    case .slice(let axis, _):
      for a in y.shape.indices where a != axis { couple(inputs[0], a, y, a) }
      pin(inputs[0], axis)
      pin(y, axis)
    case .concat(let axis):
      var offset = 0
      for x in inputs {
        if x.graphNode != nil {
          for a in y.shape.indices where a != axis { couple(x, a, y, a) }
          for i in 0..<x.shape[axis] { sets.union(element(x, axis, i), element(y, axis, offset + i)) }
        }
        offset += x.shape[axis]
      }
    case .gather:
      for x in tracked { pinAll(x) }
      pinAll(y)
    case .conv2d(_, _, _, let groups):
      convCouple(inputs[0], inputs[1], y, groups: groups)
    case .maxPool2d, .avgPool2d:
      for a in 0..<(y.rank - 2) { couple(inputs[0], a, y, a) }
      for a in (y.rank - 2)..<y.rank { pin(inputs[0], a); pin(y, a) }
    case .softmax(let axis), .logSoftmax(let axis):
      for a in y.shape.indices where a != axis { couple(inputs[0], a, y, a) }
      pin(inputs[0], axis)
      pin(y, axis)
    case .batchNorm:
      // Per channel: channel c of x, γ[c], β[c] and channel c of y are removed together.
      identity(inputs[0], y)
      for parameter in inputs[1...] where parameter.graphNode != nil { couple(parameter, 0, y, 1) }
    }
  }

  private mutating func identity(_ x: Tensor, _ y: Tensor) {
    guard x.graphNode != nil else { return }
    for a in y.shape.indices { couple(x, a, y, a) }
  }

  /// Equal, non-broadcast axes (aligned from the right) are coupled index by index.
  private mutating func broadcastCouple(_ x: Tensor, _ y: Tensor) {
    let pad = y.rank - x.rank
    for a in x.shape.indices where x.shape[a] == y.shape[a + pad] { couple(x, a, y, a + pad) }
  }

  private mutating func matmulCouple(_ a: Tensor, _ b: Tensor, _ y: Tensor, _ tA: Bool, _ tB: Bool) {
    let r = y.rank
    let (aM, aK) = tA ? (r - 1, r - 2) : (r - 2, r - 1)
    let (bK, bN) = tB ? (r - 1, r - 2) : (r - 2, r - 1)
    if a.graphNode != nil {
      for i in 0..<(r - 2) { couple(a, i, y, i) }
      couple(a, aM, y, r - 2)
    }
    if b.graphNode != nil {
      for i in 0..<(r - 2) { couple(b, i, y, i) }
      couple(b, bN, y, r - 1)
    }
    if a.graphNode != nil && b.graphNode != nil { couple(a, aK, b, bK) }
    // A constant operand fixes its contraction axis: the other side's K cannot shrink alone.
    if a.graphNode != nil && b.graphNode == nil { pin(a, aK) }
    if b.graphNode != nil && a.graphNode == nil { pin(b, bK) }
  }

  private mutating func convCouple(_ x: Tensor, _ w: Tensor, _ y: Tensor, groups: Int) {
    if x.graphNode != nil { couple(x, 0, y, 0) }
    for t in [x, w, y] where t.graphNode != nil { pin(t, 2); pin(t, 3) }
    let channels = x.shape[1]
    let depthwise = groups > 1 && groups == channels && w.shape[1] == 1 && w.shape[0] == channels
    if groups == 1 {
      if x.graphNode != nil && w.graphNode != nil { couple(x, 1, w, 1) } else {
        if x.graphNode != nil { pin(x, 1) }
        if w.graphNode != nil { pin(w, 1) }
      }
      if w.graphNode != nil { couple(w, 0, y, 1) } else { pin(y, 1) }
    } else if depthwise {
      if x.graphNode != nil { couple(x, 1, y, 1) }
      if w.graphNode != nil { couple(w, 0, y, 1); pin(w, 1) }
    } else {
      for (t, a) in [(x, 1), (w, 0), (w, 1), (y, 1)] where t.graphNode != nil { pin(t, a) }
    }
  }

  /// Matches runs of axes whose sizes multiply to the same extent. One-to-one runs couple
  /// directly; a merge maps each index of the leading input axis to a block of the output
  /// axis (flatten); a split does the reverse; anything else is pinned.
  private mutating func reshapeCouple(_ x: Tensor, _ y: Tensor) {
    guard x.graphNode != nil else { return }
    for a in x.shape.indices where x.shape[a] == 1 { pin(x, a) }
    for a in y.shape.indices where y.shape[a] == 1 { pin(y, a) }
    let xs = x.shape.indices.filter { x.shape[$0] != 1 }
    let ys = y.shape.indices.filter { y.shape[$0] != 1 }
    var i = 0, j = 0
    while i < xs.count && j < ys.count {
      var (pi, pj) = (x.shape[xs[i]], y.shape[ys[j]])
      var (ei, ej) = (i + 1, j + 1)
      while pi != pj {
        if pi < pj, ei < xs.count { pi *= x.shape[xs[ei]]; ei += 1 }
        else if pj < pi, ej < ys.count { pj *= y.shape[ys[ej]]; ej += 1 }
        else { break }
      }
      let inAxes = Array(xs[i..<ei]), outAxes = Array(ys[j..<ej])
      if pi != pj {
        for a in xs[i...] { pin(x, a) }
        for a in ys[j...] { pin(y, a) }
        return
      }
      if inAxes.count == 1 && outAxes.count == 1 {
        couple(x, inAxes[0], y, outAxes[0])
      } else if outAxes.count == 1 {
        blockCouple(lead: x, leadAxis: inAxes[0], block: y, blockAxis: outAxes[0])
        for a in inAxes.dropFirst() { pin(x, a) }
      } else if inAxes.count == 1 {
        blockCouple(lead: y, leadAxis: outAxes[0], block: x, blockAxis: inAxes[0])
        for a in outAxes.dropFirst() { pin(y, a) }
      } else {
        for a in inAxes { pin(x, a) }
        for a in outAxes { pin(y, a) }
      }
      (i, j) = (ei, ej)
    }
  }

  /// Index `k` of `lead`'s axis ↔ indices `k·w ..< (k+1)·w` of `block`'s axis.
  private mutating func blockCouple(lead: Tensor, leadAxis: Int, block: Tensor, blockAxis: Int) {
    let n = lead.shape[leadAxis]
    let width = block.shape[blockAxis] / n
    for k in 0..<n {
      for j in 0..<width { sets.union(element(lead, leadAxis, k), element(block, blockAxis, k * width + j)) }
    }
  }

  /// The unpinned sets that contain at least one parameter slice.
  mutating func groups(parameterNames: [String]) -> [DependencyGraph.ChannelGroup] {
    var byRoot: [Int: [DependencyGraph.Member]] = [:]
    var rootOrder: [Int] = []
    for (key, name) in parameterNames.enumerated() {
      guard let id = leafNodes[key], let entry = offsets[id] else { continue }
      for (axis, size) in entry.shape.enumerated() {
        for index in 0..<size {
          let root = sets.find(entry.axisStart[axis] + index)
          if sets.isPinned(root) { continue }
          if byRoot[root] == nil { rootOrder.append(root) }
          byRoot[root, default: []].append(.init(parameter: name, axis: axis, index: index))
        }
      }
    }
    return rootOrder.enumerated().map { id, root in
      let members = byRoot[root]!
      let family = Set(members.map { DependencyGraph.ParameterAxis(parameter: $0.parameter, axis: $0.axis) }).sorted()
      return DependencyGraph.ChannelGroup(id: id, members: members, family: family)
    }
  }
}
