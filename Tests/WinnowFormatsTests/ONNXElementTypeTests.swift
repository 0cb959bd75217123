import Foundation
import Testing
import WinnowCore
import WinnowCompression
import WinnowTestSupport
import WinnowFormats

/// Float16, bfloat16, float8, float4, E8M0 and the packed integer types: codecs against
/// independent oracles, tensor round trips, and mixed-precision graphs.
@Suite struct ONNXElementTypeTests {
  /// Every code decodes as WinnowCompression's FP8 codec does, and a sweep of values (ties,
  /// subnormals, overflow, both saturation modes) encodes to the same codes.
  @Test func float8MatchesFP8Format() throws {
    let pairs: [(TensorProto.DataType, FP8Format)] = [(.float8e4m3fn, .e4m3fn), (.float8e5m2, .e5m2)]
    var generator = RandomGenerator(seed: 5)
    for (type, oracle) in pairs {
      let format = try #require(ONNXFloatFormat(type))
      for code in 0..<256 {
        let (a, b) = (format.decode(UInt32(code)), oracle.decode(UInt8(code)))
        #expect(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "\(type) code \(code)")
      }
      let midpoints = (0..<255).map { (oracle.decode(UInt8($0)) + oracle.decode(UInt8($0 + 1))) / 2 }
      let randoms = (0..<2000).map { _ in generator.nextFloat(in: -1...1) * exp2(Float(Int(generator.next() % 38) - 20)) }
      for x in midpoints + randoms + [0, -0, .infinity, -.infinity, 1e6, -1e6, 460, 470] where x.isFinite || x.isInfinite {
        for saturate in [false, true] {
          #expect(format.encode(x, saturate: saturate) == UInt32(oracle.encode(x, saturate: saturate)), "\(type) \(x) saturate \(saturate)")
        }
      }
    }
  }

