/// Shape and hyper-parameters of a 2-D convolution over `N×C×H×W` input with
/// `O×(C/groups)×kH×kW` weights (PyTorch layout).
///
///     Ho = (H + 2·padH − dilationH·(kH − 1) − 1) / strideH + 1      (likewise Wo)
public struct Conv2DGeometry: Hashable, Sendable {
  public var batch: Int, inChannels: Int, height: Int, width: Int
  public var outChannels: Int, kernelHeight: Int, kernelWidth: Int
  public var strideHeight: Int, strideWidth: Int
  public var paddingHeight: Int, paddingWidth: Int
  public var dilationHeight: Int, dilationWidth: Int
  public var groups: Int

  public init(
    batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
    kernelHeight: Int, kernelWidth: Int, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), groups: Int = 1
  ) {
    self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
    self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
    self.strideHeight = stride.0; self.strideWidth = stride.1
    self.paddingHeight = padding.0; self.paddingWidth = padding.1
    self.dilationHeight = dilation.0; self.dilationWidth = dilation.1
    self.groups = groups
  }

  public var outHeight: Int {
    (height + 2 * paddingHeight - dilationHeight * (kernelHeight - 1) - 1) / strideHeight + 1
  }
  public var outWidth: Int {
    (width + 2 * paddingWidth - dilationWidth * (kernelWidth - 1) - 1) / strideWidth + 1
  }
  public var inChannelsPerGroup: Int { inChannels / groups }
  public var outChannelsPerGroup: Int { outChannels / groups }
  /// Rows of the unfolded input for one group: `(C/groups)·kH·kW` (the GEMM's K).
  public var patchSize: Int { inChannelsPerGroup * kernelHeight * kernelWidth }

  /// Why this geometry cannot be computed, or nil when it is valid.
  public var problem: String? {
    if batch < 0 || inChannels <= 0 || height <= 0 || width <= 0 || outChannels <= 0 {
      return "sizes must be positive"
    }
    if kernelHeight <= 0 || kernelWidth <= 0 { return "kernel size must be positive" }
    if strideHeight <= 0 || strideWidth <= 0 { return "stride must be positive" }
    if dilationHeight <= 0 || dilationWidth <= 0 { return "dilation must be positive" }
    if paddingHeight < 0 || paddingWidth < 0 { return "padding must not be negative" }
    if groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0 {
      return "groups (\(groups)) must divide in (\(inChannels)) and out (\(outChannels)) channels"
    }
    // Compare spans rather than test outHeight: its division truncates toward zero, so a
    // kernel a little wider than the padded input would give size 1 for stride > 1.
    if height + 2 * paddingHeight < dilationHeight * (kernelHeight - 1) + 1
      || width + 2 * paddingWidth < dilationWidth * (kernelWidth - 1) + 1
    {
      return "kernel larger than padded input"
    }
    return nil
  }
}

/// Unfolds group `group` of the input into columns: `col[K, N·Ho·Wo]` with
/// `K = (C/groups)·kH·kW`, row `(c·kH + i)·kW + j`, column `(n·Ho + oh)·Wo + ow`; padding reads 0.
public func im2col(
  _ x: UnsafePointer<Float>, _ g: Conv2DGeometry, group: Int, _ col: UnsafeMutablePointer<Float>
) {
  let plane = g.outHeight * g.outWidth
  let columns = g.batch * plane
  parallelFor(g.patchSize, minimumPerChunk: max(1, 8192 / max(columns, 1))) { rows in
    for row in rows {
      let tap = g.tap(row: row, group: group)
      for n in 0..<g.batch { unfoldRow(x, g, image: n, tap: tap, col + row * columns + n * plane) }
    }
  }
}

