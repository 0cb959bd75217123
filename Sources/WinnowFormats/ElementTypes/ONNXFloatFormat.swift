/// The floating-point element types of ONNX other than float32, with an exact codec between
/// their bit patterns and Float32.
///
/// Every format but `double` is a subset of Float32, so Winnow computes on decoded Float32
/// values and rounds results back; `double` is held as the nearest Float32. Rounding a value
/// that was itself rounded from a double to Float32 gives the same float16 or narrower result
/// as rounding the double directly (Float32 has p = 24 ≥ 2·11 + 2 bits, so the double rounding
/// is innocuous — Figueroa 1995).
///
/// | format | bits S.E.M | bias | max finite | infinities | NaN |
/// |---|---|---|---|---|---|
/// | `float16` | 1.5.10 | 15 | 65504 | yes | exponent all ones |
/// | `bfloat16` | 1.8.7 | 127 | ≈3.39·10³⁸ | yes | exponent all ones |
/// | `float8e4m3fn` | 1.4.3 | 7 | 448 | no | `S.1111.111` |
/// | `float8e4m3fnuz` | 1.4.3 | 8 | 240 | no | `1.0000.000` (no −0) |
/// | `float8e5m2` | 1.5.2 | 15 | 57344 | yes | exponent all ones |
/// | `float8e5m2fnuz` | 1.5.2 | 16 | 57344 | no | `1.00000.00` (no −0) |
/// | `float4e2m1` | 1.2.1 | 1 | 6 | no | none |
/// | `float8e8m0` | 0.8.0 | 127 | 2¹²⁷ | no | `0xFF` (no zero, no sign) |
///
/// Encoding rounds to nearest, ties to even (E8M0: the rounding mode of ONNX `Cast`). Worked
/// example (float16): 1 + 2⁻¹¹ lies halfway between 1 (`0x3C00`) and 1 + 2⁻¹⁰ (`0x3C01`); the
/// even code `0x3C00` wins. `FP8Format` of WinnowCompression is the independent oracle the
/// tests compare the two formats they share against, code by code.
public struct ONNXFloatFormat: Sendable, Hashable {
  /// How the format spends its largest codes on infinities and NaN.
  public enum Specials: Sendable, Hashable {
    /// IEEE 754: the all-ones exponent holds ±∞ (mantissa 0) and NaN.
    case ieee
    /// Finite only, NaN = all magnitude bits set (`e4m3fn`).
    case finiteAllOnesNaN
    /// Finite only, NaN = the negative-zero code, no −0 (`fnuz`).
    case finiteNegativeZeroNaN
    /// Finite only, no NaN (`float4e2m1`).
    case finite
  }

  public let dataType: TensorProto.DataType
  public let exponentBits: Int
  public let mantissaBits: Int
  public let bias: Int
  public let specials: Specials

  /// The format of a floating-point ONNX type other than float32 and double; nil otherwise.
  public init?(_ type: TensorProto.DataType) {
    switch type {
    case .float16: self.init(type, 5, 10, 15, .ieee)
    case .bfloat16: self.init(type, 8, 7, 127, .ieee)
    case .float8e4m3fn: self.init(type, 4, 3, 7, .finiteAllOnesNaN)
    case .float8e4m3fnuz: self.init(type, 4, 3, 8, .finiteNegativeZeroNaN)
    case .float8e5m2: self.init(type, 5, 2, 15, .ieee)
    case .float8e5m2fnuz: self.init(type, 5, 2, 16, .finiteNegativeZeroNaN)
    case .float4e2m1: self.init(type, 2, 1, 1, .finite)
    default: return nil
    }
  }

  private init(_ type: TensorProto.DataType, _ e: Int, _ m: Int, _ bias: Int, _ specials: Specials) {
    (dataType, exponentBits, mantissaBits, self.bias, self.specials) = (type, e, m, bias, specials)
  }

  /// Bits per value (sign included).
  public var bitWidth: Int { 1 + exponentBits + mantissaBits }
  var signBit: UInt32 { 1 << UInt32(exponentBits + mantissaBits) }
  var magnitudeMask: UInt32 { signBit - 1 }

  /// The largest finite magnitude code.
  public var maxFiniteCode: UInt32 {
    switch specials {
    case .ieee: return magnitudeMask - (1 << UInt32(mantissaBits))
    case .finiteAllOnesNaN: return magnitudeMask - 1
    case .finiteNegativeZeroNaN, .finite: return magnitudeMask
    }
  }

  /// The value of `code` (only the low `bitWidth` bits are read).
  public func decode(_ code: UInt32) -> Float {
    let magnitude = code & magnitudeMask
    let negative = code & signBit != 0
    let exponentField = Int(magnitude >> UInt32(mantissaBits))
    let mantissa = Int(magnitude) & ((1 << mantissaBits) - 1)
    switch specials {
    case .ieee where exponentField == (1 << exponentBits) - 1:
      return mantissa == 0 ? (negative ? -.infinity : .infinity) : .nan
    case .finiteAllOnesNaN where magnitude == magnitudeMask: return .nan
    case .finiteNegativeZeroNaN where negative && magnitude == 0: return .nan
    default: break
    }
    let value = exponentField == 0
      ? Double(mantissa) * power2(1 - bias - mantissaBits)
      : Double((1 << mantissaBits) + mantissa) * power2(exponentField - bias - mantissaBits)
    return Float(negative ? -value : value)
  }

