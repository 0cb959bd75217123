import Testing
import WinnowCore
import WinnowTestSupport
import WinnowFormats

/// QLinearMatMul against the QDQ form it fuses (DequantizeLinear → MatMul → QuantizeLinear),
/// and errors naming the node.
@Suite struct ONNXQLinearTests {
  @Test func qlinearMatMulMatchesTheQDQForm() throws {
    let (aScale, bScale, yScale): (Float, Float, Float) = (0.02, 0.05, 0.1)
    var fused = ONNXGraphBuilder(name: "qlinear"), qdq = ONNXGraphBuilder(name: "qdq")
    let constants: [(String, ONNXValue)] = [
      ("as", .float(Tensor(shape: [], scalars: [aScale]))), ("az", .integer(ONNXIntegers(shape: [], values: [3], dataType: .int8))),
      ("bs", .float(Tensor(shape: [], scalars: [bScale]))), ("bz", .integer(ONNXIntegers(shape: [], values: [-2], dataType: .int8))),
      ("ys", .float(Tensor(shape: [], scalars: [yScale]))), ("yz", .integer(ONNXIntegers(shape: [], values: [5], dataType: .int8))),
    ]
    for (name, value) in constants { _ = fused.addInitializer(name, value); _ = qdq.addInitializer(name, value) }
    let (a1, b1) = (fused.addInput("a", shape: [3, 4], dataType: .int8), fused.addInput("b", shape: [4, 2], dataType: .int8))
    fused.addOutput(fused.addNode("QLinearMatMul", [a1, "as", "az", b1, "bs", "bz", "ys", "yz"])[0], shape: [3, 2], dataType: .int8)
    let (a2, b2) = (qdq.addInput("a", shape: [3, 4], dataType: .int8), qdq.addInput("b", shape: [4, 2], dataType: .int8))
    let product = qdq.addNode("MatMul", [qdq.addNode("DequantizeLinear", [a2, "as", "az"])[0], qdq.addNode("DequantizeLinear", [b2, "bs", "bz"])[0]])[0]
    qdq.addOutput(qdq.addNode("QuantizeLinear", [product, "ys", "yz"])[0], shape: [3, 2], dataType: .int8)
    let models = try [fused, qdq].map { try ONNXModel(bytes: $0.model().serializedBytes(), file: "q.onnx") }
    var generator = RandomGenerator(seed: 41)
    let random = { (count: Int) in (0..<count).map { _ in Int64(generator.next() % 256) - 128 } }
    let feeds: [String: ONNXValue] = ["a": .integer(ONNXIntegers(shape: [3, 4], values: random(12), dataType: .int8)),
                                      "b": .integer(ONNXIntegers(shape: [4, 2], values: random(8), dataType: .int8))]
    guard case .integer(let y1)? = try models[0].run(feeds).values.first, case .integer(let y2)? = try models[1].run(feeds).values.first else {
      Issue.record("outputs are not integers"); return
    }
    // Same math, rounded once (fused) or after a Float32 product (QDQ): at most one code apart.
    #expect(y1.dataType == .int8 && zip(y1.values, y2.values).allSatisfy { abs($0 - $1) <= 1 }, "\(y1.values) vs \(y2.values)")
  }

  @Test func mismatchedQLinearShapesNameTheNode() throws {
    var graph = ONNXGraphBuilder(name: "bad")
    let a = graph.addInput("a", shape: [2, 3], dataType: .uint8), b = graph.addInput("b", shape: [4, 2], dataType: .uint8)
    let s = graph.addInitializer("s", .float(Tensor(shape: [], scalars: [1])))
    let z = graph.addInitializer("z", .integer(ONNXIntegers(shape: [], values: [0], dataType: .uint8)))
    graph.addOutput(graph.addNode("QLinearMatMul", [a, s, z, b, s, z, s, z])[0], shape: [], dataType: .uint8)
    let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "badq.onnx")
    let feeds: [String: ONNXValue] = ["a": .integer(ONNXIntegers(shape: [2, 3], values: [Int64](repeating: 1, count: 6), dataType: .uint8)),
                                      "b": .integer(ONNXIntegers(shape: [4, 2], values: [Int64](repeating: 1, count: 8), dataType: .uint8))]
    #expect { try model.run(feeds) } throws: { error in
      "\(error)".contains("badq.onnx") && "\(error)".contains("(QLinearMatMul)") && "\(error)".contains("[4, 2]")
    }
  }
}
