import WinnowCore
import WinnowKernels

/// A product with constant weights found in the graph, with what can be fused into it.
struct LayerCandidate {
  var name: String
  var kind: CompiledLayer.Kind
  /// `N×K` row-major.
  var weights: [Float]
  var outputFeatures: Int
  var inputFeatures: Int
  var bias: [Float]?
  var activation: EpilogueActivation
  var rowsPerExample: Int
  /// The product's step, and the bias/activation steps folded into it.
  var steps: [Int]
  var inputSlot: Int
  var outputSlot: Int
}

/// Finds Linear and convolution products in a ``ProgramGraph`` and fuses bias and ReLU.
struct LayerFusion {
  let graph: ProgramGraph
  private(set) var candidates: [LayerCandidate] = []
  private var readers: [Int: [Int]] = [:]
  private let uses: [Int: Int]

  init(graph: ProgramGraph) {
    self.graph = graph
    uses = graph.useCounts()
    for (i, step) in graph.steps.enumerated() {
      for case .value(let slot) in step.inputs { readers[slot, default: []].append(i) }
    }
  }

  mutating func run() -> [LayerCandidate] {
    var names: Set<String> = []
    for i in graph.steps.indices {
      guard var c = product(at: i) else { continue }
      fuseEpilogue(into: &c)
      var name = c.name
      var suffix = 2
      while names.contains(name) { name = "\(c.name)#\(suffix)"; suffix += 1 }
      c.name = name
      names.insert(name)
      candidates.append(c)
    }
    return candidates
  }

  /// Step `i` as a Linear (`x·Wᵀ` or `x·W` with constant 2-D `W`) or a one-group convolution.
  private func product(at i: Int) -> LayerCandidate? {
    let step = graph.steps[i]
    guard step.inputs.count == 2, case .value(let x) = step.inputs[0], case .constant(let c) = step.inputs[1] else { return nil }
    let w = graph.constants[c]
    let name = layerName(constant: c, index: candidates.count)
    switch step.op.op {
    case .matmul(transposeA: false, let transposeB) where w.rank == 2 && step.inputShapes[0].count == 2:
      let (n, k) = transposeB ? (w.shape[0], w.shape[1]) : (w.shape[1], w.shape[0])
      var values = w.scalars
      if !transposeB { values = (0..<(n * k)).map { values[($0 % k) * n + $0 / k] } }
      let rows = step.inputShapes[0][0] / graph.tracedBatch
      return LayerCandidate(
        name: name, kind: .linear, weights: values, outputFeatures: n, inputFeatures: k, bias: nil,
        activation: .none, rowsPerExample: max(1, rows), steps: [i], inputSlot: x, outputSlot: step.output)
    case .conv2d(let stride, let padding, let dilation, let groups) where groups == 1 && w.rank == 4:
      let shape = ConvolutionShape(
        inChannels: w.shape[1], outChannels: w.shape[0], kernel: [w.shape[2], w.shape[3]], stride: stride,
        padding: padding, dilation: dilation)
      let xs = step.inputShapes[0]
      let g = shape.geometry(batch: 1, height: xs[2], width: xs[3])
      return LayerCandidate(
        name: name, kind: .convolution(shape), weights: w.scalars, outputFeatures: w.shape[0],
        inputFeatures: g.patchSize, bias: nil, activation: .none, rowsPerExample: g.outHeight * g.outWidth,
        steps: [i], inputSlot: x, outputSlot: step.output)
    default:
      return nil
    }
  }

