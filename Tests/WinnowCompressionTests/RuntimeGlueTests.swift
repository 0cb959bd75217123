import Testing
import WinnowCompression
import WinnowCore
import WinnowKernels
import WinnowNN
import WinnowTestSupport

/// PTQ's codes run on the runtime's int8 kernel and give what the fake-quantized layer gives.
@Suite struct Int8RuntimeGlueTests {
  /// The fixture Linear layer, quantized W8A8 by PTQ (calibrated input range), run through
  /// `Int8LinearWeights`. Both compute `s_x·s_w·Σ q_x·q_w + b` on the same codes; the kernel
  /// sums integers exactly, the fake-quantized layer sums Float products, and the kernel may
  /// round an input that lies on a tie differently (x/s vs x·(1/s)), so allow one input
  /// step times the largest weight: 1e-3 here, where outputs are O(1).
  @Test func ptqCodesRunOnTheInt8Kernel() throws {
    let t = try FP8Tests.fixture().tensors
    let model = Sequential(named: [("fc", Linear(weight: t["layer.weight"]!, bias: t["layer.bias"]!))])
    let plan = QuantizationPlan(layers: ["fc": .int8()], activations: .int8(symmetric: false, perChannel: false))
    let layer = try PostTrainingQuantizer(plan: plan).apply(to: model, calibration: [t["layer.x0"]!, t["layer.x1"]!, t["layer.x2"]!])[0]
    guard case .fixed(let scheme, let range) = layer.activation else { Issue.record("not calibrated"); return }
    let packed = try Int8LinearWeights(quantized: try layer.quantizedWeightCodes(), input: (scheme, range))
    let x = t["layer.x0"]!, bias = t["layer.bias"]!.scalars
    var y = [Float](repeating: 0, count: 8 * 24)
    x.scalars.withUnsafeBufferPointer { px in
      bias.withUnsafeBufferPointer { pb in
        y.withUnsafeMutableBufferPointer { packed.multiply(px.baseAddress!, m: 8, bias: pb.baseAddress!, activation: .none, into: $0.baseAddress!) }
      }
    }
    let expected = model(x)
    #expect(maxAbsDifference(Tensor(shape: [8, 24], scalars: y), expected) <= 1e-3,
            "\(differenceReport(Tensor(shape: [8, 24], scalars: y), expected))")
    #expect(throws: QuantizationError.self) { try Int8LinearWeights(quantized: try QuantizationScheme.grouped(bits: 4, groupSize: 8).quantize(x)) }
  }
}
