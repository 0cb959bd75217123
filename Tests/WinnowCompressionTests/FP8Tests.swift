import Foundation
import Testing
import WinnowCompression
import WinnowCore

/// FP8 against the format definition as `ml_dtypes` 0.6.0 implements it.
///
/// Fixture: `Fixtures/quantization.safetensors`, written by
/// `Utilities/Reference/make_quantization_fixtures.py`. Comparisons are exact (bit patterns).
@Suite struct FP8Tests {
  static func fixture() throws -> SafetensorsFile {
    guard let url = Bundle.module.url(forResource: "quantization", withExtension: "safetensors", subdirectory: "Fixtures") else {
      Issue.record("missing fixture quantization.safetensors: run Utilities/Reference/make_quantization_fixtures.py")
      throw QuantizationError.malformedPlan(reason: "missing fixture")
    }
    let file = try SafetensorsFile.read(path: url.path)
    #expect(file.metadata["fixture_version"] == "1", "re-run Utilities/Reference/make_quantization_fixtures.py")
    return file
  }

  /// All 256 codes decode to ml_dtypes' values: ±0, subnormals, normals, ±max, NaN (and ±∞ for E5M2).
  @Test(arguments: FP8Format.allCases)
  func everyCodeDecodesLikeTheReference(_ format: FP8Format) throws {
    let expected = try Self.fixture().tensors["\(format.rawValue).decoded"]!.scalars
    #expect(expected.count == 256)
    for code in 0...255 {
      let value = format.decode(UInt8(code))
      if expected[code].isNaN {
        #expect(value.isNaN, "\(format) code \(code)")
      } else {
        #expect(value.bitPattern == expected[code].bitPattern, "\(format) code \(code): \(value) vs \(expected[code])")
      }
    }
    // Every non-NaN code is the canonical encoding of its own value.
    for code in 0...255 where !format.decode(UInt8(code)).isNaN {
      #expect(format.encode(format.decode(UInt8(code))) == UInt8(code), "\(format) code \(code)")
    }
  }

  /// Ties (to even), values a hair either side of each tie, subnormal underflow, overflow
  /// edges, ±0, ±∞, NaN and random magnitudes over 13 decades encode like ml_dtypes.
  @Test(arguments: FP8Format.allCases)
  func trickyValuesEncodeLikeTheReference(_ format: FP8Format) throws {
    let file = try Self.fixture()
    let inputs = file.tensors["tricky.inputs"]!.scalars
    let expected = file.tensors["tricky.\(format.rawValue)"]!.scalars.map { UInt8($0) }
    #expect(inputs.count > 1000)
    var mismatches = 0
    for (x, code) in zip(inputs, expected) where format.encode(x) != code {
      mismatches += 1
      if mismatches <= 5 { Issue.record("\(format): \(x) → \(format.encode(x)), reference \(code)") }
    }
    #expect(mismatches == 0)
  }

  /// The format constants, spelled out: max, smallest subnormal, infinities, NaN.
  @Test func definingValues() {
    #expect(FP8Format.e4m3fn.decode(0x7E) == 448 && FP8Format.e5m2.decode(0x7B) == 57344)
    #expect(FP8Format.e4m3fn.decode(0x01) == 0x1p-9 && FP8Format.e5m2.decode(0x01) == 0x1p-16)
    #expect(FP8Format.e4m3fn.decode(0x7F).isNaN && FP8Format.e4m3fn.decode(0xFF).isNaN)
    #expect(FP8Format.e5m2.decode(0x7C) == .infinity && FP8Format.e5m2.decode(0xFC) == -.infinity)
    #expect(FP8Format.e5m2.decode(0x7D).isNaN)
    #expect(FP8Format.e4m3fn.decode(0x80).sign == .minus && FP8Format.e4m3fn.decode(0x80) == 0)
  }

  /// Saturation maps overflow and ±∞ to ±max finite; NaN stays NaN.
  @Test(arguments: FP8Format.allCases)
  func saturation(_ format: FP8Format) {
    let max = format.maxFiniteCode
    for x: Float in [1e6, .infinity, format.maxFinite * 1.2, .greatestFiniteMagnitude] {
      #expect(format.encode(x, saturate: true) == max, "\(format) \(x)")
      #expect(format.encode(-x, saturate: true) == max | 0x80, "\(format) \(-x)")
      #expect(format.encode(x) == (format.infinityCode ?? format.nanCode), "\(format) \(x) without saturation")
    }
    #expect(format.decode(format.encode(.nan, saturate: true)).isNaN)
    // Just below the overflow tie rounds to max, also without saturation.
    #expect(format.encode(format.maxFinite.nextUp) == max)
  }
}