  /// The code nearest to `x`, ties to the even code.
  ///
  /// Values beyond the largest finite one after rounding (and ±∞) give ±max finite when
  /// `saturate`; otherwise ±∞ where the format has infinities, NaN where it has NaN, and
  /// ±max finite for `float4e2m1`, which has neither (where NaN becomes −0, as `ml_dtypes` does).
  public func encode(_ x: Float, saturate: Bool = false) -> UInt32 {
    let sign: UInt32 = x.sign == .minus && specials != .finiteNegativeZeroNaN ? signBit : 0
    if x.isNaN { return nanCode(sign: x.sign == .minus ? signBit : 0) }
    if x.isInfinite { return overflow(sign: x.sign == .minus ? signBit : 0, saturate: saturate) }
    let magnitude = Double(x.magnitude)
    if magnitude == 0 { return sign }
    let minimumExponent = 1 - bias
    let exponent = Swift.max(Int(magnitude.exponent), minimumExponent)
    // Multiples of the spacing of this binade (or of the subnormals): exact in Double.
    let units = (magnitude / power2(exponent - mantissaBits)).rounded(.toNearestOrEven)
    // Subnormal codes run straight into the normal ones, so rounding up out of a binade is +1.
    let code = (exponent - minimumExponent) << mantissaBits + Int(units)
    if code > Int(maxFiniteCode) { return overflow(sign: x.sign == .minus ? signBit : 0, saturate: saturate) }
    return code == 0 ? 0 | (specials == .finiteNegativeZeroNaN ? 0 : sign) : sign | UInt32(code)
  }

  /// How many representable values apart two finite codes are (units in the last place);
  /// nil when either is infinite or NaN.
  public func unitsApart(_ a: UInt32, _ b: UInt32) -> Int64? {
    // Sign-magnitude to a monotonic integer line: negatives mirror below zero.
    let line = { (c: UInt32) -> Int64 in c & signBit != 0 ? -Int64(c & magnitudeMask) : Int64(c & magnitudeMask) }
    guard decode(a).isFinite, decode(b).isFinite else { return nil }
    return abs(line(a) - line(b))
  }

  /// `x` rounded to this format and read back as Float32.
  public func rounded(_ x: Float, saturate: Bool = false) -> Float { decode(encode(x, saturate: saturate)) }

  private func nanCode(sign: UInt32) -> UInt32 {
    switch specials {
    case .ieee: return sign | magnitudeMask  // all ones: a quiet NaN in every IEEE layout
    case .finiteAllOnesNaN: return sign | magnitudeMask
    case .finiteNegativeZeroNaN: return signBit
    case .finite: return signBit  // no NaN: −0, as ml_dtypes (the suite's oracle) does
    }
  }

  private func overflow(sign: UInt32, saturate: Bool) -> UInt32 {
    if saturate { return sign | maxFiniteCode }
    switch specials {
    case .ieee: return sign | (maxFiniteCode + 1)
    case .finiteAllOnesNaN, .finiteNegativeZeroNaN: return nanCode(sign: sign)
    case .finite: return sign | maxFiniteCode
    }
  }

  private func power2(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }
}

/// FLOAT8E8M0 (OCP MX scale format): 8 exponent bits, no sign, no mantissa; `2^(code − 127)`,
/// `0xFF` = NaN. Encoding follows ONNX `Cast`: the Float32 exponent field, moved up by one when
/// `round_mode` asks and the mantissa is not zero (`up`), or past the halfway point (`nearest`).
public enum Float8E8M0 {
  public enum RoundingMode: String, Sendable { case up, down, nearest }

  public static func decode(_ code: UInt32) -> Float {
    let c = code & 0xFF
    if c == 0xFF { return .nan }
    return Float(Double(sign: .plus, exponent: Int(c) - 127, significand: 1))
  }

  public static func encode(_ x: Float, saturate: Bool = true, rounding: RoundingMode = .up) -> UInt32 {
    let bits = x.bitPattern
    let exponent = (bits >> 23) & 0xFF
    if exponent == 0xFF { return 0xFF }
    let fraction = bits & 0x7F_FFFF
    let roundUp: Bool
    switch rounding {
    case .down: roundUp = false
    case .up: roundUp = fraction != 0
    case .nearest:
      // Guard bit set and (round, sticky or an odd result): ties round up, as ONNX's helper does.
      let guardBit = bits & 0x40_0000 != 0, rest = bits & 0x3F_FFFF != 0
      roundUp = guardBit && (rest || exponent > 0)
    }
    if roundUp && saturate && exponent == 0xFE { return 0xFE }
    return exponent + (roundUp ? 1 : 0)
  }
}
