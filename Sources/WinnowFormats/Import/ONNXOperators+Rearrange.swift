import WinnowCore

/// DepthToSpace and SpaceToDepth: reshape, permute, reshape (data movement, so they run on
/// float tensors — recorded — and on integers through their positions); CenterCropPad.
///
/// DepthToSpace with block b moves channel blocks into b×b spatial tiles: `N×C×H×W` becomes
/// `N×(C/b²)×(H·b)×(W·b)`, the channel read as (b, b, C/b²) in `DCR` mode (the default) or
/// (C/b², b, b) in `CRD` mode. SpaceToDepth is the inverse, in the same two modes.
extension ONNXOperators {
  static let rearrange: [String: Kernel] = ["DepthToSpace": depthToSpace, "SpaceToDepth": spaceToDepth, "CenterCropPad": centerCropPad]

  static func blockSize(_ n: ONNXNode, shape: [Int]) throws(ONNXError) -> Int {
    let b = n.int("blocksize", default: 0)
    guard shape.count == 4, b >= 1 else { throw n.fail("needs N×C×H×W input and blocksize ≥ 1, got \(shape) and \(b)") }
    return b
  }

  static func depthToSpace(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let shape = try n.value(0).shape
    let b = try blockSize(n, shape: shape)
    let (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
    guard channels % (b * b) == 0 else { throw n.fail("channels \(channels) are not a multiple of blocksize² \(b * b)") }
    let depth = channels / (b * b)
    let mode = n.string("mode", default: "DCR")
    guard mode == "DCR" || mode == "CRD" else { throw n.fail("unknown mode '\(mode)'") }
    return [try moving(n, data: [0]) { inputs in
      let t = inputs[0]
      let blocks = mode == "DCR" ? t.reshaped([batch, b, b, depth, height, width]).permuted([0, 3, 4, 1, 5, 2])
        : t.reshaped([batch, depth, b, b, height, width]).permuted([0, 1, 4, 2, 5, 3])
      return blocks.reshaped([batch, depth, height * b, width * b])
    }]
  }

  static func spaceToDepth(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let shape = try n.value(0).shape
    let b = try blockSize(n, shape: shape)
    let (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
    guard height % b == 0, width % b == 0 else { throw n.fail("spatial size \(height)×\(width) is not a multiple of blocksize \(b)") }
    let mode = n.string("mode", default: "DCR")
    guard mode == "DCR" || mode == "CRD" else { throw n.fail("unknown mode '\(mode)'") }
    // DCR: output channel (bh·b + bw)·C + c; CRD: c·b² + bh·b + bw.
    let order = mode == "DCR" ? [0, 3, 5, 1, 2, 4] : [0, 1, 3, 5, 2, 4]
    return [try moving(n, data: [0]) { inputs in
      inputs[0].reshaped([batch, channels, height / b, b, width / b, b]).permuted(order)
        .reshaped([batch, channels * b * b, height / b, width / b])
    }]
  }

  /// Crops or zero-pads each of `axes` (default all) to `shape`, centred: an odd difference
  /// leaves the extra element at the end (`⌊d/2⌋` cropped or padded at the start).
  static func centerCropPad(_ n: ONNXNode) throws(ONNXError) -> [ONNXValue] {
    let dims = try n.value(0).shape
    let target = try n.intList(1)
    var axes: [Int] = []
    for a in n.ints("axes") ?? Array(0..<dims.count) { axes.append(try n.axis(a, rank: dims.count)) }
    guard target.count == axes.count, target.allSatisfy({ $0 >= 0 }) else { throw n.fail("shape \(target) does not fit axes \(axes) of \(dims)") }
    var begin = [Int](repeating: 0, count: dims.count), end = begin
    for (axis, size) in zip(axes, target) {
      let difference = size - dims[axis]  // > 0 pads, < 0 crops (negative padding)
      begin[axis] = difference >= 0 ? difference / 2 : -((-difference) / 2)
      end[axis] = difference - begin[axis]
    }
    if case .integer(let x) = try n.value(0) {
      // Integers: crop/pad the positions shifted by one, so the padding (0) reads a zero.
      let positions = Tensor(shape: dims, scalars: (0..<x.count).map { Float($0 + 1) })
      let moved = paddedOrCropped(positions, begin: begin, end: end)
      return [.integer(ONNXIntegers(shape: moved.shape, values: moved.scalars.map { $0 == 0 ? 0 : x.values[Int($0) - 1] }, dataType: x.dataType))]
    }
    return [.float(paddedOrCropped(try n.float(0), begin: begin, end: end))]
  }
}
