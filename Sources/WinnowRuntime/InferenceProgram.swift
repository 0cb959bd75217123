import Dispatch
import WinnowCore
import WinnowKernels

/// One step of a compiled program.
public enum ProgramStep: Sendable {
  /// A primitive op evaluated as in training (pooling, reshapes, normalisation, attention…).
  case operation(ProgramOp, inputs: [Operand], output: Int)
  /// Layer `layer` of ``InferenceProgram/layers`` on slot `input`.
  case layer(Int, input: Int, output: Int)

  var output: Int {
    switch self {
    case .operation(_, _, let output), .layer(_, _, let output): output
    }
  }

  var inputSlots: [Int] {
    switch self {
    case .operation(_, let inputs, _): inputs.compactMap { if case .value(let s) = $0 { s } else { nil } }
    case .layer(_, let input, _): [input]
    }
  }
}

/// A model compiled for inference: Linear and convolution layers run on packed weights in the
/// format chosen for each, with bias and activation fused; every other op runs as recorded.
///
/// Build one with ``Compiler/compile(_:inputShape:options:)`` or load one from a packed model
/// file; run it on any batch size with ``run(_:)``.
public struct InferenceProgram: Sendable {
  /// The shape of one input example (without the batch axis).
  public let inputShape: [Int]
  public internal(set) var layers: [CompiledLayer]
  public let steps: [ProgramStep]
  public let constants: [Tensor]
  public let outputSlot: Int
  /// The only batch size the program runs at (a model imported with a fixed batch), or nil.
  public internal(set) var fixedBatch: Int?
  /// For each step, the slots whose last reader it is (freed once it has run).
  let releases: [[Int]]

  init(inputShape: [Int], layers: [CompiledLayer], steps: [ProgramStep], constants: [Tensor], outputSlot: Int) {
    self.inputShape = inputShape
    self.layers = layers
    self.steps = steps
    self.constants = constants
    self.outputSlot = outputSlot
    var lastReader: [Int: Int] = [:]
    for (i, step) in steps.enumerated() { for slot in step.inputSlots { lastReader[slot] = i } }
    var releases = [[Int]](repeating: [], count: steps.count)
    for (slot, i) in lastReader where slot != outputSlot { releases[i].append(slot) }
    self.releases = releases
  }

  /// Runs the program on `input` (`[B] + inputShape`).
  public func run(_ input: Tensor) throws -> Tensor {
    try checkInput(input)
    return execute(input.detached, timing: nil)
  }

  /// Runs the program and adds each step's seconds to `timing` (layer steps under the layer's
  /// name, other steps under their op name).
  public func runTimed(_ input: Tensor, into timing: inout [String: Double]) throws -> Tensor {
    try checkInput(input)
    var local: [String: Double] = [:]
    let y = execute(input.detached, timing: &local)
    for (k, v) in local { timing[k, default: 0] += v }
    return y
  }

  private func checkInput(_ input: Tensor) throws {
    guard input.rank == inputShape.count + 1, Array(input.shape.dropFirst()) == inputShape, input.shape[0] > 0 else {
      throw RuntimeError.inputShape(expected: inputShape, got: input.shape)
    }
    if let fixedBatch, input.shape[0] != fixedBatch {
      throw RuntimeError.inputShape(expected: [fixedBatch] + inputShape, got: input.shape)
    }
  }

  private func execute(_ input: Tensor, timing: UnsafeMutablePointer<[String: Double]>?) -> Tensor {
    let batch = input.shape[0]
    var slots: [Int: Tensor] = [0: input]
    for (i, step) in steps.enumerated() {
      let start = timing == nil ? 0 : monotonicSeconds()
      let key: String
      switch step {
      case .operation(let op, let inputs, let output):
        let values = inputs.map { operand -> Tensor in
          switch operand {
          case .value(let s): slots[s]!
          case .constant(let c): constants[c]
          }
        }
        slots[output] = Tensor.apply(op.resolved(batch: batch), values)
        key = op.op.name
      case .layer(let index, let input, let output):
        slots[output] = layers[index].run(slots[input]!)
        key = layers[index].name
      }
      for slot in releases[i] { slots[slot] = nil }
      if let timing { timing.pointee[key, default: 0] += monotonicSeconds() - start }
    }
    return slots[outputSlot]!
  }

  /// Bytes of packed weights, biases and other constants: what the program holds in memory.
  public var weightBytes: Int {
    layers.reduce(0) { $0 + $1.weights.packedByteCount + ($1.bias?.count ?? 0) * 4 }
      + constants.reduce(0) { $0 + $1.count * 4 }
  }
}

/// Seconds on a monotonic clock.
func monotonicSeconds() -> Double {
  Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
}
