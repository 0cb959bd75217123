import Testing
import WinnowCore
import WinnowKernels
import WinnowTestSupport

// The fast paths added for training speed, each against the plain loop it replaces. The
// general kernels' own tests (ConvolutionTests, PoolingTests, GEMMTests) run on small inputs
// where some of these paths are not taken: wide rows, row tails, inputs split across threads.

/// Max pooling by the definition: first maximum in scan order, NaN wins over numbers.
private func naiveMaxPool(_ x: [Float], _ g: Pool2DGeometry) -> (values: [Float], argmax: [Int32]) {
  var values: [Float] = [], argmax: [Int32] = []
  for p in 0..<g.planes {
    for oh in 0..<g.outHeight {
      for ow in 0..<g.outWidth {
        var best = Float.nan, bestIndex = -1
        for ki in 0..<g.kernelHeight {
          for kj in 0..<g.kernelWidth {
            let ih = oh * g.strideHeight - g.paddingHeight + ki, iw = ow * g.strideWidth - g.paddingWidth + kj
            guard ih >= 0 && ih < g.height && iw >= 0 && iw < g.width else { continue }
            let v = x[(p * g.height + ih) * g.width + iw]
            if bestIndex < 0 || v > best || (v.isNaN && !best.isNaN) { best = v; bestIndex = ih * g.width + iw }
          }
        }
        values.append(best)
        argmax.append(Int32(bestIndex))
      }
    }
  }
  return (values, argmax)
}

/// Elementwise `f` with NumPy broadcasting by the definition (index arithmetic per element).
private func naiveBroadcast(_ f: BinaryFunction, _ a: [Float], _ shapeA: [Int], _ b: [Float], _ shapeB: [Int]) -> [Float] {
  let shape = broadcastShape(shapeA, shapeB)!
  let sa = broadcastStrides(shapeA, to: shape), sb = broadcastStrides(shapeB, to: shape)
  return (0..<shape.reduce(1, *)).map { flat in
    var rest = flat, ia = 0, ib = 0
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
      let i = rest % shape[axis]
      rest /= shape[axis]
      ia += i * sa[axis]
      ib += i * sb[axis]
    }
    return f.apply(a[ia], b[ib])
  }
}

