import WinnowKernels

extension Op {
  /// Computes this op on untracked values. Returns the result and any state backward needs.
  ///
  /// Shape errors are programmer errors here (preconditions); user-facing APIs validate first.
  public func evaluate(_ inputs: [Tensor]) -> (Tensor, saved: [Int32]) {
    switch self {
    case .unary(let f):
      let x = inputs[0]
      return (Tensor(shape: x.shape) { y in
        x.withUnsafeBufferPointer { px in
          parallelFor(x.count, minimumPerChunk: Parallelism.elementwiseGrain) { r in
            f.forward(px.baseAddress! + r.lowerBound, y.baseAddress! + r.lowerBound, count: r.count)
          }
        }
      }, [])
    case .binary(let f):
      return (binaryForward(f, inputs[0], inputs[1]), [])
    case .power(let p):
      return (inputs[0].mapScalars { powf($0, p) }, [])
    case .clamp(let low, let high):
      return (inputs[0].mapScalars { Swift.min(Swift.max($0, low), high) }, [])
    case .sum(let axes):
      return (sumForward(inputs[0], axes: axes), [])
    case .max(let axis):
      return maxForward(inputs[0], axis: axis)
    case .matmul(let tA, let tB):
      return (matmulForward(inputs[0], inputs[1], transposeA: tA, transposeB: tB), [])
    case .reshape(let shape):
      precondition(shape.reduce(1, *) == inputs[0].count, "cannot reshape \(inputs[0].shape) to \(shape)")
      return (Tensor(shape: shape, storage: inputs[0].storage), [])
    case .permute(let permutation):
      return (permuteForward(inputs[0], permutation), [])
    case .expand(let shape):
      return (expandForward(inputs[0], to: shape), [])
    case .slice(let axis, let range):
      return (sliceForward(inputs[0], axis: axis, range: range), [])
    case .concat(let axis):
      return (concatForward(inputs, axis: axis), [])
    case .gather(let indices, let indexShape):
      return (gatherForward(inputs[0], indices: indices, indexShape: indexShape), [])
    case .conv2d(let stride, let padding, let dilation, let groups):
      let g = convGeometry(inputs[0].shape, inputs[1].shape, stride, padding, dilation, groups)
      return (conv2dForward(inputs[0], inputs[1], g), [])
    case .maxPool2d(let kernel, let stride, let padding):
      return maxPoolForward(inputs[0], poolGeometry(inputs[0].shape, kernel, stride, padding))
    case .avgPool2d(let kernel, let stride, let padding):
      let x = inputs[0]
      let g = poolGeometry(x.shape, kernel, stride, padding)
      let outShape = Array(x.shape.dropLast(2)) + [g.outHeight, g.outWidth]
      return (Tensor(shape: outShape) { y in
        x.withUnsafeBufferPointer { WinnowKernels.avgPool2d($0.baseAddress!, g, y.baseAddress!) }
      }, [])
    case .softmax(let axis), .logSoftmax(let axis):
      let x = inputs[0]
      let (outer, length, inner) = x.split(axis: axis)
      let log = { if case .logSoftmax = self { return true } else { return false } }()
      return (Tensor(shape: x.shape) { y in
        x.withUnsafeBufferPointer {
          softmaxAxis($0.baseAddress!, outer: outer, length: length, inner: inner, y.baseAddress!, logarithm: log)
        }
      }, [])
    case .batchNorm(let epsilon):
      return batchNormTrainingForward(inputs[0], gamma: inputs[1], beta: inputs[2], epsilon: epsilon)
    }
  }
}

extension Tensor {
  /// Evaluates `op` on `inputs` and records it when any input is tracked.
  public static func apply(_ op: Op, _ inputs: [Tensor]) -> Tensor {
    let (value, saved) = op.evaluate(inputs.map(\.detached))
    return record(op, inputs, value, saved: saved)
  }

  /// Sizes before, along and after `axis`: the `[outer, length, inner]` view of this tensor.
  func split(axis: Int) -> (outer: Int, length: Int, inner: Int) {
    precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for shape \(shape)")
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    return (outer, shape[axis], inner)
  }

  /// A new untracked tensor of the same shape with `f` applied to each element.
  func mapScalars(_ f: (Float) -> Float) -> Tensor {
    Tensor(shape: shape) { y in
      withUnsafeBufferPointer { x in for i in x.indices { y[i] = f(x[i]) } }
    }
  }
}