  /// Float16 against Swift's own `Float16` (IEEE binary16, round to nearest even).
  @Test func float16MatchesSwiftFloat16() throws {
    let format = try #require(ONNXFloatFormat(.float16))
    for code in 0..<65536 {
      let expected = Float(Float16(bitPattern: UInt16(code)))
      let actual = format.decode(UInt32(code))
      #expect(actual.bitPattern == expected.bitPattern || (actual.isNaN && expected.isNaN))
    }
    var generator = RandomGenerator(seed: 6)
    let ties: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11, 65520, 65519.99, 0x1p-25, 3 * 0x1p-25, 0x1p-26]
    let randoms = (0..<5000).map { _ in generator.nextFloat(in: -1...1) * exp2(Float(Int(generator.next() % 43) - 26)) }
    for x in ties + randoms {
      #expect(format.encode(x) == UInt32(Float16(x).bitPattern), "\(x)")
    }
  }

  /// Worked examples for the formats without an oracle in this repository.
  @Test func otherFormatsRoundAsSpecified() throws {
    let bfloat16 = try #require(ONNXFloatFormat(.bfloat16))
    #expect(bfloat16.encode(1 + 0x1p-8) == 0x3F80)  // tie → even
    #expect(bfloat16.encode(1 + 3 * 0x1p-8) == 0x3F82)  // tie → even (up)
    #expect(bfloat16.encode(.greatestFiniteMagnitude) == 0x7F80)  // rounds to +∞
    let fnuz = try #require(ONNXFloatFormat(.float8e4m3fnuz))
    #expect(fnuz.encode(-0.0) == 0 && fnuz.decode(0x80).isNaN && fnuz.encode(.nan) == 0x80)
    #expect(fnuz.decode(fnuz.maxFiniteCode) == 240 && fnuz.encode(1000, saturate: true) == 0x7F)
    #expect(fnuz.encode(1000).isMultiple(of: 0x80) && fnuz.decode(fnuz.encode(1000)).isNaN)
    let float4 = try #require(ONNXFloatFormat(.float4e2m1))
    #expect((0..<8).map { float4.decode(UInt32($0)) } == [0, 0.5, 1, 1.5, 2, 3, 4, 6])
    #expect(float4.encode(2.5) == 4 && float4.encode(3.5) == 6 && float4.encode(100) == 7 && float4.encode(-.infinity) == 15)
    #expect(Float8E8M0.encode(1.1) == 128 && Float8E8M0.encode(1.1, rounding: .down) == 127 && Float8E8M0.encode(4) == 129)
    #expect(Float8E8M0.encode(1.5, rounding: .nearest) == 128 && Float8E8M0.decode(0xFF).isNaN && Float8E8M0.decode(127) == 1)
  }

  /// Tensors of every new type survive `TensorProto` encoding and decoding bit for bit.
  @Test func tensorsRoundTripThroughProtos() throws {
    let values: [Float] = [0, 1, -1.5, 0.25, 3, -2, 0.5]
    for type in [TensorProto.DataType.float16, .bfloat16, .double, .float8e4m3fn, .float8e5m2fnuz, .float4e2m1] {
      let value = ONNXValue.floating(Tensor(shape: [7], scalars: values), as: type)
      let decoded = try ONNXValue(TensorProto(name: "t", value: value), file: "t")
      #expect(decoded == value, "\(type)")
    }
    for (type, numbers) in [(TensorProto.DataType.int4, [-8, 7, 0, -1, 3]), (.uint4, [15, 0, 9, 1, 2]), (.int2, [-2, 1, 0, -1, 1]), (.uint2, [3, 0, 2, 1, 3])] {
      let value = ONNXValue.integer(ONNXIntegers(shape: [5], values: numbers.map(Int64.init), dataType: type))
      let proto = TensorProto(name: "q", value: value)
      #expect(proto.rawData.count == (5 * (type == .int4 || type == .uint4 ? 4 : 2) + 7) / 8)
      #expect(try ONNXValue(proto, file: "q") == value, "\(type)")
    }
  }

  /// A float16 graph computes in Float32 and rounds each node's output to float16; a float32
  /// input given for a float16 input is rounded to it.
  @Test func float16GraphRoundsEachNode() throws {
    var graph = ONNXGraphBuilder(name: "half")
    let x = graph.addInput("x", shape: [3], dataType: .float16)
    let y = graph.addNode("Mul", [x, x])[0]
    let z = graph.addNode("Cast", [y], attributes: [.int("to", 1)])[0]
    graph.addOutput(z, shape: [3])
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "half.onnx")
    let input = Tensor(shape: [3], scalars: [1 + 0x1p-10, 250, 0.1])
    let output = try model.run(input)
    let half = { (v: Float) in Float(Float16(v)) }
    #expect(output.scalars == input.scalars.map { half(half($0) * half($0)) })
    #expect(output.scalars[1] == 62496)  // 250² = 62500 rounds to a multiple of 32 in float16
  }

  @Test func unsupportedCastsAndQuantizationsNameTheNode() throws {
    var graph = ONNXGraphBuilder(name: "bad")
    let x = graph.addInput("x", shape: [2])
    let y = graph.addNode("Cast", [x], attributes: [.int("to", Int(TensorProto.DataType.string.rawValue))])[0]
    graph.addOutput(y, shape: [2])
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "bad.onnx")
    #expect { try model.run(Tensor.zeros([2])) } throws: { error in
      "\(error)".contains("bad.onnx") && "\(error)".contains("(Cast)") && "\(error)".contains("string")
    }
    var quantize = ONNXGraphBuilder(name: "q")
    let input = quantize.addInput("x", shape: [2, 4])
    let scale = quantize.addInitializer("scale", .float(Tensor(shape: [2, 3], repeating: 1)))
    let q = quantize.addNode("QuantizeLinear", [input, scale], attributes: [.int("axis", 1), .int("block_size", 2)])[0]
    quantize.addOutput(q, shape: [2, 4], dataType: .uint8)
    let blocked = try ONNXModel(bytes: quantize.model().serializedBytes(), file: "blocked.onnx")
    #expect { try blocked.run(["x": .float(Tensor.zeros([2, 4]))]) } throws: { error in
      "\(error)".contains("blocked.onnx") && "\(error)".contains("QuantizeLinear") && "\(error)".contains("[2, 2]")
    }
  }
}
