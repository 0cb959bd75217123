import Testing
import WinnowCore
import WinnowTestSupport
import WinnowFormats

/// A two-layer MLP (Gemm → Relu → Gemm) built in Swift: 4 inputs, 3 hidden, 2 outputs.
func smallMLPModel(seed: UInt64 = 1) -> ModelProto {
  var graph = ONNXGraphBuilder(name: "mlp")
  let x = graph.addInput("input", shape: [2, 4])
  let w1 = graph.addInitializer("fc1.weight", .float(randomTensor([3, 4], seed: seed)))
  let b1 = graph.addInitializer("fc1.bias", .float(randomTensor([3], seed: seed + 1)))
  let w2 = graph.addInitializer("fc2.weight", .float(randomTensor([2, 3], seed: seed + 2)))
  let h = graph.addNode("Gemm", [x, w1, b1], attributes: [.int("transB", 1)])[0]
  let r = graph.addNode("Relu", [h])[0]
  let y = graph.addNode("Gemm", [r, w2], attributes: [.int("transB", 1), .float("alpha", 0.5)])[0]
  graph.addOutput(y, shape: [2, 2])
  return graph.model()
}

@Suite struct ProtobufWireTests {
  @Test func modelRoundTripsThroughTheWireFormat() throws {
    var model = smallMLPModel()
    // Exercise every kind of field: negative int32 (ten-byte varint), packed floats, strings,
    // a nested graph inside an attribute, and unknown-field-free re-encoding.
    var attribute = AttributeProto.ints("pads", [-1, 0, Int(Int64.max)])
    attribute.floats = [1.5, -0.25, .infinity]
    attribute.g = smallMLPModel(seed: 7).graph
    model.graph!.node[0].attribute.append(attribute)
    model.graph!.initializer[0].dataType = -5
    let bytes = model.serializedBytes()
    let decoded = try ModelProto(serializedBytes: bytes)
    #expect(decoded == model)
    #expect(decoded.serializedBytes() == bytes)
  }

  @Test func varintsOfEveryLengthRoundTrip() throws {
    for value: Int64 in [0, 1, 127, 128, 300, 1 << 35, -1, Int64.min, Int64.max] {
      var tensor = TensorProto()
      tensor.dims = [value]
      #expect(try TensorProto(serializedBytes: tensor.serializedBytes()).dims == [value])
    }
  }

  @Test func unpackedRepeatedScalarsAreAccepted() throws {
    // dims (field 1) written as two separate varint fields instead of one packed run.
    let bytes: [UInt8] = [0x08, 0x02, 0x08, 0x03, 0x10, 0x01]
    let tensor = try TensorProto(serializedBytes: bytes)
    #expect(tensor.dims == [2, 3] && tensor.dataType == 1)
  }

  @Test func unknownFieldsAreSkipped() throws {
    // field 99 (varint), field 98 (fixed64), field 97 (bytes), then name = "x".
    let bytes: [UInt8] = [0x98, 0x06, 0x05, 0x91, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0x8a, 0x06, 0x02, 0xaa, 0xbb, 0x42, 0x01, 0x78]
    #expect(try TensorProto(serializedBytes: bytes).name == "x")
  }

  @Test func truncationAtEveryByteNeverCrashes() throws {
    let bytes = smallMLPModel().serializedBytes()
    var malformed = 0
    for length in 0..<bytes.count {
      do {
        _ = try ONNXModel(bytes: Array(bytes.prefix(length)), file: "cut.onnx")
      } catch let error {
        if case .malformed(let file, _, _) = error { malformed += 1; #expect(file == "cut.onnx") }
      }
    }
    // Most cuts land inside a field; the rest end at a field boundary and fail as invalid
    // models (no graph, dangling names) or import a smaller valid prefix.
    #expect(malformed > bytes.count / 2)
  }

  @Test func lengthsBeyondTheMessageAreRejected() {
    // graph (field 7) claiming 2^32 bytes.
    let bytes: [UInt8] = [0x3a, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00]
    #expect(throws: ProtobufError.self) { try ModelProto(serializedBytes: bytes) }
    do { _ = try ModelProto(serializedBytes: bytes) } catch {
      #expect(error.reason.contains("exceeds") && error.offset == 6)
    }
    // A varint that never ends, and an invalid wire type.
    #expect(throws: ProtobufError.self) { try ModelProto(serializedBytes: [0x08] + [UInt8](repeating: 0xff, count: 12)) }
    #expect(throws: ProtobufError.self) { try ModelProto(serializedBytes: [0x0f, 0x00]) }
    // Packed floats whose length is not a multiple of four.
    #expect(throws: ProtobufError.self) { try TensorProto(serializedBytes: [0x22, 0x03, 0, 0, 0]) }
  }

  @Test func deepNestingIsRejected() {
    // graph → node → attribute → graph → … 200 levels deep, built inside out.
    var bytes: [UInt8] = []
    for level in 0..<200 {
      // From the top: GraphProto.node (1), NodeProto.attribute (5), AttributeProto.g (6).
      let field = [1, 5, 6][(199 - level) % 3]
      var writer = ProtoWriter()
      writer.writeBytes(field, bytes)
      bytes = writer.bytes
    }
    #expect(throws: ProtobufError.self) { try GraphProto(serializedBytes: bytes) }
    do { _ = try GraphProto(serializedBytes: bytes) } catch { #expect(error.reason.contains("nested deeper")) }
  }

  @Test func invalidUTF8InAStringIsAnError() {
    #expect(throws: ProtobufError.self) { try TensorProto(serializedBytes: [0x42, 0x02, 0xff, 0xfe]) }
  }
}