func binaryForward(_ f: BinaryFunction, _ a: Tensor, _ b: Tensor) -> Tensor {
  guard let outShape = broadcastShape(a.shape, b.shape) else {
    preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast for \(f)")
  }
  return Tensor(shape: outShape) { out in
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        broadcastBinary(f, pa.baseAddress!, shapeA: a.shape, pb.baseAddress!, shapeB: b.shape,
                        out.baseAddress!, outShape: outShape)
      }
    }
  }
}

func sumForward(_ x: Tensor, axes: [Int]) -> Tensor {
  var result = x
  for axis in Set(axes).sorted() {
    let (outer, length, inner) = result.split(axis: axis)
    var shape = result.shape
    shape[axis] = 1
    let source = result
    result = Tensor(shape: shape) { y in
      source.withUnsafeBufferPointer {
        sumAxis($0.baseAddress!, outer: outer, length: length, inner: inner, y.baseAddress!)
      }
    }
  }
  return result
}

func maxForward(_ x: Tensor, axis: Int) -> (Tensor, saved: [Int32]) {
  let (outer, length, inner) = x.split(axis: axis)
  var shape = x.shape
  shape[axis] = 1
  var argmax = [Int32](repeating: 0, count: outer * inner)
  let y = Tensor(shape: shape) { y in
    x.withUnsafeBufferPointer { px in
      argmax.withUnsafeMutableBufferPointer {
        maxAxis(px.baseAddress!, outer: outer, length: length, inner: inner, y.baseAddress!,
                argmax: $0.baseAddress!)
      }
    }
  }
  return (y, argmax)
}

func matmulForward(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
  precondition(a.rank >= 2 && a.rank == b.rank, "matmul needs equal ranks ≥ 2, got \(a.shape) and \(b.shape)")
  let batchShape = Array(a.shape.dropLast(2))
  precondition(batchShape == Array(b.shape.dropLast(2)), "matmul batch axes differ: \(a.shape) vs \(b.shape)")
  let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
  let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
  let m = transposeA ? ac : ar, k = transposeA ? ar : ac
  let n = transposeB ? br : bc, kb = transposeB ? bc : br
  precondition(k == kb, "matmul inner sizes differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
  let batch = batchShape.reduce(1, *)
  return Tensor(shape: batchShape + [m, n]) { c in
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        for i in 0..<batch {
          sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                a: pa.baseAddress! + i * ar * ac, lda: ac, b: pb.baseAddress! + i * br * bc, ldb: bc,
                beta: 0, c: c.baseAddress! + i * m * n, ldc: n)
        }
      }
    }
  }
}

func permuteForward(_ x: Tensor, _ permutation: [Int]) -> Tensor {
  precondition(permutation.sorted() == Array(0..<x.rank), "\(permutation) is not a permutation of \(x.rank) axes")
  return Tensor(shape: permutation.map { x.shape[$0] }) { y in
    x.withUnsafeBufferPointer { permute($0.baseAddress!, shape: x.shape, permutation: permutation, y.baseAddress!) }
  }
}

func expandForward(_ x: Tensor, to shape: [Int]) -> Tensor {
  precondition(broadcastShape(x.shape, shape) == shape, "cannot expand \(x.shape) to \(shape)")
  let zero = Tensor(shape: shape, repeating: 0)
  return binaryForward(.add, zero, x)
}

func sliceForward(_ x: Tensor, axis: Int, range: Range<Int>) -> Tensor {
  let (outer, length, inner) = x.split(axis: axis)
  precondition(range.lowerBound >= 0 && range.upperBound <= length, "slice \(range) out of bounds for axis \(axis) of \(x.shape)")
  var shape = x.shape
  shape[axis] = range.count
  return Tensor(shape: shape) { y in
    x.withUnsafeBufferPointer { px in
      for o in 0..<outer {
        let src = px.baseAddress! + (o * length + range.lowerBound) * inner
        (y.baseAddress! + o * range.count * inner).update(from: src, count: range.count * inner)
      }
    }
  }
}

