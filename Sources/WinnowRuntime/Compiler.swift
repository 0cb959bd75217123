import WinnowCompression
import WinnowCore
import WinnowKernels
import WinnowNN

/// Compiles a model into an ``InferenceProgram``.
///
/// 1. Trace the model in inference mode at batch 2 and 3 and join the records
///    (``ProgramGraph``): ops that depend on the input become steps, everything else
///    (weights after their masks, biases, running statistics) becomes a constant.
/// 2. Find each product of an activation with a constant matrix (`x·Wᵀ` of a Linear, a
///    convolution with one group) and fuse the bias addition and ReLU that follow it.
/// 3. Pack each such layer's weights in the format the options ask for, or the fastest one
///    measured on the layer's real shape.
public enum Compiler {
  public static func compile(
    _ model: Layer, inputShape: [Int], options: CompileOptions = CompileOptions(),
    progress: ((String) -> Void)? = nil
  ) throws -> InferenceProgram {
    let fixedBatch = (model as? FixedBatchModel)?.fixedBatchSize
    // Two records at different batch sizes show which shapes grow with the batch; a model
    // that only runs at one size is recorded twice at that size (nothing grows).
    let first = fixedBatch ?? BatchShape.tracedBatch, second = fixedBatch ?? BatchShape.tracedBatch + 1
    let a = try ModelTrace(model: model, inputShape: inputShape, batch: first)
    let b = try ModelTrace(model: model, inputShape: inputShape, batch: second)
    let graph = try ProgramGraph(a, b)
    var fusion = LayerFusion(graph: graph)
    let found = fusion.run()
    let known = found.map(\.name)
    for name in Set(options.formats.keys).union(options.quantization.keys).sorted() where !known.contains(name) {
      throw RuntimeError.unknownLayer(name, known: known)
    }
    var layers: [CompiledLayer] = []
    for candidate in found {
      // Precedence: the layer's own scheme, the layer's own format, the scheme for all, the choice.
      let layer: CompiledLayer
      let scheme = options.quantization[candidate.name] ?? (options.formats[candidate.name] == nil ? options.quantizeAll : nil)
      if let scheme {
        let formats = try WeightFormat.candidates(for: scheme, layer: candidate.name, density: candidate.density)
        layer = try pack(candidate, candidates: formats, choice: options.choice)
      } else if let format = options.formats[candidate.name] {
        layer = try pack(candidate, candidates: [format], choice: options.choice)
      } else if case .fixed(let format) = options.choice {
        layer = try pack(candidate, candidates: [format], choice: options.choice)
      } else {
        layer = try pack(
          candidate, candidates: WeightFormat.candidates(weights: candidate.weights, inputFeatures: candidate.inputFeatures),
          choice: options.choice)
      }
      progress?("\(layer.name): \(layer.format) (\(layer.weights.kernelName))")
      layers.append(layer)
    }
    var program = fusion.program(inputShape: inputShape, layers: layers)
    program.fixedBatch = fixedBatch
    return program
  }

  /// Packs one layer: the only candidate, the fastest one measured (``FormatChoice/fastest(batch:)``),
  /// or for a fixed choice the first sparse candidate when the layer is at most 30% dense.
  static func pack(_ c: LayerCandidate, candidates: [WeightFormat], choice: FormatChoice) throws -> CompiledLayer {
    let n = c.outputFeatures, k = c.inputFeatures
    func packed(_ f: WeightFormat) throws -> any PackedLinearWeights {
      do {
        return try f.pack(c.weights, outputFeatures: n, inputFeatures: k)
      } catch RuntimeError.formatNotApplicable(_, let format, let reason) {
        throw RuntimeError.formatNotApplicable(layer: c.name, format: format, reason: reason)
      } catch let error as QuantizationError {
        throw RuntimeError.formatNotApplicable(layer: c.name, format: f.description, reason: "\(error)")
      }
    }
    func make(_ f: WeightFormat, timings: [KernelTiming]) throws -> CompiledLayer {
      CompiledLayer(
        name: c.name, kind: c.kind, format: f, weights: try packed(f),
        bias: c.bias, activation: c.activation, rowsPerExample: c.rowsPerExample, timings: timings,
        nonZeros: c.nonZeros, weightCount: c.weights.count)
    }
    guard candidates.count > 1 else { return try make(candidates[0], timings: []) }
    if case .smallest = choice {
      let bytes = try candidates.map { try packed($0).packedByteCount }
      return try make(candidates[bytes.indices.min { bytes[$0] < bytes[$1] }!], timings: [])
    }
    guard case .fastest(let batch) = choice else {
      let sparse = candidates.first { $0.isSparse }
      return try make(c.density <= 0.3 ? sparse ?? candidates[0] : candidates[0], timings: [])
    }
    let m = max(1, batch * c.rowsPerExample)
    let transposed = if case .convolution = c.kind { true } else { false }
    let timings = try candidates.map { f -> KernelTiming in
      let w = try packed(f)
      return KernelTiming(
        format: f, kernel: w.kernelName,
        seconds: timeProduct(w, m: m, bias: c.bias, activation: c.activation, transposed: transposed))
    }
    let best = timings.min { $0.seconds < $1.seconds }!
    return try make(best.format, timings: timings)
  }
}

extension LayerCandidate {
  var nonZeros: Int { weights.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
  var density: Double { Double(nonZeros) / Double(max(1, weights.count)) }
}

/// Median seconds of `w.multiply` (or `multiplyTransposed`, the convolution layout) on `m`
/// rows of random input, repeated until ~20 ms pass.
func timeProduct(
  _ w: any PackedLinearWeights, m: Int, bias: [Float]?, activation: EpilogueActivation, transposed: Bool
) -> Double {
  var rng = RandomGenerator(seed: 7)
  let x = Tensor.randomNormal([m, w.inputFeatures], using: &rng)
  let y = UnsafeMutablePointer<Float>.allocate(capacity: m * w.outputFeatures)
  defer { y.deallocate() }
  let b = bias ?? []
  return x.withUnsafeBufferPointer { xp in
    b.withUnsafeBufferPointer { bp in
      let b = bias == nil ? nil : bp.baseAddress
      let run = {
        if transposed {
          w.multiplyTransposed(xp.baseAddress!, m: m, bias: b, activation: activation, into: y)
        } else {
          w.multiply(xp.baseAddress!, m: m, bias: b, activation: activation, into: y)
        }
      }
      run()
      var samples: [Double] = []
      let deadline = monotonicSeconds() + 0.02
      while samples.count < 5 || (monotonicSeconds() < deadline && samples.count < 200) {
        let t0 = monotonicSeconds()
        run()
        samples.append(monotonicSeconds() - t0)
      }
      return samples.sorted()[samples.count / 2]
    }
  }
}
