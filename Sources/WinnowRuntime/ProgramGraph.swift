import WinnowCore

/// Where a step reads one input: a value computed by the program (slot 0 is the program's
/// input, slot `i + 1` the result of step `i` before fusion) or a constant.
public enum Operand: Hashable, Sendable {
  case value(Int)
  case constant(Int)
}

/// The batch-independent op graph of a model: what the compiler packs and fuses.
struct ProgramGraph {
  struct Step {
    var op: ProgramOp
    var inputs: [Operand]
    /// The slot this step writes.
    var output: Int
    /// Shapes of the inputs as traced at batch 2.
    var inputShapes: [[Int]]
  }
  var steps: [Step]
  /// Constant operands (weights, masks applied to weights, biases, running statistics).
  var constants: [Tensor]
  /// For each constant, the parameter it was computed from, if any.
  var constantSources: [String?]
  var outputSlot: Int
  /// The batch size of the first record (shapes in ``Step/inputShapes`` are at this size).
  var tracedBatch: Int

  /// Joins the records of the same model at batch 2 and batch 3.
  init(_ a: ModelTrace, _ b: ModelTrace) throws {
    guard a.dynamicNodes.count == b.dynamicNodes.count else {
      throw RuntimeError.batchDependentGraph(
        step: min(a.dynamicNodes.count, b.dynamicNodes.count),
        detail: "\(a.dynamicNodes.count) ops at batch 2 but \(b.dynamicNodes.count) at batch 3")
    }
    tracedBatch = a.batch
    var slotOf: [ObjectIdentifier: Int] = [:]
    var constantIndex: [UnsafePointer<Float>: Int] = [:]
    constants = []
    constantSources = []
    steps = []
    for (i, (nodeA, nodeB)) in zip(a.dynamicNodes, b.dynamicNodes).enumerated() {
      guard let opA = nodeA.op, let opB = nodeB.op else { continue }
      let op = try ProgramOp.joining(opA, opB, step: i)
      var inputs: [Operand] = []
      for t in nodeA.inputs {
        if let node = t.graphNode, node.leafKey == a.inputKey {
          inputs.append(.value(0))
        } else if let node = t.graphNode, let slot = slotOf[ObjectIdentifier(node)] {
          inputs.append(.value(slot))
        } else {
          let key = t.withUnsafeBufferPointer { $0.baseAddress! }
          if let index = constantIndex[key], constants[index].shape == t.shape {
            inputs.append(.constant(index))
          } else {
            constantIndex[key] = constants.count
            inputs.append(.constant(constants.count))
            constants.append(t.detached)
            constantSources.append(a.sourceParameter(of: t))
          }
        }
      }
      let slot = steps.count + 1
      slotOf[ObjectIdentifier(nodeA)] = slot
      steps.append(Step(op: op, inputs: inputs, output: slot, inputShapes: nodeA.inputs.map(\.shape)))
    }
    guard let root = a.output.graphNode, let out = slotOf[ObjectIdentifier(root)] else {
      throw RuntimeError.unsupportedOperation("the model's output is its input")
    }
    outputSlot = out
  }

  /// How many steps (and the program output) read each slot.
  func useCounts() -> [Int: Int] {
    var uses: [Int: Int] = [outputSlot: 1]
    for step in steps {
      for case .value(let slot) in step.inputs { uses[slot, default: 0] += 1 }
    }
    return uses
  }
}
