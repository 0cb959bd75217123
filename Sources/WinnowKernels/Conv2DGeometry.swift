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
    if outHeight <= 0 || outWidth <= 0 { return "kernel larger than padded input" }
    return nil
  }
}

/// Unfolds group `group` of the input into columns: `col[K, N·Ho·Wo]` with
/// `K = (C/groups)·kH·kW`, row `(c·kH + i)·kW + j`, column `(n·Ho + oh)·Wo + ow`; padding reads 0.
public func im2col(
  _ x: UnsafePointer<Float>, _ g: Conv2DGeometry, group: Int, _ col: UnsafeMutablePointer<Float>
) {
  let ho = g.outHeight, wo = g.outWidth, plane = ho * wo
  let columns = g.batch * plane
  let kArea = g.kernelHeight * g.kernelWidth
  parallelFor(g.patchSize, minimumPerChunk: max(1, 8192 / max(columns, 1))) { rows in
    for row in rows {
      let c = row / kArea + group * g.inChannelsPerGroup
      let ki = (row % kArea) / g.kernelWidth
      let kj = row % g.kernelWidth
      let dst = col + row * columns
      for n in 0..<g.batch {
        let src = x + (n * g.inChannels + c) * g.height * g.width
        for oh in 0..<ho {
          let ih = oh * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
          let out = dst + n * plane + oh * wo
          if ih < 0 || ih >= g.height {
            out.update(repeating: 0, count: wo)
            continue
          }
          let srcRow = src + ih * g.width
          let iw0 = kj * g.dilationWidth - g.paddingWidth
          for ow in 0..<wo {
            let iw = ow * g.strideWidth + iw0
            out[ow] = iw >= 0 && iw < g.width ? srcRow[iw] : 0
          }
        }
      }
    }
  }
}

/// Adjoint of ``im2col(_:_:group:_:)``: adds each column entry back to the input position it
/// was read from (`dx` is accumulated into, not overwritten).
public func col2im(
  _ col: UnsafePointer<Float>, _ g: Conv2DGeometry, group: Int, _ dx: UnsafeMutablePointer<Float>
) {
  let ho = g.outHeight, wo = g.outWidth, plane = ho * wo
  let columns = g.batch * plane
  let kArea = g.kernelHeight * g.kernelWidth
  // Parallel over input channels: rows of one channel write only that channel's planes.
  parallelFor(g.inChannelsPerGroup) { channels in
    for cLocal in channels {
      let c = cLocal + group * g.inChannelsPerGroup
      for k in 0..<kArea {
        let row = cLocal * kArea + k
        let ki = k / g.kernelWidth, kj = k % g.kernelWidth
        let src = col + row * columns
        for n in 0..<g.batch {
          let dst = dx + (n * g.inChannels + c) * g.height * g.width
          for oh in 0..<ho {
            let ih = oh * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
            if ih < 0 || ih >= g.height { continue }
            let dstRow = dst + ih * g.width
            let colRow = src + n * plane + oh * wo
            let iw0 = kj * g.dilationWidth - g.paddingWidth
            for ow in 0..<wo {
              let iw = ow * g.strideWidth + iw0
              if iw >= 0 && iw < g.width { dstRow[iw] += colRow[ow] }
            }
          }
        }
      }
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
