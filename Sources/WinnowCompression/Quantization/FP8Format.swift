/// The two 8-bit floating-point formats of Micikevicius et al. 2022 ("FP8 Formats for Deep
/// Learning"), encoded exactly: round to nearest, ties to even, subnormals included.
///
/// | format | bits S.E.M | bias | max finite | infinities | NaN |
/// |---|---|---|---|---|---|
/// | `e4m3fn` | 1.4.3 | 7 | 448 = 1.75·2⁸ (`0x7E`) | none | `S.1111.111` only |
/// | `e5m2` | 1.5.2 | 15 | 57344 = 1.75·2¹⁵ (`0x7B`) | `S.11111.00` | `S.11111.xx`, xx ≠ 0 |
///
/// Worked example (E4M3FN): 3.3 lies between 3.25 (`0x45` = 1.625·2¹) and 3.5 (`0x46`),
/// nearer 3.25 → `0x45`; 3.375 is the tie, the even mantissa (`0x46`, mantissa 110) wins.
///
/// Why codes are computed as integers: for non-negative values the code, read as an unsigned
/// integer, is monotonic in the value (subnormal codes run straight into the normal ones), so
/// rounding up out of a binade (or out of the subnormals) is simply `code + 1`.
public enum FP8Format: String, Sendable, Hashable, Codable, CaseIterable {
  case e4m3fn
  case e5m2

  /// Exponent and mantissa field widths and the exponent bias.
  public var exponentBits: Int { self == .e4m3fn ? 4 : 5 }
  public var mantissaBits: Int { self == .e4m3fn ? 3 : 2 }
  public var bias: Int { self == .e4m3fn ? 7 : 15 }
  /// Largest finite magnitude code (`0x7E`, `0x7B`) and its value (448, 57344).
  public var maxFiniteCode: UInt8 { self == .e4m3fn ? 0x7E : 0x7B }
  public var maxFinite: Float { self == .e4m3fn ? 448 : 57344 }
  /// The magnitude code a NaN is encoded as (the sign of the input is kept).
  public var nanCode: UInt8 { self == .e4m3fn ? 0x7F : 0x7E }
  /// `+∞`, or nil for E4M3FN.
  public var infinityCode: UInt8? { self == .e4m3fn ? nil : 0x7C }

  /// Name in scheme spellings: `e4m3`, `e5m2`.
  public var shortName: String { self == .e4m3fn ? "e4m3" : "e5m2" }

  /// The value of `code`.
  public func decode(_ code: UInt8) -> Float {
    let sign: Float = code & 0x80 != 0 ? -1 : 1
    let magnitude = code & 0x7F
    let exponentField = Int(magnitude) >> mantissaBits
    let mantissa = Int(magnitude) & ((1 << mantissaBits) - 1)
    let exponentMax = (1 << exponentBits) - 1
    switch self {
    case .e4m3fn where magnitude == 0x7F: return .nan
    case .e5m2 where exponentField == exponentMax: return mantissa == 0 ? sign * .infinity : .nan
    default: break
    }
    let value: Double = exponentField == 0
      ? Double(mantissa) * pow2(1 - bias - mantissaBits)
      : Double((1 << mantissaBits) + mantissa) * pow2(exponentField - bias - mantissaBits)
    return sign * Float(value)
  }

  /// The code nearest to `x` (ties to the even code).
  ///
  /// Overflow (beyond the largest finite value after rounding) and ±∞ give ±max finite when
  /// `saturate`; otherwise ±∞ for E5M2 and NaN for E4M3FN, as `ml_dtypes` and PyTorch casts do.
  public func encode(_ x: Float, saturate: Bool = false) -> UInt8 {
    let sign: UInt8 = x.sign == .minus ? 0x80 : 0
    if x.isNaN { return sign | nanCode }
    if x.isInfinite { return sign | (saturate ? maxFiniteCode : (infinityCode ?? nanCode)) }
    let magnitude = Double(x.magnitude)
    if magnitude == 0 { return sign }
    let minimumExponent = 1 - bias
    let exponent = Swift.max(Int(magnitude.exponent), minimumExponent)
    // Multiples of the spacing of the binade (or of the subnormals): exact in Double.
    let units = magnitude / pow2(exponent - mantissaBits)
    let rounded = units.rounded(.toNearestOrEven)
    // Subnormals: code = units; normals: exponent field above 1 adds 2^M per binade.
    let code = (exponent - minimumExponent) << mantissaBits + Int(rounded)
    if code > Int(maxFiniteCode) {
      return sign | (saturate ? maxFiniteCode : (infinityCode ?? nanCode))
    }
    return sign | UInt8(code)
  }

  private func pow2(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }
}
