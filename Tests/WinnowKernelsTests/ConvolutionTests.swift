import Testing
import WinnowCore
import WinnowKernels
import WinnowTestSupport

/// Channel grouping of a convolution test: `groups` is 1, 2 or `C` (depthwise).
enum Grouping: String, CaseIterable, Sendable {
  case dense, twoGroups, depthwise
}

/// A convolution case: the hyper-parameters swept, on a 4-channel 7×9 input.
struct ConvolutionCase: Sendable, CustomStringConvertible {
  var kernel: Int, stride: Int, padding: Int, dilation: Int
  var grouping: Grouping
  var batch: Int

  var geometry: Conv2DGeometry {
    let channels = 4
    let groups = switch grouping { case .dense: 1; case .twoGroups: 2; case .depthwise: channels }
    // 6 outputs for dense/2 groups, a channel multiplier of 2 for depthwise.
    let outChannels = grouping == .depthwise ? 2 * channels : 6
    return Conv2DGeometry(batch: batch, inChannels: channels, height: 7, width: 9, outChannels: outChannels,
                          kernelHeight: kernel, kernelWidth: kernel, stride: (stride, stride),
                          padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
  }

  var description: String {
    "k\(kernel) s\(stride) p\(padding) d\(dilation) \(grouping) N\(batch)"
  }

  /// Kernel 1, 3, 5 × stride 1, 2, 3 × padding 0, 1, 2 × dilation 1, 2 × dense, 2 groups,
  /// depthwise × batch 1, 3, minus the geometries whose dilated kernel exceeds the padded input.
  static let all: [ConvolutionCase] = [1, 3, 5].flatMap { k in
    [1, 2, 3].flatMap { s in
      [0, 1, 2].flatMap { p in
        [1, 2].flatMap { d in
          Grouping.allCases.flatMap { g in
            [1, 3].map { n in ConvolutionCase(kernel: k, stride: s, padding: p, dilation: d, grouping: g, batch: n) }
          }
        }
      }
    }
  }.filter { $0.geometry.problem == nil }
}

/// Unit roundoff of Float32, 2⁻²⁴.
private let u = Double(Float.ulpOfOne) / 2

/// `conv2dReference` on plain arrays.
private func directConvolution(_ x: [Float], _ w: [Float], _ g: Conv2DGeometry) -> [Float] {
  var y = [Float](repeating: .nan, count: g.batch * g.outChannels * g.outHeight * g.outWidth)
  x.withUnsafeBufferPointer { px in
    w.withUnsafeBufferPointer { pw in
      y.withUnsafeMutableBufferPointer { conv2dReference(px.baseAddress!, pw.baseAddress!, g, $0.baseAddress!) }
    }
  }
  return y
}

/// Inner product in Double.
private func dot(_ a: [Float], _ b: [Float]) -> Double {
  zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

@Suite struct ConvolutionTests {
  @Test func sweepKeepsMostCombinations() {
    // 324 combinations; only kernel 5 with dilation 2 (span 9) and no padding overflows 7 rows.
    #expect(ConvolutionCase.all.count == 324 - 3 * 3 * 2)
  }

  /// The production path (`Tensor.conv2d`: im2col, one GEMM per group, permute) equals the
  /// direct loop, which accumulates in Double. Tolerance per output: the GEMM's Float32 dot
  /// product of length `K = C/g·kH·kW` errs by at most `K·u·Σ|x·w|` (Higham §3.1), and the
  /// reference's final rounding adds `u·|y|`; `Σ|x·w|` is the direct convolution of `|x|`
  /// and `|w|`. So `|y − ref| ≤ (K + 1)·u·conv(|x|, |w|)`.
  @Test(arguments: ConvolutionCase.all)
  func im2colGEMMMatchesDirectConvolution(_ c: ConvolutionCase) {
    let g = c.geometry
    let x = randomTensor([g.batch, g.inChannels, g.height, g.width], seed: 1)
    let w = randomTensor([g.outChannels, g.inChannelsPerGroup, g.kernelHeight, g.kernelWidth], seed: 2)
    let y = x.conv2d(w, stride: (g.strideHeight, g.strideWidth), padding: (g.paddingHeight, g.paddingWidth),
                     dilation: (g.dilationHeight, g.dilationWidth), groups: g.groups)
    let expected = directConvolution(x.scalars, w.scalars, g)
    let magnitude = directConvolution(x.scalars.map(Swift.abs), w.scalars.map(Swift.abs), g)
    #expect(y.shape == [g.batch, g.outChannels, g.outHeight, g.outWidth])
    for (i, (value, reference)) in zip(y.scalars, expected).enumerated() {
      let tolerance = Double(g.patchSize + 1) * u * Double(magnitude[i])
      if !(Swift.abs(Double(value) - Double(reference)) <= tolerance) {
        Issue.record("\(c): y[\(i)] = \(value), reference \(reference), tolerance \(tolerance)")
        return
      }
    }
  }

  /// The recorded backward of `Tensor.conv2d` (dX by GEMM + col2im, dW by GEMM) is the adjoint
  /// of the convolution in each argument: for a cotangent `g` and random directions `x′`, `w′`,
  ///
  ///     ⟨dX, x′⟩ = ⟨conv(x′, w), g⟩      ⟨dW, w′⟩ = ⟨conv(x, w′), g⟩
  ///
  /// with the right sides from `conv2dReference`. Both sides expand to the same products
  /// `x·w·g`; tolerance `T·u·⟨conv(|x|, |w|), |g|⟩` (the sum of those products' magnitudes),
  /// where `T` counts the Float32 additions any one result passes through: the forward and
  /// data GEMMs' K, col2im's `kH·kW`, and the weight GEMM's `N·Ho·Wo`.
  @Test(arguments: ConvolutionCase.all)
  func conv2dBackwardIsTheAdjointOfTheForward(_ c: ConvolutionCase) {
    let g = c.geometry
    let xShape = [g.batch, g.inChannels, g.height, g.width]
    let wShape = [g.outChannels, g.inChannelsPerGroup, g.kernelHeight, g.kernelWidth]
    let x = randomTensor(xShape, seed: 11), w = randomTensor(wShape, seed: 12)
    let cotangent = randomTensor([g.batch, g.outChannels, g.outHeight, g.outWidth], seed: 13)
    let (_, grads) = valueWithGradient(at: [x, w]) { xs in
      (xs[0].conv2d(xs[1], stride: (g.strideHeight, g.strideWidth), padding: (g.paddingHeight, g.paddingWidth),
                    dilation: (g.dilationHeight, g.dilationWidth), groups: g.groups) * cotangent).sum()
    }
    func reference(_ x: Tensor, _ w: Tensor) -> [Float] { directConvolution(x.scalars, w.scalars, g) }
    func magnitudes(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, scalars: t.scalars.map(Swift.abs)) }
    let additions = g.patchSize + g.outChannelsPerGroup + g.kernelHeight * g.kernelWidth + g.batch * g.outHeight * g.outWidth
    let xDirection = randomTensor(xShape, seed: 14), wDirection = randomTensor(wShape, seed: 15)
    for (name, gradient, direction, right, magnitude) in [
      ("dX", grads[0], xDirection, reference(xDirection, w), reference(magnitudes(xDirection), magnitudes(w))),
      ("dW", grads[1], wDirection, reference(x, wDirection), reference(magnitudes(x), magnitudes(wDirection))),
    ] {
      let left = dot(gradient.scalars, direction.scalars), expected = dot(right, cotangent.scalars)
      let tolerance = Double(additions) * u * dot(magnitude, cotangent.scalars.map(Swift.abs))
      #expect(Swift.abs(left - expected) <= tolerance, "\(c) \(name): \(left) vs \(expected), tolerance \(tolerance)")
    }
  }

  /// `col2im` is the adjoint of `im2col`: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for every group,
  /// with both inner products in Double. `im2col` only copies, but `col2im` adds up to
  /// `kH·kW` column entries per input position in Float32, so the right side carries a
  /// relative error of at most `kH·kW·u` per term: tolerance `kH·kW·u·Σ|xᵢ·cᵢ|` (+ Double
  /// rounding), where the sum runs over the products both sides are made of.
  @Test(arguments: ConvolutionCase.all.filter { $0.batch == 3 })
  func col2imIsTheAdjointOfIm2col(_ c: ConvolutionCase) {
    let g = c.geometry
    let x = randomTensor([g.batch, g.inChannels, g.height, g.width], seed: 3).scalars
    let columns = g.batch * g.outHeight * g.outWidth
    for group in 0..<g.groups {
      let col = randomTensor([g.patchSize, columns], seed: 4 + UInt64(group)).scalars
      var unfolded = [Float](repeating: .nan, count: col.count)
      var folded = [Float](repeating: 0, count: x.count)
      x.withUnsafeBufferPointer { px in
        unfolded.withUnsafeMutableBufferPointer { im2col(px.baseAddress!, g, group: group, $0.baseAddress!) }
      }
      col.withUnsafeBufferPointer { pc in
        folded.withUnsafeMutableBufferPointer { col2im(pc.baseAddress!, g, group: group, $0.baseAddress!) }
      }
      let left = dot(unfolded, col), right = dot(x, folded)
      let tolerance = Double(g.kernelHeight * g.kernelWidth) * u * dot(unfolded.map(Swift.abs), col.map(Swift.abs)) + 1e-12
      #expect(Swift.abs(left - right) <= tolerance, "\(c) group \(group): \(left) vs \(right)")
      // col2im touches only the channels of its group.
      let plane = g.height * g.width
      for n in 0..<g.batch {
        for ch in 0..<g.inChannels where ch / g.inChannelsPerGroup != group {
          let start = (n * g.inChannels + ch) * plane
          #expect(folded[start..<start + plane].allSatisfy { $0 == 0 }, "\(c): col2im wrote channel \(ch) for group \(group)")
        }
      }
    }
  }

  /// A dilated kernel wider than the padded input is rejected, whatever the stride (floor
  /// division of a negative span must not round the output size up to 1).
  @Test(arguments: [1, 2, 3, 4])
  func kernelLargerThanPaddedInputIsAProblem(stride: Int) {
    for (size, kernel, padding, dilation) in [(4, 5, 0, 1), (3, 5, 0, 1), (7, 5, 0, 2), (2, 7, 1, 1)] {
      let conv = Conv2DGeometry(batch: 1, inChannels: 1, height: size, width: size, outChannels: 1,
                                kernelHeight: kernel, kernelWidth: kernel, stride: (stride, stride),
                                padding: (padding, padding), dilation: (dilation, dilation))
      #expect(conv.problem != nil, "conv \(size)×\(size), kernel \(kernel), dilation \(dilation), stride \(stride)")
    }
    for (size, kernel, padding) in [(4, 5, 0), (1, 4, 1), (2, 6, 1)] {
      let pool = Pool2DGeometry(planes: 1, height: size, width: size, kernel: (kernel, kernel),
                                stride: (stride, stride), padding: (padding, padding))
      #expect(pool.problem != nil, "pool \(size)×\(size), kernel \(kernel), padding \(padding), stride \(stride)")
    }
  }
}

/// A pooling case: square kernel, stride and padding on a `2×3×7×9` input.
struct PoolingCase: Sendable, CustomStringConvertible {
  var kernel: Int, stride: Int, padding: Int
  var geometry: Pool2DGeometry {
    Pool2DGeometry(planes: 6, height: 7, width: 9, kernel: (kernel, kernel), stride: (stride, stride),
                   padding: (padding, padding))
  }
  var description: String { "k\(kernel) s\(stride) p\(padding)" }

