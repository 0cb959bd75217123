import WinnowCore
import WinnowNN

/// One forward pass of a model recorded with every parameter and the input tracked: the raw
/// material of compilation.
struct ModelTrace {
  /// Parameter names in visiting order; parameter `i` is tracked under leaf key `i`.
  let parameterNames: [String]
  /// The leaf key of the input (one past the last parameter).
  var inputKey: Int { parameterNames.count }
  /// Recorded ops that depend on the input, each after its inputs.
  let dynamicNodes: [GraphNode]
  /// The model's output.
  let output: Tensor
  let batch: Int

  /// Runs `model` in inference mode on `batch` random inputs of `inputShape` (without batch).
  init(model: Layer, inputShape: [Int], batch: Int) throws {
    var names: [String] = []
    model.visitParameters { name, p in
      p.value = p.value.detached.tracked(key: names.count)
      names.append(name)
    }
    defer { model.visitParameters { _, p in p.value = p.value.detached } }
    var rng = RandomGenerator(seed: UInt64(batch))
    let input = Tensor.randomNormal([batch] + inputShape, using: &rng).tracked(key: names.count)
    let output = model.forward(input, ForwardContext(training: false))
    parameterNames = names
    self.output = output
    self.batch = batch
    let graph = recordedGraph(from: output)
    // A gather takes its indices from the values of its index input (an embedding lookup of
    // token ids): the record holds the traced ids as constants, so a program would replay
    // them for every input. Refuse rather than compute the wrong thing.
    if let gather = graph.first(where: { if case .gather = $0.op { true } else { false } }) {
      _ = gather
      throw RuntimeError.unsupportedOperation(
        "the model looks up rows by input values (gather / Embedding); compile the part after the lookup")
    }
    var dependsOnInput: Set<ObjectIdentifier> = []
    var dynamic: [GraphNode] = []
    for node in graph {
      if node.leafKey == names.count { dependsOnInput.insert(ObjectIdentifier(node)); continue }
      guard node.op != nil else { continue }
      if node.inputs.contains(where: { $0.graphNode.map { dependsOnInput.contains(ObjectIdentifier($0)) } ?? false }) {
        dependsOnInput.insert(ObjectIdentifier(node))
        dynamic.append(node)
      }
    }
    guard output.graphNode.map({ dependsOnInput.contains(ObjectIdentifier($0)) }) ?? false else {
      throw RuntimeError.unsupportedOperation("the model's output does not depend on its input")
    }
    dynamicNodes = dynamic
  }

  /// The name of the first parameter the constant `t` was computed from (`conv1.weight` for
  /// the masked weight of `conv1`), if any.
  func sourceParameter(of t: Tensor) -> String? {
    var stack = t.graphNode.map { [$0] } ?? []
    var seen: Set<ObjectIdentifier> = []
    while let node = stack.popLast() {
      guard seen.insert(ObjectIdentifier(node)).inserted else { continue }
      if let key = node.leafKey, key < parameterNames.count { return parameterNames[key] }
      stack.append(contentsOf: node.inputs.reversed().compactMap(\.graphNode))
    }
    return nil
  }
}