func concatForward(_ inputs: [Tensor], axis: Int) -> Tensor {
  precondition(!inputs.isEmpty, "concat of no tensors")
  let first = inputs[0]
  for t in inputs {
    precondition(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == axis || t.shape[$0] == first.shape[$0] },
                 "concat along \(axis): \(t.shape) does not match \(first.shape)")
  }
  var shape = first.shape
  shape[axis] = inputs.reduce(0) { $0 + $1.shape[axis] }
  let (outer, total, inner) = (first.shape[..<axis].reduce(1, *), shape[axis], first.shape[(axis + 1)...].reduce(1, *))
  return Tensor(shape: shape) { y in
    var offset = 0
    for t in inputs {
      let length = t.shape[axis]
      t.withUnsafeBufferPointer { pt in
        for o in 0..<outer {
          (y.baseAddress! + (o * total + offset) * inner).update(from: pt.baseAddress! + o * length * inner, count: length * inner)
        }
      }
      offset += length
    }
  }
}

func gatherForward(_ table: Tensor, indices: [Int32], indexShape: [Int]) -> Tensor {
  precondition(table.rank >= 1, "gather from a scalar")
  let rows = table.shape[0]
  let rowSize = table.count / max(rows, 1)
  return Tensor(shape: indexShape + table.shape.dropFirst()) { y in
    table.withUnsafeBufferPointer { pt in
      for (i, index) in indices.enumerated() {
        precondition(index >= 0 && Int(index) < rows, "gather index \(index) out of range 0..<\(rows)")
        (y.baseAddress! + i * rowSize).update(from: pt.baseAddress! + Int(index) * rowSize, count: rowSize)
      }
    }
  }
}

func convGeometry(
  _ x: [Int], _ w: [Int], _ stride: [Int], _ padding: [Int], _ dilation: [Int], _ groups: Int
) -> Conv2DGeometry {
  precondition(x.count == 4 && w.count == 4, "conv2d needs N×C×H×W input and O×C/g×kH×kW weight, got \(x), \(w)")
  precondition(w[1] * groups == x[1], "conv2d weight \(w) with groups \(groups) does not fit \(x[1]) input channels")
  let g = Conv2DGeometry(batch: x[0], inChannels: x[1], height: x[2], width: x[3], outChannels: w[0],
                         kernelHeight: w[2], kernelWidth: w[3], stride: (stride[0], stride[1]),
                         padding: (padding[0], padding[1]), dilation: (dilation[0], dilation[1]), groups: groups)
  if let problem = g.problem { preconditionFailure("conv2d \(x) * \(w): \(problem)") }
  return g
}

/// im2col + one GEMM per image and group, written straight into `N×O×Ho×Wo`:
///
///     Y[n, group] (og × Ho·Wo) = W[group] (og × K) · im2col(x[n], group) (K × Ho·Wo)
///
/// The unfolded image (K = C/g·kH·kW rows) stays in cache, and the GEMM's output is already in
/// the result's layout, so there is no batch-sized scratch and no permute.
func conv2dForward(_ x: Tensor, _ w: Tensor, _ g: Conv2DGeometry) -> Tensor {
  let plane = g.outHeight * g.outWidth
  let og = g.outChannelsPerGroup, k = g.patchSize
  let chunks = convolutionChunks(g)
  return Tensor(shape: [g.batch, g.outChannels, g.outHeight, g.outWidth]) { y in
    x.withUnsafeBufferPointer { px in
      w.withUnsafeBufferPointer { pw in
        parallelFor(chunks) { chunkRange in
          let col = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(k * plane, 1))
          defer { col.deallocate() }
          for chunk in chunkRange {
            for n in g.batch * chunk / chunks..<g.batch * (chunk + 1) / chunks {
              for group in 0..<g.groups {
                im2col(px.baseAddress!, g, image: n, group: group, col)
                sgemm(transposeA: false, transposeB: false, m: og, n: plane, k: k, alpha: 1,
                      a: pw.baseAddress! + group * og * k, lda: k, b: col, ldb: plane, beta: 0,
                      c: y.baseAddress! + (n * g.outChannels + group * og) * plane, ldc: plane)
              }
            }
          }
        }
      }
    }
  }
}

