import WinnowCore
import WinnowKernels

/// The geometry of a convolution compiled to a matrix product (all but the image size).
public struct ConvolutionShape: Hashable, Sendable {
  public var inChannels: Int, outChannels: Int
  public var kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]

  func geometry(batch: Int, height: Int, width: Int) -> Conv2DGeometry {
    Conv2DGeometry(
      batch: batch, inChannels: inChannels, height: height, width: width, outChannels: outChannels,
      kernelHeight: kernel[0], kernelWidth: kernel[1], stride: (stride[0], stride[1]),
      padding: (padding[0], padding[1]), dilation: (dilation[0], dilation[1]))
  }
}

/// One time measurement of a layer's product in some format.
public struct KernelTiming: Hashable, Sendable {
  public var format: WeightFormat
  public var kernel: String
  /// Median seconds of one product at the tuning batch.
  public var seconds: Double
}

/// A Linear or convolution of the model, its weights packed, with bias and activation fused.
public struct CompiledLayer: Sendable {
  public enum Kind: Hashable, Sendable {
    case linear
    case convolution(ConvolutionShape)
  }
  /// The layer's name in the model (`conv1`, `layers.2`).
  public let name: String
  public let kind: Kind
  public var format: WeightFormat
  public var weights: any PackedLinearWeights
  public let bias: [Float]?
  public let activation: EpilogueActivation
  /// Rows of the product per batch element (1 for Linear on `B×K`, `Ho·Wo` for a convolution
  /// at the traced image size): how the compiler sizes its timing runs.
  public let rowsPerExample: Int
  /// What the compiler measured when it chose ``format`` (empty when the format was given).
  public var timings: [KernelTiming] = []

  /// Non-zero weights (for the report).
  public let nonZeros: Int
  /// All weights, zero or not.
  public let weightCount: Int

  /// `y = activation(x·Wᵀ + bias)` on rows of `x` (`M×K`).
  func multiply(_ x: UnsafePointer<Float>, m: Int, into y: UnsafeMutablePointer<Float>) {
    if let bias {
      bias.withUnsafeBufferPointer { weights.multiply(x, m: m, bias: $0.baseAddress, activation: activation, into: y) }
    } else {
      weights.multiply(x, m: m, bias: nil, activation: activation, into: y)
    }
  }

  /// Runs the layer on `x` (`[…, K]` for Linear, `B×C×H×W` for a convolution).
  func run(_ x: Tensor) -> Tensor {
    switch kind {
    case .linear: return runLinear(x)
    case .convolution(let shape): return runConvolution(x, shape)
    }
  }

  private func runLinear(_ x: Tensor) -> Tensor {
    let k = weights.inputFeatures, n = weights.outputFeatures
    let m = x.count / k
    return Tensor(shape: Array(x.shape.dropLast()) + [n]) { y in
      x.withUnsafeBufferPointer { multiply($0.baseAddress!, m: m, into: y.baseAddress!) }
    }
  }

  /// Per image: im2col (`C·kH·kW × Ho·Wo`, the transposed layout), then
  /// `Yᵀ = W·colᵀ` straight into the image's `O×Ho×Wo` output. A 1×1 convolution with unit
  /// stride and no padding skips im2col: the image already is its own column matrix.
  private func runConvolution(_ x: Tensor, _ shape: ConvolutionShape) -> Tensor {
    let g = shape.geometry(batch: x.shape[0], height: x.shape[2], width: x.shape[3])
    let plane = g.outHeight * g.outWidth, patch = g.patchSize, n = shape.outChannels
    let pointwise = shape.kernel == [1, 1] && shape.stride == [1, 1] && shape.padding == [0, 0]
    let imageSize = shape.inChannels * g.height * g.width
    return Tensor(shape: [g.batch, n, g.outHeight, g.outWidth]) { y in
      x.withUnsafeBufferPointer { xp in
        let run = { (images: Range<Int>) in
          let columns = UnsafeMutablePointer<Float>.allocate(capacity: pointwise ? 1 : patch * plane)
          defer { columns.deallocate() }
          for image in images {
            var source = UnsafePointer(xp.baseAddress! + image * imageSize)
            if !pointwise {
              im2col(xp.baseAddress!, g, image: image, group: 0, columns)
              source = UnsafePointer(columns)
            }
            multiplyTransposed(source, m: plane, into: y.baseAddress! + image * n * plane)
          }
        }
        // Images in parallel when there are enough of them; otherwise the kernel splits rows.
        if g.batch >= Parallelism.threads && g.batch > 1 { parallelFor(g.batch) { run($0) } } else { run(0..<g.batch) }
      }
    }
  }

  func multiplyTransposed(_ xT: UnsafePointer<Float>, m: Int, into yT: UnsafeMutablePointer<Float>) {
    if let bias {
      bias.withUnsafeBufferPointer { weights.multiplyTransposed(xT, m: m, bias: $0.baseAddress, activation: activation, into: yT) }
    } else {
      weights.multiplyTransposed(xT, m: m, bias: nil, activation: activation, into: yT)
    }
  }
}
