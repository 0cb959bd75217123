import WinnowCore

/// A tensor stored as codes plus per-block scales (and zero points): what packed kernels take.
///
/// Blocks are contiguous runs of `blockSize` elements in row-major order — the whole tensor,
/// one output channel (a row of `O×K` weights, or `C·kH·kW` of a convolution), or one group of
/// a row. Block `b` owns `scales[b]` and `zeroPoints[b]`. Codes are `Int8`: integer codes in
/// the scheme's ``QuantizationScheme/codeRange``, ±1 for binary, and for FP8 the byte itself as
/// `Int8(bitPattern:)` (see ``fp8Bytes``).
///
/// The runtime's formats glue on directly: int8 per-channel symmetric → `codes.scalars` (O×K)
/// and `scales` (O); int4 group-wise → ``BitPacking/pack(_:bits:rowLength:)`` of the codes and
/// `scales` (O·K/g, row-major); binary → the signs and `scales` (O).
public struct QuantizedTensor: Sendable, Equatable {
  public let scheme: QuantizationScheme
  public let codes: IntegerTensor<Int8>
  public let scales: [Float]
  /// Zero for symmetric, FP8 and binary schemes.
  public let zeroPoints: [Int32]
  public let blockSize: Int

  public var shape: [Int] { codes.shape }

  public init(scheme: QuantizationScheme, codes: IntegerTensor<Int8>, scales: [Float], zeroPoints: [Int32], blockSize: Int) {
    precondition(scales.count == zeroPoints.count && scales.count * blockSize == codes.count,
                 "\(scales.count) scales of blocks of \(blockSize) for \(codes.count) codes")
    self.scheme = scheme
    self.codes = codes
    self.scales = scales
    self.zeroPoints = zeroPoints
    self.blockSize = blockSize
  }

  /// Integer codes packed row by row (rows = axis 0) at the scheme's width: two per byte for
  /// 4-bit and 3-bit codes, four per byte for 2-bit, one for 5…8 bits (see ``BitPacking``).
  /// Nil for FP8 (use ``fp8Bytes``) and binary (sign bits are the binary kernels' own layout).
  public var packedCodes: [UInt8]? {
    guard case .integer(let bits, _, _) = scheme else { return nil }
    let width = bits <= 2 ? 2 : bits <= 4 ? 4 : 8
    let rowLength = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : codes.count
    return BitPacking.pack(codes.scalars, bits: width, rowLength: Swift.max(rowLength, 1))
  }

  /// FP8 codes as bytes.
  public var fp8Bytes: [UInt8] { codes.scalars.map { UInt8(bitPattern: $0) } }

  /// `x̂`: the values the codes stand for.
  public func dequantized() -> Tensor {
    var out = [Float](repeating: 0, count: codes.count)
    codes.scalars.withUnsafeBufferPointer { q in
      for block in scales.indices {
        let s = scales[block], z = zeroPoints[block]
        for i in block * blockSize..<(block + 1) * blockSize {
          switch scheme {
          case .fp8(let format): out[i] = format.decode(UInt8(bitPattern: q[i])) * s
          case .integer, .binary: out[i] = Float(Int32(q[i]) - z) * s
          }
        }
      }
    }
    return Tensor(shape: shape, scalars: out)
  }

  /// Bits of storage: codes at the scheme's width, a Float32 per scale, 8 bits per zero point
  /// of asymmetric schemes. Dense layout; sparse storage adds its indices (see sizes in
  /// `QuantizationReport`).
  public var storageBits: Int {
    codes.count * scheme.bitsPerElement + scales.count * 32 + (scheme.isSymmetric ? 0 : zeroPoints.count * 8)
  }
}

