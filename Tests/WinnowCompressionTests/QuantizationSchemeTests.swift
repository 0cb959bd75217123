import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// Every scheme the issue lists: int2…int8 × symmetric/asymmetric × per-tensor/per-channel/
/// groups of 32, 64, 128, both FP8 formats.
let integerAndFP8Schemes: [QuantizationScheme] = (2...8).flatMap { bits in
  [true, false].flatMap { symmetric in
    [QuantizationScheme.Granularity.perTensor, .perChannel, .group(size: 32), .group(size: 64), .group(size: 128)].map {
      QuantizationScheme.integer(bits: bits, symmetric: symmetric, granularity: $0)
    }
  }
} + [.fp8(.e4m3fn), .fp8(.e5m2)]

/// Rows with very different magnitudes and an offset, so per-channel and group scales matter
/// and asymmetric ranges are not centred on zero.
private func weights(rows: Int = 6, columns: Int = 256, seed: UInt64 = 1) -> Tensor {
  let base = randomTensor([rows, columns], seed: seed)
  return Tensor(shape: [rows, columns], scalars: base.scalars.enumerated().map { i, v in
    let row = i / columns
    return v * Float(1 << (2 * row)) * 0.01 + (row % 2 == 0 ? 0.003 : -0.001) * Float(row)
  })
}

/// Spacing of FP8 values around `v` (the binade's step, or the subnormal step).
private func fp8Spacing(_ v: Float, _ format: FP8Format) -> Float {
  let exponent = max(Int(v.magnitude.exponent), 1 - format.bias)
  return Float(sign: .plus, exponent: exponent - format.mantissaBits, significand: 1)
}

@Suite struct QuantizationRoundTripTests {
  /// |x̂ − x| ≤ s/2 for integers (every value lies in its block's min–max range), and
  /// ≤ s·spacing/2 for FP8. Slack 1e-6·s for the Float32 rounding of x/s and (q−z)·s.
  @Test(arguments: integerAndFP8Schemes)
  func dequantizedIsWithinHalfAStep(_ scheme: QuantizationScheme) throws {
    let x = weights()
    let q = try scheme.quantize(x)
    let xHat = q.dequantized().scalars
    #expect(q.codes.scalars.allSatisfy { scheme.codeRange.contains(Int($0)) } || { if case .fp8 = scheme { return true }; return false }())
    for (i, v) in x.scalars.enumerated() {
      let s = q.scales[i / q.blockSize]
      let step: Float
      if case .fp8(let format) = scheme { step = s * fp8Spacing(v / s, format) } else { step = s }
      #expect(abs(xHat[i] - v) <= step / 2 + 1e-6 * s, "\(scheme) element \(i): \(v) → \(xHat[i]), step \(step)")
    }
  }

  /// Finer granularity never loses: the largest error per block shrinks (or stays) from
  /// per-tensor to per-channel to groups of 32.
  @Test func finerGranularityHasSmallerError() throws {
    let x = weights()
    func error(_ g: QuantizationScheme.Granularity) throws -> Float {
      maxAbsDifference(try QuantizationScheme.integer(bits: 4, symmetric: true, granularity: g).fakeQuantize(x), x)
    }
    #expect(try error(.perChannel) < error(.perTensor))
    #expect(try error(.group(size: 32)) <= error(.perChannel))
  }

