import CWinnowKernels
import Testing
import WinnowKernels

/// The AMX int8 kernel cannot run here (no AMX on the development machine), so its code is
/// checked on a software model of the tile instructions: first the model itself against a
/// plain triple loop (so a wrong model cannot agree with a wrong kernel), then the kernel on
/// the model against the portable kernel (bit for bit: same integers, same float epilogue)
/// and the reference twin, over the edges of its 32-token × 32-output × 64-input steps.
@Suite struct AMXTileModelTests {
  /// One TDPBUSD on the model equals Σ u8·s8 in Int, for every tile shape up to 16×16×16
  /// groups, strided operands, extreme values and a C tile that starts non-zero.
  @Test(arguments: [(1, 1, 1), (16, 16, 16), (5, 9, 3), (16, 1, 16), (1, 16, 7), (13, 11, 16)])
  func tileProductEqualsTripleLoop(shape: (Int, Int, Int)) {
    let (rows, columns, depth) = shape
    let (lda, ldb, ldc) = (4 * depth + 5, 4 * columns + 8, columns + 3)
    var state = UInt64(rows * 1000 + columns * 10 + depth)
    func next() -> UInt64 {  // SplitMix64
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    let a = (0..<(rows * lda)).map { i in i % 7 == 0 ? UInt8(255) : UInt8(truncatingIfNeeded: next()) }
    let b = (0..<(depth * ldb)).map { i in i % 5 == 0 ? Int8(-128) : Int8(truncatingIfNeeded: next()) }
    var c = (0..<(rows * ldc)).map { Int32(truncatingIfNeeded: $0 * 977) - 5000 }
    var expected = c
    for m in 0..<rows {
      for n in 0..<columns {
        var sum = Int(expected[m * ldc + n])
        for k in 0..<(4 * depth) { sum += Int(a[m * lda + k]) * Int(b[(k / 4) * ldb + 4 * n + k % 4]) }
        expected[m * ldc + n] = Int32(truncatingIfNeeded: sum)
      }
    }
    let fault = winnow_amx_model_tile_product(
      Int32(rows), Int32(columns), Int32(depth), a, Int32(lda), b, Int32(ldb), &c, Int32(ldc))
    #expect(fault == 0)
    #expect(c == expected)
  }

  /// Shapes the hardware rejects fault in the model too (1: LDTILECFG #GP for more than 16 rows
  /// or 64 bytes, or rows without bytes; 2: #UD on an unset tile) and leave C untouched, so a
  /// kernel whose tile configuration AMX would refuse fails its tests here.
  @Test(arguments: [(17, 1, 1, 1), (1, 17, 1, 1), (1, 1, 17, 1), (0, 1, 1, 1), (1, 0, 1, 1), (0, 0, 0, 2)])
  func tileProductFaultsWhereTheHardwareWould(rows: Int, columns: Int, depth: Int, fault: Int) {
    let a = [UInt8](repeating: 1, count: 17 * 80), b = [Int8](repeating: 1, count: 17 * 80)
    var c = [Int32](repeating: 7, count: 17 * 20)
    let got = winnow_amx_model_tile_product(Int32(rows), Int32(columns), Int32(depth), a, 80, b, 80, &c, 20)
    #expect(Int(got) == fault)
    #expect(c.allSatisfy { $0 == 7 })
  }

  @Test(arguments: [1, 15, 16, 17, 31, 32, 33, 64, 70], [(1, 1), (16, 3), (31, 63), (32, 64), (33, 65), (65, 130)])
  func kernelOnTheModelMatchesPortableAndReference(m: Int, shape: (Int, Int)) {
    let (n, k) = shape
    let dense = Int8LinearTests.weights(n: n, k: k, seed: UInt64(n * 131 + k))
    let x = PackedLinearTests.values(m * k, seed: UInt64(m * 7 + k)).map { $0 * 3 - 0.4 }
    let bias = PackedLinearTests.values(n, seed: 11)
    for mode in [ActivationQuantization.dynamicPerToken, .calibrated(scale: 0.03, zeroPoint: 90)] {
      let w = Int8LinearWeights.quantizingPerChannel(dense, outputFeatures: n, inputFeatures: k, activationQuantization: mode)
      for (activation, b) in [(EpilogueActivation.none, bias), (.relu, nil)] {
        _ = winnow_amx_model_take_fault()
        let model = w.multiplyOnAMXTileModel(x, m: m, bias: b, activation: activation)
        #expect(winnow_amx_model_take_fault() == 0, "the tile configuration or operands would fault on AMX")
        let portable = Int8LinearTests.run(w, x: x, m: m, bias: b, activation: activation, path: .portable)
        let context = "AMX model \(mode) \(activation) M=\(m) N=\(n) K=\(k)"
        #expect(model == portable, "\(context): differs from the portable kernel")
        Int8LinearTests.expectClose(model, w.referenceMultiply(x, m: m, bias: b, activation: activation), context)
      }
    }
  }

  /// Extremes: weight rows of all −128 and all 127, a token of zeros and a token that saturates
  /// at 255, K = 0, 1 and 4096 (64 K steps; sums near ±2^27), both activation modes.
  @Test(arguments: [3, 33], [(33, 0), (17, 1), (40, 4096)])
  func kernelOnTheModelMatchesPortableOnExtremes(m: Int, shape: (Int, Int)) throws {
    let (n, k) = shape
    var codes = (0..<n * k).map { Int8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
    for p in 0..<k { codes[p] = .min; codes[k + p] = .max }
    var x = PackedLinearTests.values(m * k, seed: UInt64(m + k)).map { $0 * 2 }
    for p in 0..<k { x[p] = 0; x[2 * k + p] = 1000 }
    let scales = (0..<n).map { Float($0 % 3 + 1) * 0.01 }
    for mode in [ActivationQuantization.dynamicPerToken, .calibrated(scale: 0.05, zeroPoint: 7)] {
      let w = try Int8LinearWeights(codes: codes, scales: scales, outputFeatures: n, inputFeatures: k,
                                    activationQuantization: mode)
      _ = winnow_amx_model_take_fault()
      let model = w.multiplyOnAMXTileModel(x, m: m, bias: nil, activation: .relu)
      #expect(winnow_amx_model_take_fault() == 0, "the tile configuration or operands would fault on AMX")
      let portable = Int8LinearTests.run(w, x: x, m: m, bias: nil, activation: .relu, path: .portable)
      #expect(model.map(\.bitPattern) == portable.map(\.bitPattern), "\(mode) M=\(m) N=\(n) K=\(k)")
    }
  }

  /// This machine has no AMX: the native path must not claim it (and on one that has it, the
  /// kernel name says so unless AMX was turned off, globally or for this layer).
  @Test func nativePathNamesAMXOnlyWhereUsable() {
    var w = Int8LinearWeights.quantizingPerChannel([0.5, -0.25], outputFeatures: 1, inputFeatures: 2)
    let usable = CPUFeatures.current.contains(.amxInt8)
    #expect(Int8LinearWeights.amxAvailable == usable)
    #expect(w.kernelName(for: .native).hasSuffix("__amx") == (usable && KernelDispatch.allowsAMX))
    #expect(!w.kernelName(for: .portable).hasSuffix("__amx"))
    w.allowsAMX = false  // what `winnow-bench int8` uses for its "AMX off" rows
    #expect(!w.kernelName(for: .native).hasSuffix("__amx"))
  }
}