/// Unfolds one image: `col[K, Ho·Wo]`, the columns of image `image` in the layout of
/// ``im2col(_:_:group:_:)``. Runs on the calling thread (callers parallelise over images).
public func im2col(
  _ x: UnsafePointer<Float>, _ g: Conv2DGeometry, image: Int, group: Int, _ col: UnsafeMutablePointer<Float>
) {
  let plane = g.outHeight * g.outWidth
  forEachTap(g, group: group) { tap, row in unfoldRow(x, g, image: image, tap: tap, col + row * plane) }
}

/// Adjoint of ``im2col(_:_:group:_:)``: adds each column entry back to the input position it
/// was read from (`dx` is accumulated into, not overwritten).
public func col2im(
  _ col: UnsafePointer<Float>, _ g: Conv2DGeometry, group: Int, _ dx: UnsafeMutablePointer<Float>
) {
  let plane = g.outHeight * g.outWidth
  let columns = g.batch * plane
  let kArea = g.kernelHeight * g.kernelWidth
  // Parallel over input channels: rows of one channel write only that channel's planes.
  parallelFor(g.inChannelsPerGroup) { channels in
    for cLocal in channels {
      for row in cLocal * kArea..<(cLocal + 1) * kArea {
        let tap = g.tap(row: row, group: group)
        for n in 0..<g.batch { foldRow(col + row * columns + n * plane, g, image: n, tap: tap, dx) }
      }
    }
  }
}

/// Adjoint of ``im2col(_:_:image:group:_:)``: adds `col[K, Ho·Wo]` back into image `image`
/// of `dx`. Runs on the calling thread.
public func col2im(
  _ col: UnsafePointer<Float>, _ g: Conv2DGeometry, image: Int, group: Int, _ dx: UnsafeMutablePointer<Float>
) {
  let plane = g.outHeight * g.outWidth
  forEachTap(g, group: group) { tap, row in foldRow(col + row * plane, g, image: image, tap: tap, dx) }
}

/// The outputs `o < outCount` whose input `o·stride + offset` lies in `0..<inCount` (the
/// unpadded part of one kernel tap's rows or columns). Hoisting these ranges out of the loops
/// leaves inner loops without bounds tests.
@inline(__always)
func validOutputs(offset: Int, stride: Int, inCount: Int, outCount: Int) -> Range<Int> {
  if stride == 1 {  // no divisions: they would cost more than copying a short row
    let lo = Swift.min(Swift.max(-offset, 0), outCount)
    return lo..<Swift.max(lo, Swift.min(inCount - offset, outCount))
  }
  let lo = offset >= 0 ? 0 : Swift.min((stride - 1 - offset) / stride, outCount)
  let hi = inCount - 1 - offset < 0 ? 0 : Swift.min((inCount - 1 - offset) / stride + 1, outCount)
  return lo..<Swift.max(lo, hi)
}

/// One kernel tap: input channel `c` and kernel position `(i, j)`, which is row
/// `((c − group·C/g)·kH + i)·kW + j` of its group's unfolded matrix.
struct KernelTap {
  var channel: Int, i: Int, j: Int
}

extension Conv2DGeometry {
  @inline(__always)
  func tap(row: Int, group: Int) -> KernelTap {
    let kArea = kernelHeight * kernelWidth
    return KernelTap(channel: row / kArea + group * inChannelsPerGroup, i: (row % kArea) / kernelWidth,
                     j: row % kernelWidth)
  }
}

/// Calls `body(tap, row)` for every row of group `group`'s unfolded matrix, in order, with no
/// divisions (per image they would cost as much as copying LeNet's short rows).
@inline(__always)
func forEachTap(_ g: Conv2DGeometry, group: Int, _ body: (KernelTap, Int) -> Void) {
  var row = 0
  for c in group * g.inChannelsPerGroup..<(group + 1) * g.inChannelsPerGroup {
    for i in 0..<g.kernelHeight {
      for j in 0..<g.kernelWidth {
        body(KernelTap(channel: c, i: i, j: j), row)
        row += 1
      }
    }
  }
}

