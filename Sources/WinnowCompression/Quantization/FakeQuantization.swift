import WinnowCore

/// Differentiable fake quantization for quantization-aware training: the forward value is
/// exactly `dequantize(quantize(x))`, the backward pass a straight-through estimate.
///
/// Both estimators are compositions of recorded primitives (maximum/minimum, divide, clamp,
/// multiply) and constants computed off the record, not a new `Op`: the true derivative of
/// fake quantization is zero almost everywhere, so an `Op` for it could never pass the
/// finite-difference check every op must pass — the estimators are defined by which
/// derivative they *pretend* rounding has, and these compositions make that explicit while
/// every primitive in them keeps its exact, checked derivative. The trick throughout is
/// `a + (b − stopgrad(b))`: the value of `a` exactly (the bracket is exactly 0), the gradient of `b`.
public enum FakeQuantization {
  /// Straight-through estimator (Bengio et al. 2013; survey of Gholami et al., §III-F):
  ///
  ///     y = fq(x)          ∂y/∂x = 1 where lo_b ≤ x ≤ hi_b, else 0
  ///
  /// `[lo_b, hi_b]` is block `b`'s representable range `[(q_min − z)·s, (q_max − z)·s]` (FP8:
  /// ±max·s; binary: unclipped). With the default min–max ranges nothing is clipped, so the
  /// gradient is the identity; calibrated ranges clip outliers and stop their gradient.
  public static func straightThrough(
    _ x: Tensor, scheme: QuantizationScheme, ranges: [ClosedRange<Float>]? = nil, layer: String = "tensor"
  ) throws(QuantizationError) -> Tensor {
    let q = try scheme.quantize(x.detached, ranges: ranges, layer: layer)
    let value = q.dequantized()
    guard x.isTracked else { return value }
    let blocks = q.scales.count
    let (low, high) = clippingBounds(q)
    let rows = x.reshaped([blocks, q.blockSize])
    let clipped = rows.maximum(Tensor(shape: [blocks, 1], scalars: low))
      .minimum(Tensor(shape: [blocks, 1], scalars: high)).reshaped(x.shape)
    return value + (clipped - clipped.detached)
  }

  /// Per-block representable range of a quantized tensor.
  static func clippingBounds(_ q: QuantizedTensor) -> (low: [Float], high: [Float]) {
    let range = q.scheme.codeRange
    var low = [Float](), high = [Float]()
    for (s, z) in zip(q.scales, q.zeroPoints) {
      switch q.scheme {
      case .integer:
        low.append(Float(range.lowerBound - Int(z)) * s)
        high.append(Float(range.upperBound - Int(z)) * s)
      case .fp8(let format):
        low.append(-format.maxFinite * s)
        high.append(format.maxFinite * s)
      case .binary:
        low.append(-.greatestFiniteMagnitude)
        high.append(.greatestFiniteMagnitude)
      }
    }
    return (low, high)
  }

  /// Learned step size quantization (LSQ; Esser et al. 2020, "Learned Step Size Quantization"):
  ///
  ///     x̂ = s·round(clamp(x/s, q_min, q_max))
  ///     ∂x̂/∂x = 1 inside the range, 0 outside
  ///     ∂x̂/∂s = g·(round(x/s) − x/s) inside, g·q_min or g·q_max outside
  ///
  /// for symmetric integers of `bits` bits (`q_max = 2^(b−1) − 1 = −q_min`). `step` holds one
  /// step per block: shape `[blocks]` where `x` is `blocks × blockSize` in row-major order
  /// (`[O]` for per-channel weights, `[1]` per tensor). `g = 1/√(blockSize · q_max)` is the
  /// paper's gradient scale (pass 1 to disable). Built as
  ///
  ///     ŝ = s + (g·s − stopgrad(g·s)),  v = clamp(x/ŝ),  x̂ = ŝ·(v + stopgrad(round(v) − v))
  ///
  /// `round(v) − v` is exact in Float (Sterbenz), so the value is exactly `s·q`; ∂x̂/∂x inside
  /// is computed as `ŝ·(1/ŝ)`, which is 1 within an ulp.
  public static func learnedStepSize(_ x: Tensor, step: Tensor, bits: Int, gradientScale: Float? = nil) -> Tensor {
    precondition((2...8).contains(bits), "LSQ takes 2…8 bits, got \(bits)")
    let blocks = step.count, blockSize = x.count / Swift.max(blocks, 1)
    precondition(blocks * blockSize == x.count, "\(blocks) steps do not tile \(x.shape)")
    let qMax = Float((1 << (bits - 1)) - 1)
    let g = gradientScale ?? 1 / (Float(blockSize) * qMax).squareRoot()
    // |s|: an optimizer step may push a small step through zero; the magnitude is what counts.
    let s = step.abs().reshaped([blocks, 1])
    let scaled = s.detached + (s * g - (s * g).detached)
    let v = (x.reshaped([blocks, blockSize]) / scaled).clamped(-qMax, qMax)
    let rounding = Tensor(shape: v.shape, scalars: v.detached.scalars.map { $0.rounded(.toNearestOrEven) - $0 })
    return (scaled * (v + rounding)).reshaped(x.shape)
  }

  /// Initial LSQ steps for `x`: the scales of `scheme` (symmetric integer) over `ranges`.
  public static func initialSteps(
    _ x: Tensor, scheme: QuantizationScheme, ranges: [ClosedRange<Float>]? = nil, layer: String
  ) throws(QuantizationError) -> Tensor {
    guard case .integer(_, true, _) = scheme else {
      throw .unsupportedUse(layer: layer, scheme: scheme.description, reason: "LSQ learns the step of symmetric integer schemes")
    }
    let q = try scheme.quantize(x.detached, ranges: ranges, layer: layer)
    return Tensor(shape: [q.scales.count], scalars: q.scales)
  }
}