  /// Kernel 1–4 × stride 1–3 × padding up to half the kernel: strides below, at and above
  /// the kernel size, with and without padding.
  static let all: [PoolingCase] = (1...4).flatMap { k in
    (1...3).flatMap { s in (0...(k / 2)).map { p in PoolingCase(kernel: k, stride: s, padding: p) } }
  }
}

/// The in-bounds input positions `(ih, iw)` of the window of output `(oh, ow)`.
private func window(_ g: Pool2DGeometry, _ oh: Int, _ ow: Int) -> [(Int, Int)] {
  var positions: [(Int, Int)] = []
  for ki in 0..<g.kernelHeight {
    for kj in 0..<g.kernelWidth {
      let ih = oh * g.strideHeight - g.paddingHeight + ki, iw = ow * g.strideWidth - g.paddingWidth + kj
      if ih >= 0 && ih < g.height && iw >= 0 && iw < g.width { positions.append((ih, iw)) }
    }
  }
  return positions
}

// Pooling, in the same suite.
extension ConvolutionTests {
  /// Max pooling equals a naive loop exactly (a maximum involves no rounding), and the
  /// argmax is the first maximum in scan order. Inputs are random with deliberate ties.
  @Test(arguments: PoolingCase.all)
  func maxPoolMatchesNaiveLoop(_ c: PoolingCase) {
    let g = c.geometry
    #expect(g.problem == nil)
    // Values rounded to multiples of 1/4 in [-1, 1], so most windows hold ties.
    let x = randomTensor([g.planes * g.height * g.width], seed: 5).scalars.map { ($0 * 4).rounded() / 4 }
    let outCount = g.planes * g.outHeight * g.outWidth
    var y = [Float](repeating: .nan, count: outCount)
    var argmax = [Int32](repeating: -7, count: outCount)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        argmax.withUnsafeMutableBufferPointer { maxPool2d(px.baseAddress!, g, py.baseAddress!, argmax: $0.baseAddress!) }
      }
    }
    for p in 0..<g.planes {
      for oh in 0..<g.outHeight {
        for ow in 0..<g.outWidth {
          var best = -Float.infinity, bestIndex = -1
          for (ih, iw) in window(g, oh, ow) where bestIndex < 0 || x[(p * g.height + ih) * g.width + iw] > best {
            best = x[(p * g.height + ih) * g.width + iw]
            bestIndex = ih * g.width + iw
          }
          let o = (p * g.outHeight + oh) * g.outWidth + ow
          guard y[o] == best && Int(argmax[o]) == bestIndex else {
            Issue.record("\(c) plane \(p) (\(oh), \(ow)): \(y[o]) at \(argmax[o]), expected \(best) at \(bestIndex)")
            return
          }
        }
      }
    }
  }

  /// Average pooling (padding counted in the divisor) equals a naive loop in Double.
  /// Tolerance: a Float32 sum of `kH·kW` terms errs by at most `kH·kW·u·Σ|x|`, and the scaling
  /// by the Float32 reciprocal adds two roundings: `(kH·kW + 2)·u·Σ|x| / (kH·kW)`.
  @Test(arguments: PoolingCase.all)
  func avgPoolMatchesNaiveLoop(_ c: PoolingCase) {
    let g = c.geometry
    let x = randomTensor([g.planes * g.height * g.width], seed: 6).scalars
    var y = [Float](repeating: .nan, count: g.planes * g.outHeight * g.outWidth)
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { avgPool2d(px.baseAddress!, g, $0.baseAddress!) } }
    for p in 0..<g.planes {
      for oh in 0..<g.outHeight {
        for ow in 0..<g.outWidth {
          let terms = window(g, oh, ow).map { Double(x[(p * g.height + $0.0) * g.width + $0.1]) }
          let area = Double(g.kernelHeight * g.kernelWidth)
          let expected = terms.reduce(0, +) / area
          let tolerance = (area + 2) * u * terms.reduce(0) { $0 + Swift.abs($1) } / area
          let o = (p * g.outHeight + oh) * g.outWidth + ow
          guard Swift.abs(Double(y[o]) - expected) <= tolerance else {
            Issue.record("\(c) plane \(p) (\(oh), \(ow)): \(y[o]) vs \(expected)")
            return
          }
        }
      }
    }
  }

  /// The backward kernels are the adjoints of the forward ones: ⟨pool(x), c⟩ = ⟨x, poolᵀ(c)⟩
  /// in Double (for max pooling, with the argmax of the forward pass fixed). Overlapping
  /// windows make the backward add up to `kH·kW` terms per input in Float32, and average
  /// pooling rounds its sums and the divisor: tolerance `(kH·kW + 2)·u·Σ|terms|`.
  @Test(arguments: PoolingCase.all)
  func backwardKernelsAreAdjoints(_ c: PoolingCase) {
    let g = c.geometry
    let x = randomTensor([g.planes * g.height * g.width], seed: 7).scalars
    let cot = randomTensor([g.planes * g.outHeight * g.outWidth], seed: 8).scalars
    var y = [Float](repeating: 0, count: cot.count), argmax = [Int32](repeating: 0, count: cot.count)
    var dxMax = [Float](repeating: 0, count: x.count), dxAvg = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { px in
      cot.withUnsafeBufferPointer { pc in
        y.withUnsafeMutableBufferPointer { py in
          argmax.withUnsafeMutableBufferPointer { pa in
            maxPool2d(px.baseAddress!, g, py.baseAddress!, argmax: pa.baseAddress!)
            dxMax.withUnsafeMutableBufferPointer {
              maxPool2dBackward(pc.baseAddress!, argmax: UnsafePointer(pa.baseAddress!), g, $0.baseAddress!)
            }
          }
        }
        let maxLeft = dot(y, cot), maxRight = dot(x, dxMax)
        let maxTolerance = Double(g.kernelHeight * g.kernelWidth + 2) * u * dot(y.map(Swift.abs), cot.map(Swift.abs))
        #expect(Swift.abs(maxLeft - maxRight) <= maxTolerance, "\(c) max: \(maxLeft) vs \(maxRight)")
        y.withUnsafeMutableBufferPointer { avgPool2d(px.baseAddress!, g, $0.baseAddress!) }
        dxAvg.withUnsafeMutableBufferPointer { avgPool2d(pc.baseAddress!, g, $0.baseAddress!, backward: true) }
      }
    }
    // Σ|terms| of ⟨x, poolᵀ(c)⟩: every input times the cotangents of the windows holding it.
    let avgLeft = dot(y, cot), avgRight = dot(x, dxAvg)
    var dxMagnitude = [Float](repeating: 0, count: x.count)
    let absCot = cot.map(Swift.abs)
    absCot.withUnsafeBufferPointer { pc in
      dxMagnitude.withUnsafeMutableBufferPointer { avgPool2d(pc.baseAddress!, g, $0.baseAddress!, backward: true) }
    }
    let avgTolerance = Double(g.kernelHeight * g.kernelWidth + 2) * u * dot(x.map(Swift.abs), dxMagnitude)
    #expect(Swift.abs(avgLeft - avgRight) <= avgTolerance, "\(c) avg: \(avgLeft) vs \(avgRight)")
  }
}