extension QuantizationScheme {
  /// Quantizes `x` with scales from `ranges` (one closed range per block; by default the
  /// min–max of each block). `layer` names the tensor in errors.
  ///
  /// Binary ignores `ranges`: its scale is the block's mean |x|.
  public func quantize(_ x: Tensor, ranges: [ClosedRange<Float>]? = nil, layer: String = "tensor") throws(QuantizationError) -> QuantizedTensor {
    let blockSize = try self.blockSize(for: x.shape, layer: layer)
    let values = x.scalars
    let blocks = values.count / blockSize
    let blockRanges = ranges ?? (0..<blocks).map { b in Self.minMax(values[b * blockSize..<(b + 1) * blockSize]) }
    guard blockRanges.count == blocks else {
      throw .unsupportedUse(layer: layer, scheme: description, reason: "\(blockRanges.count) ranges for \(blocks) blocks")
    }
    var codes = [Int8](repeating: 0, count: values.count)
    var scales = [Float](repeating: 1, count: blocks), zeroPoints = [Int32](repeating: 0, count: blocks)
    for b in 0..<blocks {
      let span = b * blockSize..<(b + 1) * blockSize
      let (s, z) = parameters(for: blockRanges[b], block: values[span])
      scales[b] = s
      zeroPoints[b] = z
      for i in span { codes[i] = code(values[i], scale: s, zeroPoint: z) }
    }
    return QuantizedTensor(scheme: self, codes: IntegerTensor(shape: x.shape, scalars: codes), scales: scales,
                           zeroPoints: zeroPoints, blockSize: blockSize)
  }

  /// `dequantize(quantize(x))`, untracked.
  public func fakeQuantize(_ x: Tensor, ranges: [ClosedRange<Float>]? = nil, layer: String = "tensor") throws(QuantizationError) -> Tensor {
    try quantize(x, ranges: ranges, layer: layer).dequantized()
  }

  /// Scale and zero point of one block whose values span `range` (PyTorch's observer formulas
  /// for the integer schemes; a zero scale — an all-zero block — becomes 1).
  public func parameters(for range: ClosedRange<Float>, block: ArraySlice<Float> = []) -> (scale: Float, zeroPoint: Int32) {
    let amax = Swift.max(abs(range.lowerBound), abs(range.upperBound))
    switch self {
    case .integer(_, let symmetric, _):
      let q = codeRange
      if symmetric { return (nonzero(amax / Float(q.upperBound)), 0) }
      let low = Swift.min(range.lowerBound, 0), high = Swift.max(range.upperBound, 0)
      let s = nonzero((high - low) / Float(q.upperBound - q.lowerBound))
      let z = Float(q.lowerBound) - (low / s).rounded(.toNearestOrEven)
      return (s, Int32(Swift.min(Swift.max(z, Float(q.lowerBound)), Float(q.upperBound))))
    case .fp8(let format):
      return (nonzero(amax / format.maxFinite), 0)
    case .binary:
      let meanAbs = block.isEmpty ? amax : block.reduce(Float(0)) { $0 + abs($1) } / Float(block.count)
      return (nonzero(meanAbs), 0)
    }
  }

  /// The code of one value. Integers follow `torch.fake_quantize_*_affine`:
  /// `clamp(nearbyint(x · (1/s) + z), q_min, q_max)`; FP8 saturates.
  @inline(__always)
  func code(_ x: Float, scale: Float, zeroPoint: Int32) -> Int8 {
    switch self {
    case .integer:
      let q = codeRange
      let v = (x * (1 / scale) + Float(zeroPoint)).rounded(.toNearestOrEven)
      guard !v.isNaN else { return Int8(zeroPoint) }
      return Int8(Swift.min(Swift.max(v, Float(q.lowerBound)), Float(q.upperBound)))
    case .fp8(let format):
      return Int8(bitPattern: format.encode(x / scale, saturate: true))
    case .binary:
      return x < 0 ? -1 : 1
    }
  }

  static func minMax(_ values: ArraySlice<Float>) -> ClosedRange<Float> {
    var low = Float.infinity, high = -Float.infinity
    for v in values where v.isFinite {
      low = Swift.min(low, v)
      high = Swift.max(high, v)
    }
    return low <= high ? low...high : 0...0
  }
}

private func nonzero(_ scale: Float) -> Float { scale > 0 && scale.isFinite ? scale : 1 }
