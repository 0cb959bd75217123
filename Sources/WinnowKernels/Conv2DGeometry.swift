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
      for n in 0..<g.batch { unfoldRow(x, g, image: n, group: group, row: row, col + row * columns + n * plane) }
    }
  }
}

/// Unfolds one image: `col[K, Ho·Wo]`, the columns of image `image` in the layout of
/// ``im2col(_:_:group:_:)``. Runs on the calling thread (callers parallelise over images).
public func im2col(
  _ x: UnsafePointer<Float>, _ g: Conv2DGeometry, image: Int, group: Int, _ col: UnsafeMutablePointer<Float>
) {
  let plane = g.outHeight * g.outWidth
  for row in 0..<g.patchSize { unfoldRow(x, g, image: image, group: group, row: row, col + row * plane) }
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
        for n in 0..<g.batch { foldRow(col + row * columns + n * plane, g, image: n, group: group, row: row, dx) }
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
  for row in 0..<g.patchSize { foldRow(col + row * plane, g, image: image, group: group, row: row, dx) }
}

/// The output columns `ow < Wo` whose input column `ow·stride + offset` lies in `0..<width`.
/// Hoisting this range out of the loops leaves branch-free inner loops that vectorise.
@inline(__always)
func validColumns(offset: Int, stride: Int, width: Int, outWidth: Int) -> Range<Int> {
  let lo = offset >= 0 ? 0 : Swift.min((stride - 1 - offset) / stride, outWidth)
  let hi = width - 1 - offset < 0 ? 0 : Swift.min((width - 1 - offset) / stride + 1, outWidth)
  return lo..<Swift.max(lo, hi)
}

/// Writes `Ho·Wo` entries of row `row` of the unfolded image: `out[oh·Wo + ow] = x[n, c, ih, iw]`
/// with `ih = oh·sH − pH + i·dH`, `iw = ow·sW − pW + j·dW`, or 0 in the padding.
@inline(__always)
func unfoldRow(
  _ x: UnsafePointer<Float>, _ g: Conv2DGeometry, image n: Int, group: Int, row: Int,
  _ out: UnsafeMutablePointer<Float>
) {
  let kArea = g.kernelHeight * g.kernelWidth
  let c = row / kArea + group * g.inChannelsPerGroup
  let ki = (row % kArea) / g.kernelWidth, kj = row % g.kernelWidth
  let ho = g.outHeight, wo = g.outWidth, sw = g.strideWidth
  let iw0 = kj * g.dilationWidth - g.paddingWidth
  let valid = validColumns(offset: iw0, stride: sw, width: g.width, outWidth: wo)
  let src = x + (n * g.inChannels + c) * g.height * g.width
  for oh in 0..<ho {
    let ih = oh * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
    let dst = out + oh * wo
    if ih < 0 || ih >= g.height {
      dst.update(repeating: 0, count: wo)
      continue
    }
    for ow in 0..<valid.lowerBound { dst[ow] = 0 }
    // Offsets computed once per row and `&*`: overflow checks in the loop stop vectorisation.
    let from = src + ih * g.width + valid.lowerBound * sw + iw0, to = dst + valid.lowerBound
    if sw == 1 {
      for i in 0..<valid.count { to[i] = from[i] }
    } else {
      for i in 0..<valid.count { to[i] = from[i &* sw] }
    }
    for ow in valid.upperBound..<wo { dst[ow] = 0 }
  }
}

/// Adds `Ho·Wo` entries of row `row` of an unfolded image back to the inputs they were read
/// from (the transpose of ``unfoldRow``).
@inline(__always)
func foldRow(
  _ colRow: UnsafePointer<Float>, _ g: Conv2DGeometry, image n: Int, group: Int, row: Int,
  _ dx: UnsafeMutablePointer<Float>
) {
  let kArea = g.kernelHeight * g.kernelWidth
  let c = row / kArea + group * g.inChannelsPerGroup
  let ki = (row % kArea) / g.kernelWidth, kj = row % g.kernelWidth
  let ho = g.outHeight, wo = g.outWidth, sw = g.strideWidth
  let iw0 = kj * g.dilationWidth - g.paddingWidth
  let valid = validColumns(offset: iw0, stride: sw, width: g.width, outWidth: wo)
  let dst = dx + (n * g.inChannels + c) * g.height * g.width
  for oh in 0..<ho {
    let ih = oh * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
    if ih < 0 || ih >= g.height { continue }
    let to = dst + ih * g.width + valid.lowerBound * sw + iw0, from = colRow + oh * wo + valid.lowerBound
    if sw == 1 {
      for i in 0..<valid.count { to[i] += from[i] }
    } else {
      for i in 0..<valid.count { to[i &* sw] += from[i] }
    }
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