/// The part of input plane `(n, c)` that kernel tap `(c, i, j)` reads: the valid output rows
/// and columns, and the offset of the input of the first valid output.
@inline(__always)
func tapWindow(
  _ g: Conv2DGeometry, image n: Int, tap: KernelTap
) -> (rows: Range<Int>, columns: Range<Int>, inputOffset: Int) {
  let c = tap.channel, ki = tap.i, kj = tap.j
  let ih0 = ki * g.dilationHeight - g.paddingHeight, iw0 = kj * g.dilationWidth - g.paddingWidth
  let rows = validOutputs(offset: ih0, stride: g.strideHeight, inCount: g.height, outCount: g.outHeight)
  let columns = validOutputs(offset: iw0, stride: g.strideWidth, inCount: g.width, outCount: g.outWidth)
  let offset = ((n * g.inChannels + c) * g.height + rows.lowerBound * g.strideHeight + ih0) * g.width
    + columns.lowerBound * g.strideWidth + iw0
  return (rows, columns, offset)
}

/// Writes the `Ho·Wo` entries of tap `(c, i, j)` of the unfolded image:
/// `out[oh·Wo + ow] = x[n, c, ih, iw]` with `ih = oh·sH − pH + i·dH`, `iw = ow·sW − pW + j·dW`,
/// or 0 in the padding.
@inline(__always)
func unfoldRow(
  _ x: UnsafePointer<Float>, _ g: Conv2DGeometry, image n: Int, tap: KernelTap, _ out: UnsafeMutablePointer<Float>
) {
  let wo = g.outWidth, sw = g.strideWidth
  let (rows, columns, offset) = tapWindow(g, image: n, tap: tap)
  // Output rows that read only padding (guarded: most taps have none, and memset calls add up).
  if rows.lowerBound > 0 { out.update(repeating: 0, count: rows.lowerBound * wo) }
  if rows.upperBound < g.outHeight {
    (out + rows.upperBound * wo).update(repeating: 0, count: (g.outHeight - rows.upperBound) * wo)
  }
  // Pointers advanced per output row, `&*` in the loops: overflow checks stop vectorisation.
  var from = x + offset, to = out + rows.lowerBound * wo
  let count = columns.count, step = g.strideHeight * g.width
  if sw == 1 && count == wo {  // the common case: a plain copy per output row
    for _ in rows {
      copyShortRow(to, from, count)
      from += step
      to += wo
    }
    return
  }
  // Padding columns: with at most 4 on each side (any kernel up to 9 wide), one vector store of
  // zeros at each end before the copy overwrites the middle; scalar loops would become
  // memset calls for a few bytes each.
  let vectorEdges = wo >= 4 && columns.lowerBound <= 4 && wo - columns.upperBound <= 4
  for _ in rows {
    if vectorEdges {
      UnsafeMutableRawPointer(to).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
      UnsafeMutableRawPointer(to + (wo - 4)).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
    } else {
      for i in 0..<columns.lowerBound { to[i] = 0 }
      for i in columns.upperBound..<wo { to[i] = 0 }
    }
    let middle = to + columns.lowerBound
    if sw == 1 {
      copyShortRow(middle, from, count)
    } else {
      for i in 0..<count { middle[i] = from[i &* sw] }
    }
    from += step
    to += wo
  }
}

