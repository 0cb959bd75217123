import WinnowKernels

extension Op {
  /// Vector–Jacobian product: maps the cotangent of the output to one cotangent per input.
  ///
  /// `inputs` and `output` are the untracked forward values; `saved` is the extra state the
  /// forward returned; `needed[i]` is false when input `i` needs no gradient (it is then
  /// skipped and nil is returned for it). Every case is listed; there is no `default`.
  func vjp(_ g: Tensor, inputs: [Tensor], output: Tensor, saved: [Int32], needed: [Bool]) -> [Tensor?] {
    switch self {
    case .unary(let f):
      let x = inputs[0]
      return [Tensor(shape: x.shape) { dx in
        x.withUnsafeBufferPointer { px in
          output.withUnsafeBufferPointer { py in
            g.withUnsafeBufferPointer { pg in
              parallelFor(x.count, minimumPerChunk: Parallelism.elementwiseGrain) { r in
                let i = r.lowerBound
                f.backward(x: px.baseAddress! + i, y: py.baseAddress! + i, g: pg.baseAddress! + i,
                           dx: dx.baseAddress! + i, count: r.count)
              }
            }
          }
        }
      }]
    case .binary(let f):
      let (a, b) = (inputs[0], inputs[1])
      let (ga, gb): (Tensor?, Tensor?)
      switch f {
      case .add: (ga, gb) = (g, g)
      case .subtract: (ga, gb) = (g, needed[1] ? -g : nil)
      case .multiply: (ga, gb) = (needed[0] ? g * b : nil, needed[1] ? g * a : nil)
      case .divide: (ga, gb) = (needed[0] ? g / b : nil, needed[1] ? -(g * a) / (b * b) : nil)
      case .maximum, .minimum:
        let pickA = binaryForward(f == .maximum ? .subtract : .subtract, a, b).mapScalars {
          f == .maximum ? ($0 >= 0 ? 1 : 0) : ($0 <= 0 ? 1 : 0)
        }
        (ga, gb) = (g * pickA, g * (1 - pickA))
      }
      return [needed[0] ? ga.map { $0.summed(toShape: a.shape) } : nil,
              needed[1] ? gb.map { $0.summed(toShape: b.shape) } : nil]
    case .power(let p):
      return [g * inputs[0].mapScalars { p * powf($0, p - 1) }]
    case .clamp(let low, let high):
      return [g * inputs[0].mapScalars { $0 >= low && $0 <= high ? 1 : 0 }]
    case .sum:
      return [expandForward(g, to: inputs[0].shape)]
    case .max(let axis):
      let x = inputs[0]
      let (outer, length, inner) = x.split(axis: axis)
      return [Tensor(shape: x.shape) { dx in
        dx.update(repeating: 0)
        g.withUnsafeBufferPointer { pg in
          for o in 0..<outer {
            for i in 0..<inner {
              let k = o * inner + i
              dx[(o * length + Int(saved[k])) * inner + i] = pg[k]
            }
          }
        }
      }]
    case .matmul(let tA, let tB):
      let (a, b) = (inputs[0], inputs[1])
      var da: Tensor?, db: Tensor?
      switch (tA, tB) {
      case (false, false):
        if needed[0] { da = matmulForward(g, b, transposeA: false, transposeB: true) }
        if needed[1] { db = matmulForward(a, g, transposeA: true, transposeB: false) }
      case (false, true):
        if needed[0] { da = matmulForward(g, b, transposeA: false, transposeB: false) }
        if needed[1] { db = matmulForward(g, a, transposeA: true, transposeB: false) }
      case (true, false):
        if needed[0] { da = matmulForward(b, g, transposeA: false, transposeB: true) }
        if needed[1] { db = matmulForward(a, g, transposeA: false, transposeB: false) }
      case (true, true):
        if needed[0] { da = matmulForward(b, g, transposeA: true, transposeB: true) }
        if needed[1] { db = matmulForward(g, a, transposeA: true, transposeB: true) }
      }
      return [da, db]
    case .reshape:
      return [Tensor(shape: inputs[0].shape, storage: g.storage)]
    case .permute(let permutation):
      var inverse = permutation
      for (i, p) in permutation.enumerated() { inverse[p] = i }
      return [permuteForward(g, inverse)]
    case .expand:
      return [g.summed(toShape: inputs[0].shape)]
    case .slice(let axis, let range):
      let x = inputs[0]
      let (outer, length, inner) = x.split(axis: axis)
      return [Tensor(shape: x.shape) { dx in
        dx.update(repeating: 0)
        g.withUnsafeBufferPointer { pg in
          for o in 0..<outer {
            (dx.baseAddress! + (o * length + range.lowerBound) * inner)
              .update(from: pg.baseAddress! + o * range.count * inner, count: range.count * inner)
          }
        }
      }]
    case .concat(let axis):
      var offset = 0
      return inputs.enumerated().map { i, t in
        defer { offset += t.shape[axis] }
        return needed[i] ? sliceForward(g, axis: axis, range: offset..<(offset + t.shape[axis])) : nil
      }
    case .gather(let indices, _):
      let table = inputs[0]
      let rowSize = table.count / Swift.max(table.shape[0], 1)
      return [Tensor(shape: table.shape) { dt in
        dt.update(repeating: 0)
        g.withUnsafeBufferPointer { pg in
          for (i, index) in indices.enumerated() {
            let dst = dt.baseAddress! + Int(index) * rowSize
            let src = pg.baseAddress! + i * rowSize
            for j in 0..<rowSize { dst[j] += src[j] }
          }
        }
      }]
    case .conv2d(let stride, let padding, let dilation, let groups):
      let g2 = convGeometry(inputs[0].shape, inputs[1].shape, stride, padding, dilation, groups)
      return conv2dBackward(g, inputs[0], inputs[1], g2, needed: needed)
    case .maxPool2d(let kernel, let stride, let padding):
      let x = inputs[0]
      let geometry = poolGeometry(x.shape, kernel, stride, padding)
      return [Tensor(shape: x.shape) { dx in
        dx.update(repeating: 0)
        g.withUnsafeBufferPointer { pg in
          saved.withUnsafeBufferPointer { maxPool2dBackward(pg.baseAddress!, argmax: $0.baseAddress!, geometry, dx.baseAddress!) }
        }
      }]
    case .avgPool2d(let kernel, let stride, let padding):
      let x = inputs[0]
      let geometry = poolGeometry(x.shape, kernel, stride, padding)
      return [Tensor(shape: x.shape) { dx in
        dx.update(repeating: 0)
        g.withUnsafeBufferPointer { WinnowKernels.avgPool2d($0.baseAddress!, geometry, dx.baseAddress!, backward: true) }
      }]
    case .softmax(let axis), .logSoftmax(let axis):
      let (outer, length, inner) = output.split(axis: axis)
      let log = { if case .logSoftmax = self { return true } else { return false } }()
      return [Tensor(shape: output.shape) { dx in
        output.withUnsafeBufferPointer { py in
          g.withUnsafeBufferPointer { pg in
            softmaxAxisBackward(y: py.baseAddress!, g: pg.baseAddress!, outer: outer, length: length, inner: inner,
                                dx.baseAddress!, logarithm: log)
          }
        }
      }]
    case .batchNorm(let epsilon):
      return batchNormTrainingBackward(g, inputs[0], gamma: inputs[1], saved: saved, epsilon: epsilon, needed: needed)
    }
  }
}

