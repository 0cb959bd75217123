import Foundation
import Testing
import WinnowCore
import WinnowNN
import WinnowTestSupport
import WinnowFormats

/// Instance, group and mean-variance normalization, LpPool and DepthToSpace/SpaceToDepth
/// beyond the committed conformance cases: gradients and inverses.
@Suite struct ONNXNormalizationTests {
  func singleNodeModel(_ op: String, inputs: [(String, [Int])], attributes: [AttributeProto], opset: Int64? = nil) throws -> ONNXModel {
    var graph = ONNXGraphBuilder(name: op)
    let names = inputs.map { graph.addInput($0.0, shape: $0.1) }
    graph.addOutput(graph.addNode(op, names, attributes: attributes)[0], shape: [])
    var model = graph.model()
    if let opset { model.opsetImport[0].version = opset }
    return try ONNXModel(bytes: model.serializedBytes(), file: "\(op).onnx")
  }

  /// Analytic gradients of group normalization (opset 21: per-channel scale) with respect to
  /// input, scale and bias equal central differences.
  @Test func groupNormalizationGradientsMatchFiniteDifferences() throws {
    let model = try singleNodeModel("GroupNormalization", inputs: [("x", [2, 4, 3]), ("scale", [4]), ("bias", [4])],
                                    attributes: [.int("num_groups", 2)], opset: 21)
    let output = { (t: [Tensor]) -> Tensor in
      guard let y = try? model.run(["x": .float(t[0]), "scale": .float(t[1]), "bias": .float(t[2])]).values.first?.floatValues else {
        preconditionFailure("GroupNormalization failed")
      }
      return y
    }
    let inputs = [randomTensor([2, 4, 3], seed: 21), randomTensor([4], seed: 22), randomTensor([4], seed: 23)]
    let weights = randomTensor([2, 4, 3], seed: 24)
    let (_, grads) = valueWithGradient(at: inputs) { t in (output(t) * weights).sum() }
    for i in 0..<3 {
      let numeric = numericGradientInDouble(of: { v in
        var t = inputs
        t[i] = v
        return weightedSum(output(t), weights)
      }, at: inputs[i], h: 1e-2)
      #expect(gradientMismatch(grads[i], numeric, atol: 2e-3, rtol: 2e-3) == nil, "input \(i): \(gradientMismatch(grads[i], numeric, atol: 2e-3, rtol: 2e-3) ?? "")")
    }
  }

  /// SpaceToDepth undoes DepthToSpace in both modes, on floats and on integers.
  @Test func spaceToDepthInvertsDepthToSpace() throws {
    for mode in ["DCR", "CRD"] {
      var graph = ONNXGraphBuilder(name: "roundtrip")
      let x = graph.addInput("x", shape: [2, 8, 2, 3], dataType: .int64)
      let y = graph.addNode("DepthToSpace", [x], attributes: [.int("blocksize", 2), .string("mode", mode)])[0]
      let z = graph.addNode("SpaceToDepth", [y], attributes: [.int("blocksize", 2), .string("mode", mode)])[0]
      graph.addOutput(z, shape: [2, 8, 2, 3], dataType: .int64)
      let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "roundtrip.onnx")
      let input = ONNXValue.integer(ONNXIntegers(shape: [2, 8, 2, 3], values: (0..<96).map { Int64($0 * 7 % 96) }))
      #expect(try model.run(["x": input])[z] == input, "\(mode)")
    }
  }

  @Test func badGroupsAndBlocksNameTheNode() throws {
    let group = try singleNodeModel("GroupNormalization", inputs: [("x", [1, 6, 2]), ("scale", [6]), ("bias", [6])], attributes: [.int("num_groups", 4)])
    #expect { try group.run(["x": .float(.zeros([1, 6, 2])), "scale": .float(.zeros([6])), "bias": .float(.zeros([6]))]) } throws: { error in
      "\(error)".contains("GroupNormalization.onnx") && "\(error)".contains("num_groups 4")
    }
    let space = try singleNodeModel("SpaceToDepth", inputs: [("x", [1, 1, 3, 4])], attributes: [.int("blocksize", 2)])
    #expect { try space.run(Tensor.zeros([1, 1, 3, 4])) } throws: { error in
      "\(error)".contains("(SpaceToDepth)") && "\(error)".contains("3×4")
    }
  }

  /// LpPool with p = 3 over a 1-D window equals the cube root of the summed cubes of |x|.
  @Test func lpPoolIsThePNormOfEachWindow() throws {
    let model = try singleNodeModel("LpPool", inputs: [("x", [1, 1, 4])], attributes: [.ints("kernel_shape", [2]), .int("p", 3)])
    let y = try model.run(Tensor(shape: [1, 1, 4], scalars: [1, -2, 3, 0]))
    let expected: [Float] = [9, 35, 27].map { Float(pow(Double($0), 1.0 / 3)) }
    #expect(zip(y.scalars, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(y.scalars)")
  }

  /// CenterCropPad on integers: padding reads zeros, an odd difference leaves the extra at the end.
  @Test func centerCropPadCentersIntegers() throws {
    for (size, expected) in [(6, [0, 1, 2, 3, 0, 0] as [Int64]), (1, [2])] {
      var graph = ONNXGraphBuilder(name: "crop")
      let x = graph.addInput("x", shape: [3], dataType: .int32)
      let shape = graph.addInitializer("shape", .integer(ONNXIntegers(shape: [1], values: [Int64(size)])))
      let y = graph.addNode("CenterCropPad", [x, shape])[0]
      graph.addOutput(y, shape: [size], dataType: .int32)
      let model = try ONNXModel(bytes: graph.model().serializedBytes(), file: "crop.onnx")
      let output = try model.run(["x": .integer(ONNXIntegers(shape: [3], values: [1, 2, 3], dataType: .int32))])
      #expect(output[y] == .integer(ONNXIntegers(shape: [size], values: expected, dataType: .int32)))
    }
  }
}