/// Copies `count` floats with 8- and 4-wide moves, the last one overlapping the one before
/// (as `memcpy` does) instead of a scalar remainder: convolution rows are short (Wo = 10 in
/// LeNet's second layer), so the remainder would cost as much as the rest.
@inline(__always)
func copyShortRow(_ to: UnsafeMutablePointer<Float>, _ from: UnsafePointer<Float>, _ count: Int) {
  let source = UnsafeRawPointer(from), target = UnsafeMutableRawPointer(to)
  if count >= 8 {
    var offset = 0, last = 4 &* (count &- 8)
    while offset < last {
      target.storeBytes(of: source.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self), toByteOffset: offset, as: SIMD8<Float>.self)
      offset &+= 32
    }
    target.storeBytes(of: source.loadUnaligned(fromByteOffset: last, as: SIMD8<Float>.self), toByteOffset: last, as: SIMD8<Float>.self)
  } else if count >= 4 {
    let last = 4 &* (count &- 4)
    let head = source.loadUnaligned(as: SIMD4<Float>.self)
    let tail = source.loadUnaligned(fromByteOffset: last, as: SIMD4<Float>.self)
    target.storeBytes(of: head, as: SIMD4<Float>.self)
    target.storeBytes(of: tail, toByteOffset: last, as: SIMD4<Float>.self)
  } else {
    for i in 0..<count { to[i] = from[i] }
  }
}

/// Adds the `Ho·Wo` entries of tap `(c, i, j)` of an unfolded image back to the inputs they
/// were read from (the transpose of ``unfoldRow``).
@inline(__always)
func foldRow(
  _ colRow: UnsafePointer<Float>, _ g: Conv2DGeometry, image n: Int, tap: KernelTap, _ dx: UnsafeMutablePointer<Float>
) {
  let wo = g.outWidth, sw = g.strideWidth
  let (rows, columns, offset) = tapWindow(g, image: n, tap: tap)
  var from = colRow + rows.lowerBound * wo + columns.lowerBound, to = dx + offset
  let count = columns.count, step = g.strideHeight * g.width
  for _ in rows {
    if sw == 1 {
      addShortRow(to, from, count)
    } else {
      for i in 0..<count { to[i &* sw] += from[i] }
    }
    from += wo
    to += step
  }
}

/// `to[i] += from[i]` for `i < count` with 8- and 4-wide moves and a scalar tail (an
/// overlapping tail as in ``copyShortRow`` would add twice).
@inline(__always)
func addShortRow(_ to: UnsafeMutablePointer<Float>, _ from: UnsafePointer<Float>, _ count: Int) {
  let source = UnsafeRawPointer(from), target = UnsafeMutableRawPointer(to)
  var i = 0
  while i &+ 8 <= count {
    let sum = target.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD8<Float>.self)
      + source.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD8<Float>.self)
    target.storeBytes(of: sum, toByteOffset: 4 &* i, as: SIMD8<Float>.self)
    i &+= 8
  }
  if i &+ 4 <= count {
    let sum = target.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD4<Float>.self)
      + source.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD4<Float>.self)
    target.storeBytes(of: sum, toByteOffset: 4 &* i, as: SIMD4<Float>.self)
    i &+= 4
  }
  while i < count {
    to[i] += from[i]
    i &+= 1
  }
}

/// Direct 7-loop convolution: the oracle for the im2col + GEMM path. Accumulates in Double.
/// `y` is `N×O×Ho×Wo`; no bias.
public func conv2dReference(
  _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: Conv2DGeometry,
  _ y: UnsafeMutablePointer<Float>
) {
  let ho = g.outHeight, wo = g.outWidth
  let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
  for n in 0..<g.batch {
    for o in 0..<g.outChannels {
      let group = o / og
      for oh in 0..<ho {
        for ow in 0..<wo {
          var acc: Double = 0
          for cl in 0..<cg {
            let c = group * cg + cl
            for ki in 0..<g.kernelHeight {
              let ih = oh * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
              if ih < 0 || ih >= g.height { continue }
              for kj in 0..<g.kernelWidth {
                let iw = ow * g.strideWidth - g.paddingWidth + kj * g.dilationWidth
                if iw < 0 || iw >= g.width { continue }
                let xv = x[((n * g.inChannels + c) * g.height + ih) * g.width + iw]
                let wv = w[((o * cg + cl) * g.kernelHeight + ki) * g.kernelWidth + kj]
                acc += Double(xv) * Double(wv)
              }
            }
          }
          y[((n * g.outChannels + o) * ho + oh) * wo + ow] = Float(acc)
        }
      }
    }
  }
}