/// Gradients of training-mode batch norm for x, γ and β from the saved batch statistics
/// (`WinnowKernels.batchNormBackward`: one pass for the two sums, one for dx).
func batchNormTrainingBackward(_ dy: Tensor, _ x: Tensor, gamma: Tensor, saved: [Int32], epsilon: Float, needed: [Bool]) -> [Tensor?] {
  let (batch, channels, plane) = batchNormLayout(x, gamma, gamma)
  precondition(saved.count == 2 * channels, "batch norm backward needs \(2 * channels) saved statistics, got \(saved.count)")
  let statistics = saved.map { Float(bitPattern: UInt32(bitPattern: $0)) }
  let dx = needed[0] ? TensorStorage(uninitializedCount: x.count) : nil
  var dGamma = [Float](repeating: 0, count: channels), dBeta = dGamma
  x.withUnsafeBufferPointer { px in
    dy.withUnsafeBufferPointer { pdy in
      gamma.withUnsafeBufferPointer { pg in
        statistics.withUnsafeBufferPointer { s in
          dGamma.withUnsafeMutableBufferPointer { dg in
            dBeta.withUnsafeMutableBufferPointer { db in
              batchNormBackward(px.baseAddress!, pdy.baseAddress!, batch: batch, channels: channels, plane: plane,
                                gamma: pg.baseAddress!, mean: s.baseAddress!, variance: s.baseAddress! + channels,
                                epsilon: epsilon, dx: dx?.base, dGamma: dg.baseAddress!, dBeta: db.baseAddress!)
            }
          }
        }
      }
    }
  }
  return [dx.map { Tensor(shape: x.shape, storage: $0) },
          needed[1] ? Tensor(shape: [channels], scalars: dGamma) : nil,
          needed[2] ? Tensor(shape: [channels], scalars: dBeta) : nil]
}