  /// Folds the per-feature affine steps that follow the product (a bias, an inference-mode
  /// batch norm: `+ c`, `− c`, `· c`, `/ c` with constants along the feature axis) into its
  /// weights and bias, then a `relu`. Zero weights stay zero, so sparsity survives the fold.
  private func fuseEpilogue(into c: inout LayerCandidate) {
    let n = c.outputFeatures
    var scale = [Float](repeating: 1, count: n), shift = [Float](repeating: 0, count: n)
    var folded = false
    while let i = soleReader(of: c.outputSlot), let (function, constant, constantFirst) = perFeatureOperand(step: i, of: c) {
      switch (function, constantFirst) {
      case (.add, _): for j in 0..<n { shift[j] += constant[j] }
      case (.subtract, false): for j in 0..<n { shift[j] -= constant[j] }
      case (.subtract, true): for j in 0..<n { scale[j] = -scale[j]; shift[j] = constant[j] - shift[j] }
      case (.multiply, _): for j in 0..<n { scale[j] *= constant[j]; shift[j] *= constant[j] }
      case (.divide, false): for j in 0..<n { scale[j] /= constant[j]; shift[j] /= constant[j] }
      default: break
      }
      folded = true
      c.steps.append(i)
      c.outputSlot = graph.steps[i].output
    }
    if folded {
      let k = c.inputFeatures
      for j in 0..<n where scale[j] != 1 {
        for p in j * k..<(j + 1) * k { c.weights[p] *= scale[j] }
      }
      c.bias = shift
    }
    if let i = soleReader(of: c.outputSlot), case .unary(.relu) = graph.steps[i].op.op {
      c.activation = .relu
      c.steps.append(i)
      c.outputSlot = graph.steps[i].output
    }
  }

  /// When step `i` combines the candidate's output with a constant holding one value per
  /// output feature (or one value for all): the function, the constant expanded to `N`
  /// values, and whether the constant is the left operand.
  private func perFeatureOperand(step i: Int, of c: LayerCandidate) -> (BinaryFunction, [Float], Bool)? {
    let step = graph.steps[i]
    guard case .binary(let function) = step.op.op, [.add, .subtract, .multiply, .divide].contains(function),
      step.inputs.count == 2
    else { return nil }
    let constantFirst: Bool
    let k: Int
    switch (step.inputs[0], step.inputs[1]) {
    case (.value(c.outputSlot), .constant(let index)): constantFirst = false; k = index
    case (.constant(let index), .value(c.outputSlot)): constantFirst = true; k = index
    default: return nil
    }
    if function == .divide && constantFirst { return nil }
    let b = graph.constants[k], n = c.outputFeatures
    let outputRank: Int
    switch c.kind {
    case .linear: outputRank = 2
    case .convolution: outputRank = 4
    }
    let featureAxis = b.rank - (outputRank - 1)
    if b.count == 1 && b.rank <= outputRank { return (function, [Float](repeating: b.scalars[0], count: n), constantFirst) }
    guard b.rank <= outputRank, featureAxis >= 0, b.shape[featureAxis] == n, b.count == n else { return nil }
    return (function, b.scalars, constantFirst)
  }

  /// The only step reading `slot`, when nothing else (not even the program output) does.
  private func soleReader(of slot: Int) -> Int? {
    guard uses[slot] == 1, let r = readers[slot], r.count == 1 else { return nil }
    return r[0]
  }

  private func layerName(constant: Int, index: Int) -> String {
    guard let source = graph.constantSources[constant] else { return "layer\(index)" }
    return source.hasSuffix(".weight") ? String(source.dropLast(".weight".count)) : source
  }

  /// The program: fused layers in place of their steps, other steps as recorded, constants
  /// that only fed the layers dropped.
  func program(inputShape: [Int], layers: [CompiledLayer]) -> InferenceProgram {
    var layerAt: [Int: Int] = [:], absorbed: Set<Int> = []
    for (l, c) in candidates.enumerated() {
      layerAt[c.steps[0]] = l
      absorbed.formUnion(c.steps.dropFirst())
    }
    var constantMap: [Int: Int] = [:], constants: [Tensor] = []
    var steps: [ProgramStep] = []
    for (i, step) in graph.steps.enumerated() where !absorbed.contains(i) {
      if let l = layerAt[i] {
        steps.append(.layer(l, input: candidates[l].inputSlot, output: candidates[l].outputSlot))
        continue
      }
      let inputs = step.inputs.map { operand -> Operand in
        guard case .constant(let k) = operand else { return operand }
        if let mapped = constantMap[k] { return .constant(mapped) }
        constantMap[k] = constants.count
        constants.append(graph.constants[k])
        return .constant(constants.count - 1)
      }
      steps.append(.operation(step.op, inputs: inputs, output: step.output))
    }
    return InferenceProgram(
      inputShape: inputShape, layers: layers, steps: steps, constants: constants, outputSlot: graph.outputSlot)
  }
}