  /// Zero is exact in every integer and FP8 scheme, so pruned weights stay zero.
  @Test(arguments: integerAndFP8Schemes)
  func zeroIsExact(_ scheme: QuantizationScheme) throws {
    var values = weights().scalars
    for i in stride(from: 0, to: values.count, by: 3) { values[i] = 0 }
    let xHat = try scheme.fakeQuantize(Tensor(shape: [6, 256], scalars: values)).scalars
    for i in stride(from: 0, to: values.count, by: 3) { #expect(xHat[i] == 0, "\(scheme) element \(i)") }
  }

  /// Binary: codes are signs and α = mean|w| per channel minimises ‖w − α·sign(w)‖².
  @Test func binaryUsesTheL2OptimalScalePerChannel() throws {
    let x = weights()
    let q = try QuantizationScheme.binary.quantize(x)
    #expect(q.scales.count == 6 && q.blockSize == 256)
    let xs = x.scalars
    for row in 0..<6 {
      let slice = xs[row * 256..<(row + 1) * 256]
      #expect(abs(q.scales[row] - slice.map(abs).reduce(0, +) / 256) <= 1e-6 * q.scales[row])
      func loss(_ alpha: Float) -> Float { slice.reduce(0) { $0 + pow($1 - alpha * ($1 < 0 ? -1 : 1), 2) } }
      #expect(loss(q.scales[row]) < loss(q.scales[row] * 1.01) && loss(q.scales[row]) < loss(q.scales[row] * 0.99))
    }
    #expect(zip(q.codes.scalars, xs).allSatisfy { Float($0) == ($1 < 0 ? -1 : 1) })
  }

  /// Calibrated ranges clip: values beyond the range saturate to the end codes.
  @Test func explicitRangesClip() throws {
    let x = Tensor(shape: [4], scalars: [-3, -0.5, 0.25, 10])
    let q = try QuantizationScheme.integer(bits: 8, symmetric: true, granularity: .perTensor).quantize(x, ranges: [-1...1])
    #expect(q.codes.scalars == [-127, -64, 32, 127])
    #expect(q.scales == [1 / Float(127)])
  }
}

@Suite struct QuantizationSchemeSpellingTests {
  @Test(arguments: integerAndFP8Schemes + [.binary])
  func textFormRoundTrips(_ scheme: QuantizationScheme) throws {
    #expect(try QuantizationScheme(parsing: scheme.description) == scheme)
    let json = try JSONEncoder().encode(scheme)
    #expect(try JSONDecoder().decode(QuantizationScheme.self, from: json) == scheme)
  }

  @Test func commonSpellings() throws {
    #expect(try QuantizationScheme(parsing: "int4-g64") == .grouped(bits: 4, groupSize: 64))
    #expect(try QuantizationScheme(parsing: "int8-sym-channel") == .int8())
    #expect(try QuantizationScheme(parsing: "int8-asym-tensor") == .int8(symmetric: false, perChannel: false))
    #expect(try QuantizationScheme(parsing: "fp8-e4m3") == .fp8(.e4m3fn))
    for bad in ["int8", "int-g64", "fp8-e3m4", "int4-gx", "float16", "", "int8-sym-channel-x"] {
      #expect(throws: QuantizationError.unknownScheme(bad)) { try QuantizationScheme(parsing: bad) }
    }
  }

  @Test func planSavesLoadsAndPrints() throws {
    let plan = QuantizationPlan(layers: ["conv1": .int8(), "fc1": .grouped(bits: 4, groupSize: 64), "fc3": .binary],
                                activations: .int8(symmetric: false, perChannel: false))
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UInt64.random(in: 0...UInt64.max)).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try plan.jsonData().write(to: URL(fileURLWithPath: path))
    #expect(try QuantizationPlan.read(path: path) == plan)
    #expect(plan.description == "conv1: int8-sym-channel\nfc1: int4-g64\nfc3: binary\nactivations: int8-asym-tensor")
    try "{\"layers\": {\"fc1\": \"int9-g64\"}}".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: QuantizationError.self) { try QuantizationPlan.read(path: path).validate(against: quantizationTestLeNet()) }
  }

  /// Bad plans name the layer: unknown layers, bit widths outside 2…8, groups that do not tile
  /// a row (LeNet's fc1 rows hold 400 weights, conv1's 25), activation schemes with no kernel.
  @Test func groupedRowsThatDivide() throws {
    try QuantizationPlan(layers: ["fc1": .grouped(bits: 4, groupSize: 80)]).validate(against: quantizationTestLeNet())
  }

  @Test func badPlansGiveTypedErrorsNamingTheLayer() throws {
    let model = quantizationTestLeNet()
    let known = quantizableLayers(of: model).map(\.name)
    #expect(known == ["conv1", "conv2", "fc1", "fc2", "fc3"])
    #expect(throws: QuantizationError.unknownLayer("fc9", known: known)) {
      try QuantizationPlan(layers: ["fc9": .int8()]).validate(against: model)
    }
    #expect(throws: QuantizationError.unsupportedBitWidth(layer: "fc1", bits: 9)) {
      try QuantizationPlan(layers: ["fc1": .integer(bits: 9, symmetric: true, granularity: .perChannel)]).validate(against: model)
    }
    #expect(throws: QuantizationError.unsupportedBitWidth(layer: "fc2", bits: 1)) {
      try QuantizationPlan(layers: ["fc2": .grouped(bits: 1, groupSize: 32)]).validate(against: model)
    }
    #expect(throws: QuantizationError.groupSizeDoesNotDivide(layer: "conv1", groupSize: 32, rowLength: 25)) {
      try QuantizationPlan(layers: ["conv1": .grouped(bits: 4, groupSize: 32)]).validate(against: model)
    }
    #expect(throws: QuantizationError.groupSizeDoesNotDivide(layer: "conv1", groupSize: 64, rowLength: 25)) {
      try QuantizationPlan.uniform(.grouped(bits: 4, groupSize: 64), model: model).validate(against: model)
    }
    #expect(throws: QuantizationError.self) {
      try QuantizationPlan(layers: ["fc1": .int8()], activations: .int8()).validate(against: model)
    }
    #expect(QuantizationError.groupSizeDoesNotDivide(layer: "fc1", groupSize: 64, rowLength: 400).description.contains("'fc1'"))
  }
}