/// Into how many contiguous chunks of images a convolution splits its batch, one per thread.
///
/// Winnow runs BLAS on one thread and splits only products of at least 2²³ multiply–adds
/// itself (`GEMM+Threads.swift`), so a convolution whose per-image GEMM is smaller — every
/// layer of the CIFAR-style ResNets at 28×28 — gets its parallelism here, images split over
/// threads, each with its own im2col (which would otherwise run on one thread). Larger
/// per-image products run image after image and split themselves. When BLAS has threads of
/// its own, only GEMMs too small for it to thread (`SMP_THRESHOLD_MIN ·
/// GEMM_MULTITHREAD_THRESHOLD` = 65536·4 multiply–adds) are split over images, so that two
/// pools do not run at once.
func convolutionChunks(_ g: Conv2DGeometry) -> Int {
  let work = g.outChannelsPerGroup * g.outHeight * g.outWidth * g.patchSize
  let limit = BLASThreads.current == 1 ? 1 << 23 : 65536 * 4
  return work < limit ? Swift.min(Parallelism.threads, g.batch) : Swift.min(1, g.batch)
}

func poolGeometry(_ x: [Int], _ kernel: [Int], _ stride: [Int], _ padding: [Int]) -> Pool2DGeometry {
  precondition(x.count >= 2, "pooling needs at least two axes, got \(x)")
  let g = Pool2DGeometry(planes: x.dropLast(2).reduce(1, *), height: x[x.count - 2], width: x[x.count - 1],
                         kernel: (kernel[0], kernel[1]), stride: (stride[0], stride[1]),
                         padding: (padding[0], padding[1]))
  if let problem = g.problem { preconditionFailure("pooling \(x) with kernel \(kernel): \(problem)") }
  return g
}

func maxPoolForward(_ x: Tensor, _ g: Pool2DGeometry) -> (Tensor, saved: [Int32]) {
  let outShape = Array(x.shape.dropLast(2)) + [g.outHeight, g.outWidth]
  var argmax = [Int32](repeating: 0, count: outShape.reduce(1, *))
  let y = Tensor(shape: outShape) { y in
    x.withUnsafeBufferPointer { px in
      argmax.withUnsafeMutableBufferPointer { maxPool2d(px.baseAddress!, g, y.baseAddress!, argmax: $0.baseAddress!) }
    }
  }
  return (y, argmax)
}

/// `N×C×…` as (N, C, values per plane), checking γ and β have `C` values.
func batchNormLayout(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor) -> (batch: Int, channels: Int, plane: Int) {
  precondition(x.rank >= 2, "batch norm needs N×C×… input, got \(x.shape)")
  let channels = x.shape[1]
  precondition(gamma.shape == [channels] && beta.shape == [channels],
               "batch norm of \(x.shape) needs γ and β of [\(channels)], got \(gamma.shape) and \(beta.shape)")
  return (x.shape[0], channels, x.shape[2...].reduce(1, *))
}

/// The batch mean and biased variance of each channel, packed into `saved` as Float bit
/// patterns (`C` means, then `C` variances).
func batchNormTrainingForward(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) -> (Tensor, saved: [Int32]) {
  let (batch, channels, plane) = batchNormLayout(x, gamma, beta)
  var statistics = [Float](repeating: 0, count: 2 * channels)
  let y = Tensor(shape: x.shape) { y in
    x.withUnsafeBufferPointer { px in
      gamma.withUnsafeBufferPointer { pg in
        beta.withUnsafeBufferPointer { pb in
          statistics.withUnsafeMutableBufferPointer { s in
            batchNormForward(px.baseAddress!, batch: batch, channels: channels, plane: plane, gamma: pg.baseAddress!,
                             beta: pb.baseAddress!, epsilon: epsilon, y.baseAddress!, mean: s.baseAddress!,
                             variance: s.baseAddress! + channels)
          }
        }
      }
    }
  }
  return (y, statistics.map { Int32(bitPattern: $0.bitPattern) })
}

extension Tensor {
  /// Training-mode batch normalisation over axis 1 (see ``Op/batchNorm(epsilon:)``), recorded
  /// when any input is tracked. Returns the result and each channel's batch mean and biased
  /// variance (untracked, `C` values each) for the running statistics.
  public func batchNormalized(gamma: Tensor, beta: Tensor, epsilon: Float) -> (output: Tensor, mean: Tensor, variance: Tensor) {
    let op = Op.batchNorm(epsilon: epsilon)
    let inputs = [self, gamma, beta]
    let (value, saved) = op.evaluate(inputs.map(\.detached))
    let channels = gamma.count
    let statistics = saved.map { Float(bitPattern: UInt32(bitPattern: $0)) }
    return (Tensor.record(op, inputs, value, saved: saved),
            Tensor(shape: [channels], scalars: Array(statistics[..<channels])),
            Tensor(shape: [channels], scalars: Array(statistics[channels...])))
  }
}
