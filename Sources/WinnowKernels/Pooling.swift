/// Window geometry of 2-D max/average pooling over `N×C×H×W` input (no dilation, floor mode).
///
///     Ho = (H + 2·padding − kernel) / stride + 1      (likewise Wo)
public struct Pool2DGeometry: Hashable, Sendable {
  public var planes: Int, height: Int, width: Int
  public var kernelHeight: Int, kernelWidth: Int
  public var strideHeight: Int, strideWidth: Int
  public var paddingHeight: Int, paddingWidth: Int

  /// `planes` is `N·C`: pooling treats every channel of every image alike.
  public init(
    planes: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int),
    padding: (Int, Int) = (0, 0)
  ) {
    self.planes = planes; self.height = height; self.width = width
    kernelHeight = kernel.0; kernelWidth = kernel.1
    strideHeight = stride.0; strideWidth = stride.1
    paddingHeight = padding.0; paddingWidth = padding.1
  }

  public var outHeight: Int { (height + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
  public var outWidth: Int { (width + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }

  /// Why this geometry cannot be computed, or nil when it is valid.
  public var problem: String? {
    if kernelHeight <= 0 || kernelWidth <= 0 || strideHeight <= 0 || strideWidth <= 0 {
      return "kernel and stride must be positive"
    }
    if paddingHeight < 0 || paddingWidth < 0 { return "padding must not be negative" }
    if 2 * paddingHeight > kernelHeight || 2 * paddingWidth > kernelWidth {
      return "padding must be at most half the kernel"
    }
    // Compare spans rather than test outHeight: its division truncates toward zero, so a
    // kernel a little wider than the padded input would give size 1 for stride > 1.
    if height + 2 * paddingHeight < kernelHeight || width + 2 * paddingWidth < kernelWidth {
      return "kernel larger than padded input"
    }
    return nil
  }
}

/// Max pooling; padding never wins. `argmax` receives, per output, the index `ih·W + iw` of
/// the chosen input within its plane (the first maximum in scan order).
public func maxPool2d(
  _ x: UnsafePointer<Float>, _ g: Pool2DGeometry, _ y: UnsafeMutablePointer<Float>,
  argmax: UnsafeMutablePointer<Int32>
) {
  let ho = g.outHeight, wo = g.outWidth
  if g.paddingHeight == 0 && g.paddingWidth == 0 {
    if g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideHeight == 2 && g.strideWidth == 2 && wo >= 4 {
      maxPool2d2x2(x, g, y, argmax: argmax)
    } else {
      maxPool2dUnpadded(x, g, y, argmax: argmax)
    }
    return
  }
  parallelFor(g.planes, minimumPerChunk: 16) { planes in
    for p in planes {
      let src = x + p * g.height * g.width
      for oh in 0..<ho {
        for ow in 0..<wo {
          var best = -Float.infinity
          var bestIndex = -1
          for ki in 0..<g.kernelHeight {
            let ih = oh * g.strideHeight - g.paddingHeight + ki
            if ih < 0 || ih >= g.height { continue }
            for kj in 0..<g.kernelWidth {
              let iw = ow * g.strideWidth - g.paddingWidth + kj
              if iw < 0 || iw >= g.width { continue }
              let v = src[ih * g.width + iw]
              if bestIndex < 0 || v > best || (v.isNaN && !best.isNaN) {
                best = v
                bestIndex = ih * g.width + iw
              }
            }
          }
          let o = (p * ho + oh) * wo + ow
          y[o] = best
          argmax[o] = Int32(bestIndex)
        }
      }
    }
  }
}

/// ``maxPool2d(_:_:_:argmax:)`` without padding, where every window lies inside the input:
/// no bounds tests, and the running maximum is a branch-free select (a branch on random data
/// mispredicts half the time). Same result, including the first maximum and NaN rules.
func maxPool2dUnpadded(
  _ x: UnsafePointer<Float>, _ g: Pool2DGeometry, _ y: UnsafeMutablePointer<Float>,
  argmax: UnsafeMutablePointer<Int32>
) {
  let ho = g.outHeight, wo = g.outWidth, w = g.width
  let (kh, kw, sh, sw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth)
  parallelFor(g.planes, minimumPerChunk: 16) { planes in
    for p in planes {
      let src = x + p * g.height * w
      let dst = y + p * ho * wo, idx = argmax + p * ho * wo
      for oh in 0..<ho {
        for ow in 0..<wo {
          let first = oh * sh * w + ow * sw
          var best = src[first], bestIndex = first
          for ki in 0..<kh {
            for kj in 0..<kw {
              let i = first + ki * w + kj
              let v = src[i]
              // Replace when v > best, or v is NaN and best is not: the scan-order rule above.
              let take = best == best && !(v <= best)
              best = take ? v : best
              bestIndex = take ? i : bestIndex
            }
          }
          dst[oh * wo + ow] = best
          idx[oh * wo + ow] = Int32(truncatingIfNeeded: bestIndex)
        }
      }
    }
  }
}

/// ``maxPool2d(_:_:_:argmax:)`` for the common 2×2 window with stride 2 and no padding, four
/// outputs at a time: one 8-wide load per input row gives the even (left) and odd (right)
/// columns of four windows. Needs `Wo ≥ 4`; the last group of a row overlaps the previous one.
func maxPool2d2x2(
  _ x: UnsafePointer<Float>, _ g: Pool2DGeometry, _ y: UnsafeMutablePointer<Float>,
  argmax: UnsafeMutablePointer<Int32>
) {
  let ho = g.outHeight, wo = g.outWidth, w = g.width
  precondition(wo >= 4 && 2 * wo <= w, "maxPool2d2x2 needs at least 4 outputs per row")
  let lanes = SIMD4<Int32>(0, 2, 4, 6)
  parallelFor(g.planes, minimumPerChunk: 16) { planes in
    for p in planes {
      for oh in 0..<ho {
        let rowOffset = (p * g.height + 2 * oh) * w
        let top = UnsafeRawPointer(x + rowOffset), bottom = UnsafeRawPointer(x + rowOffset + w)
        let out = UnsafeMutableRawPointer(y + (p * ho + oh) * wo)
        let index = UnsafeMutableRawPointer(argmax + (p * ho + oh) * wo)
        var ow = 0
        while ow < wo {
          if ow + 4 > wo { ow = wo - 4 }
          let t = top.loadUnaligned(fromByteOffset: 8 * ow, as: SIMD8<Float>.self)
          let b = bottom.loadUnaligned(fromByteOffset: 8 * ow, as: SIMD8<Float>.self)
          let i0 = SIMD4<Int32>(repeating: Int32(truncatingIfNeeded: 2 * oh * w + 2 * ow)) &+ lanes
          var best = t.evenHalf, bestIndex = i0
          // In scan order; replace when v > best, or v is NaN and best is not.
          func visit(_ v: SIMD4<Float>, _ i: SIMD4<Int32>) {
            let take = (best .== best) .& .!(v .<= best)
            best.replace(with: v, where: take)
            bestIndex.replace(with: i, where: take)
          }
          visit(t.oddHalf, i0 &+ 1)
          visit(b.evenHalf, i0 &+ Int32(w))
          visit(b.oddHalf, i0 &+ Int32(w + 1))
          out.storeBytes(of: best, toByteOffset: 4 * ow, as: SIMD4<Float>.self)
          index.storeBytes(of: bestIndex, toByteOffset: 4 * ow, as: SIMD4<Int32>.self)
          ow += 4
        }
      }
    }
  }
}

/// Backward of max pooling: routes each output cotangent to its argmax (accumulates into `dx`).
public func maxPool2dBackward(
  _ dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, _ g: Pool2DGeometry,
  _ dx: UnsafeMutablePointer<Float>
) {
  let plane = g.outHeight * g.outWidth
  parallelFor(g.planes, minimumPerChunk: 16) { planes in
    for p in planes {
      let dst = dx + p * g.height * g.width
      for o in 0..<plane { dst[Int(argmax[p * plane + o])] += dy[p * plane + o] }
    }
  }
}

/// Average pooling that counts padded positions (PyTorch's `count_include_pad=True`): every
/// window divides by `kH·kW`. With `backward`, `x` is `dy` and the adjoint is added to `y`.
public func avgPool2d(
  _ x: UnsafePointer<Float>, _ g: Pool2DGeometry, _ y: UnsafeMutablePointer<Float>,
  backward: Bool = false
) {
  let ho = g.outHeight, wo = g.outWidth
  let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
  parallelFor(g.planes, minimumPerChunk: 16) { planes in
    for p in planes {
      for oh in 0..<ho {
        for ow in 0..<wo {
          let o = (p * ho + oh) * wo + ow
          var acc: Float = 0
          let gradient = backward ? x[o] * scale : 0
          for ki in 0..<g.kernelHeight {
            let ih = oh * g.strideHeight - g.paddingHeight + ki
            if ih < 0 || ih >= g.height { continue }
            for kj in 0..<g.kernelWidth {
              let iw = ow * g.strideWidth - g.paddingWidth + kj
              if iw < 0 || iw >= g.width { continue }
              let i = (p * g.height + ih) * g.width + iw
              if backward { y[i] += gradient } else { acc += x[i] }
            }
          }
          if !backward { y[o] = acc * scale }
        }
      }
    }
  }
}