func quantizationTestLeNet(seed: UInt64 = 0) -> Layer {
  ModelSpec(.lenet5, inputShape: [1, 28, 28], classes: 10).build(seed: seed)
}

@Suite struct BitPackingTests {
  /// The worked example of ``BitPacking``'s documentation.
  @Test func documentedExample() {
    #expect(BitPacking.pack([1, -2, 7, -8, 3], bits: 4, rowLength: 5) == [0xE1, 0x87, 0x03])
    #expect(BitPacking.pack([1, -2, 0, -1], bits: 2, rowLength: 4) == [0b11_00_10_01])
  }

  /// Row lengths around the codes-per-byte (2 for int4, 4 for int2): every code comes back,
  /// rows start on byte boundaries, padding is zero.
  @Test(arguments: [2, 4, 8])
  func packUnpackRoundTrips(bits: Int) {
    var rng = RandomGenerator(seed: UInt64(bits))
    let perByte = 8 / bits
    for rowLength in Set(tileEdges(perByte) + [1, 7, 33, 64]).sorted() {
      for rows in [1, 3] {
        let codes = (0..<rows * rowLength).map { _ in Int8(Int(rng.next() % UInt64(1 << bits)) - (1 << (bits - 1))) }
        let packed = BitPacking.pack(codes, bits: bits, rowLength: rowLength)
        #expect(packed.count == rows * BitPacking.bytesPerRow(rowLength, bits: bits))
        #expect(BitPacking.unpack(packed, bits: bits, rowLength: rowLength, rows: rows) == codes, "\(bits) bits, rows of \(rowLength)")
      }
    }
  }

  /// `packedCodes` holds every integer code at 2, 4 or 8 bits, rows on byte boundaries.
  @Test(arguments: [2, 3, 4, 5, 8])
  func packedCodesRoundTrip(bits: Int) throws {
    let q = try QuantizationScheme.integer(bits: bits, symmetric: false, granularity: .perChannel).quantize(weights(rows: 3, columns: 37))
    let width = bits <= 2 ? 2 : bits <= 4 ? 4 : 8
    let packed = try #require(q.packedCodes)
    #expect(packed.count == 3 * BitPacking.bytesPerRow(37, bits: width))
    #expect(BitPacking.unpack(packed, bits: width, rowLength: 37, rows: 3) == q.codes.scalars)
  }

  /// Group-wise int4 codes of a real layer pack to half a byte each.
  @Test func int4WeightsPackToHalfAByte() throws {
    let q = try QuantizationScheme.grouped(bits: 4, groupSize: 32).quantize(weights(rows: 4, columns: 64))
    let packed = BitPacking.pack(q.codes.scalars, bits: 4, rowLength: 64)
    #expect(packed.count == 4 * 32)
    #expect(BitPacking.unpack(packed, bits: 4, rowLength: 64, rows: 4) == q.codes.scalars)
  }
}