/// Gradients of conv2d, image by image (as the forward), per group:
///
///     dW[group] += dY[n, group] · im2col(x[n], group)ᵀ        (og × K)
///     dX[n]     += col2im(W[group]ᵀ · dY[n, group])            (K × Ho·Wo folded back)
///
/// `dY[n, group]` is a contiguous `og × Ho·Wo` block of `N×O×Ho×Wo`, so no permute is needed.
/// Parallel chunks of images accumulate their own dW, summed in chunk order at the end.
func conv2dBackward(_ dy: Tensor, _ x: Tensor, _ w: Tensor, _ g: Conv2DGeometry, needed: [Bool]) -> [Tensor?] {
  let plane = g.outHeight * g.outWidth
  let og = g.outChannelsPerGroup, k = g.patchSize
  let chunks = convolutionChunks(g)
  let dx = needed[0] ? TensorStorage(uninitializedCount: x.count) : nil
  let dw = needed[1] ? TensorStorage(repeating: 0, count: w.count) : nil
  // Chunk 0 accumulates into dw itself, the others into their own part of `partials`.
  let partials = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max((chunks - 1) * w.count, 1))
  defer { partials.deallocate() }
  let imageSize = g.inChannels * g.height * g.width
  x.withUnsafeBufferPointer { px in
    w.withUnsafeBufferPointer { pw in
      dy.withUnsafeBufferPointer { pdy in
        parallelFor(chunks) { chunkRange in
          let col = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(k * plane, 1))
          defer { col.deallocate() }
          for chunk in chunkRange {
            let images = g.batch * chunk / chunks..<g.batch * (chunk + 1) / chunks
            let dwChunk = chunk == 0 ? dw?.base : partials + (chunk - 1) * w.count
            for n in images {
              dx.map { ($0.base + n * imageSize).update(repeating: 0, count: imageSize) }
              for group in 0..<g.groups {
                let dyGroup = pdy.baseAddress! + (n * g.outChannels + group * og) * plane
                if let dwChunk {
                  im2col(px.baseAddress!, g, image: n, group: group, col)
                  sgemm(transposeA: false, transposeB: true, m: og, n: k, k: plane, alpha: 1,
                        a: dyGroup, lda: plane, b: col, ldb: plane, beta: n == images.lowerBound ? 0 : 1,
                        c: dwChunk + group * og * k, ldc: k)
                }
                if let dx {
                  sgemm(transposeA: true, transposeB: false, m: k, n: plane, k: og, alpha: 1,
                        a: pw.baseAddress! + group * og * k, lda: k, b: dyGroup, ldb: plane, beta: 0,
                        c: col, ldc: plane)
                  col2im(col, g, image: n, group: group, dx.base)
                }
              }
            }
          }
        }
      }
    }
  }
  if let dw {
    for chunk in 1..<Swift.max(chunks, 1) {
      let part = partials + (chunk - 1) * w.count
      for i in 0..<w.count { dw.base[i] += part[i] }
    }
  }
  return [dx.map { Tensor(shape: x.shape, storage: $0) }, dw.map { Tensor(shape: w.shape, storage: $0) }]
}

extension Tensor {
  /// Sums a broadcast result back to `shape` (the adjoint of broadcasting `shape` up to ours).
  public func summed(toShape target: [Int]) -> Tensor {
    if shape == target { return self }
    let pad = rank - target.count
    precondition(pad >= 0, "cannot sum \(shape) down to \(target)")
    var axes: [Int] = Array(0..<pad)
    for i in 0..<target.count where target[i] == 1 && shape[i + pad] != 1 { axes.append(i + pad) }
    let reduced = sumForward(self, axes: axes)
    return Tensor(shape: target, storage: reduced.storage)
  }
}