@Suite struct FastPathTests {
  /// The 2×2 stride-2 kernel (four outputs at a time, the last group of a row overlapping the
  /// previous one) equals the definition exactly, for output widths 4…12 (multiples of 4 and
  /// not), odd input sizes, ties (values on a 1/4 grid) and NaNs.
  @Test(arguments: [8, 9, 10, 11, 13, 16, 17, 23, 24, 25])
  func maxPool2x2MatchesDefinition(width: Int) {
    let g = Pool2DGeometry(planes: 3, height: 7, width: width, kernel: (2, 2), stride: (2, 2))
    var x = randomTensor([g.planes * g.height * g.width], seed: UInt64(width)).scalars.map { ($0 * 4).rounded() / 4 }
    for i in stride(from: 5, to: x.count, by: 37) { x[i] = .nan }
    let count = g.planes * g.outHeight * g.outWidth
    var y = [Float](repeating: 7, count: count), argmax = [Int32](repeating: -7, count: count)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        argmax.withUnsafeMutableBufferPointer { maxPool2d(px.baseAddress!, g, py.baseAddress!, argmax: $0.baseAddress!) }
      }
    }
    let expected = naiveMaxPool(x, g)
    for i in 0..<count {
      let sameValue = y[i] == expected.values[i] || (y[i].isNaN && expected.values[i].isNaN)
      #expect(sameValue && argmax[i] == expected.argmax[i],
              "width \(width), output \(i): \(y[i]) at \(argmax[i]), expected \(expected.values[i]) at \(expected.argmax[i])")
    }
  }

  /// Broadcasting split across threads (by rows of the outer odometer, or within one long
  /// contiguous run) equals the definition exactly: shapes large enough to be split, with
  /// chunk edges inside rows of the broadcast operand.
  @Test(arguments: [
    ([64, 6, 28, 28], [1, 6, 1, 1]), ([3, 50_000], [1, 50_000]), ([200_001], []), ([7, 30_011], [7, 1]),
    ([2, 3, 40_000], [3, 1]),
  ])
  func parallelBroadcastMatchesDefinition(shapeA: [Int], shapeB: [Int]) {
    let a = randomTensor(shapeA, seed: 11).scalars, b = randomTensor(shapeB, seed: 12).scalars
    for f in [BinaryFunction.add, .multiply, .maximum] {
      let shape = broadcastShape(shapeA, shapeB)!
      var out = [Float](repeating: .nan, count: shape.reduce(1, *))
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          out.withUnsafeMutableBufferPointer {
            broadcastBinary(f, pa.baseAddress!, shapeA: shapeA, pb.baseAddress!, shapeB: shapeB, $0.baseAddress!, outShape: shape)
          }
        }
      }
      #expect(out == naiveBroadcast(f, a, shapeA, b, shapeB), "\(f) \(shapeA) with \(shapeB)")
    }
  }

  /// The one-image im2col/col2im (used by conv2d per image) agree exactly with the
  /// whole-batch kernels: same columns, and the same sums in the same order when folding.
  @Test(arguments: ConvolutionCase.all.filter { $0.batch == 3 })
  func perImageUnfoldingMatchesWholeBatch(_ c: ConvolutionCase) {
    let g = c.geometry
    let x = randomTensor([g.batch, g.inChannels, g.height, g.width], seed: 13).scalars
    let plane = g.outHeight * g.outWidth, columns = g.batch * plane
    for group in 0..<g.groups {
      var whole = [Float](repeating: .nan, count: g.patchSize * columns)
      var image = [Float](repeating: .nan, count: g.patchSize * plane)
      var foldedWhole = [Float](repeating: 0, count: x.count), foldedImages = foldedWhole
      x.withUnsafeBufferPointer { px in
        whole.withUnsafeMutableBufferPointer { im2col(px.baseAddress!, g, group: group, $0.baseAddress!) }
        whole.withUnsafeBufferPointer { pw in
          foldedWhole.withUnsafeMutableBufferPointer { col2im(pw.baseAddress!, g, group: group, $0.baseAddress!) }
        }
        for n in 0..<g.batch {
          image.withUnsafeMutableBufferPointer { im2col(px.baseAddress!, g, image: n, group: group, $0.baseAddress!) }
          for row in 0..<g.patchSize {
            #expect(image[row * plane..<(row + 1) * plane].elementsEqual(whole[row * columns + n * plane..<row * columns + (n + 1) * plane]),
                    "\(c) group \(group) image \(n) row \(row)")
          }
          image.withUnsafeBufferPointer { pi in
            foldedImages.withUnsafeMutableBufferPointer { col2im(pi.baseAddress!, g, image: n, group: group, $0.baseAddress!) }
          }
        }
      }
      #expect(foldedImages == foldedWhole, "\(c) group \(group)")
    }
  }

  /// With BLAS on one thread, large products are split into blocks of rows (M ≥ N) or columns
  /// of C, one BLAS call per thread: every transpose pair, padded leading dimensions, alpha and
  /// beta match the reference. Tolerance as in GEMMTests. (On a one-core machine nothing is
  /// split and this checks the plain path.)
  @Test(arguments: [(300, 257, 130), (70, 700, 200)])
  func splitProductsMatchReference(m: Int, n: Int, k: Int) {
    let blasThreads = BLASThreads.current
    BLASThreads.set(1)
    defer { BLASThreads.set(blasThreads) }
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
      let lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3
      let a = randomTensor([(ta ? k : m) * lda], seed: 17).scalars, b = randomTensor([(tb ? n : k) * ldb], seed: 18).scalars
      let c0 = randomTensor([m * ldc], seed: 19).scalars
      var fast = c0, reference = c0
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          fast.withUnsafeMutableBufferPointer {
            sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: -0.5, a: pa.baseAddress!, lda: lda,
                  b: pb.baseAddress!, ldb: ldb, beta: 0.25, c: $0.baseAddress!, ldc: ldc)
          }
          reference.withUnsafeMutableBufferPointer {
            sgemmReference(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: -0.5, a: pa.baseAddress!, lda: lda,
                           b: pb.baseAddress!, ldb: ldb, beta: 0.25, c: $0.baseAddress!, ldc: ldc)
          }
        }
      }
      let u = Double(Float.ulpOfOne) / 2
      var failures = 0
      for i in 0..<m {
        for j in 0..<ldc {
          let index = i * ldc + j
          if j >= n {
            if fast[index] != c0[index] { failures += 1 }
            continue
          }
          var magnitude = 0.0
          for p in 0..<k {
            let av = ta ? a[p * lda + i] : a[i * lda + p], bv = tb ? b[j * ldb + p] : b[p * ldb + j]
            magnitude += Swift.abs(Double(av) * Double(bv))
          }
          let tolerance = Double(k + 2) * 2 * u * (0.5 * magnitude + Swift.abs(0.25 * Double(c0[index])))
          if !(Swift.abs(Double(fast[index]) - Double(reference[index])) <= tolerance) { failures += 1 }
        }
      }
      #expect(failures == 0, "M=\(m) N=\(n) K=\(k) tA=\(ta) tB=\(tb): \(failures) elements wrong or padding written")
    }
  }

  /// Products with one row or one column run as BLAS matrix–vector products: they match the
  /// reference for every transpose pair and padding, and with beta = 0 ignore NaN in C.
  /// Tolerance as in GEMMTests: `(K + 2)·2u·Σ|a·b|` per element (K ≤ 1000 here).
  @Test(arguments: [(1, 1000, 300), (1, 1, 77), (257, 1, 1000), (1, 33, 1)])
  func vectorProductsMatchReference(m: Int, n: Int, k: Int) {
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
      for (beta, nanInC) in [(Float(0), true), (0.5, false)] {
        let lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 3, ldc = n + 1
        let a = randomTensor([(ta ? k : m) * lda], seed: 14).scalars, b = randomTensor([(tb ? n : k) * ldb], seed: 15).scalars
        let c0 = nanInC ? [Float](repeating: .nan, count: m * ldc) : randomTensor([m * ldc], seed: 16).scalars
        var fast = c0, reference = c0
        a.withUnsafeBufferPointer { pa in
          b.withUnsafeBufferPointer { pb in
            fast.withUnsafeMutableBufferPointer {
              sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.75, a: pa.baseAddress!, lda: lda,
                    b: pb.baseAddress!, ldb: ldb, beta: beta, c: $0.baseAddress!, ldc: ldc)
            }
            reference.withUnsafeMutableBufferPointer {
              sgemmReference(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.75, a: pa.baseAddress!, lda: lda,
                             b: pb.baseAddress!, ldb: ldb, beta: beta, c: $0.baseAddress!, ldc: ldc)
            }
          }
        }
        let u = Double(Float.ulpOfOne) / 2
        for i in 0..<m {
          for j in 0..<n {
            var magnitude = 0.0
            for p in 0..<k {
              let av = ta ? a[p * lda + i] : a[i * lda + p], bv = tb ? b[j * ldb + p] : b[p * ldb + j]
              magnitude += Swift.abs(Double(av) * Double(bv))
            }
            let old = beta == 0 ? 0 : Swift.abs(Double(beta) * Double(c0[i * ldc + j]))
            let tolerance = Double(k + 2) * 2 * u * (0.75 * magnitude + old)
            let difference = Swift.abs(Double(fast[i * ldc + j]) - Double(reference[i * ldc + j]))
            #expect(difference <= tolerance, "M=\(m) N=\(n) K=\(k) tA=\(ta) tB=\(tb) beta=\(beta) C[\(i), \(j)]")
          }
          // Padding of C is left alone.
          if ldc > n {
            let pad = i * ldc + n
            #expect(fast[pad] == c0[pad] || (fast[pad].isNaN && c0[pad].isNaN), "M=\(m) N=\(n) wrote C padding")
          }
        }
      }
    }
  }
}
