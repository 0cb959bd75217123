/// Reverse-mode differentiation over the recorded graph.
///
/// Returns the gradient of `root` (seeded with `seed`, default all ones) for every leaf the
/// graph reaches, keyed by the leaf's key (see ``Tensor/tracked(key:)``). Leaves that the
/// result does not depend on are absent. Cost: one vector–Jacobian product per recorded op.
public func gradients(of root: Tensor, seed: Tensor? = nil) -> [Int: Tensor] {
  guard let rootNode = root.node else { return [:] }
  let seed = seed ?? Tensor(shape: root.shape, repeating: 1)
  precondition(seed.shape == root.shape, "seed shape \(seed.shape) differs from result \(root.shape)")
  let order = topologicalOrder(from: rootNode)
  var cotangents: [ObjectIdentifier: Tensor] = [ObjectIdentifier(rootNode): seed.detached]
  var result: [Int: Tensor] = [:]
  for node in order.reversed() {
    guard let g = cotangents.removeValue(forKey: ObjectIdentifier(node)) else { continue }
    if let key = node.leafKey {
      result[key] = result[key].map { $0 + g } ?? g
      continue
    }
    guard let op = node.op, let output = node.output else { continue }
    let needed = node.inputs.map { $0.node != nil }
    let inputGradients = op.vjp(g, inputs: node.inputs.map(\.detached), output: output, saved: node.saved, needed: needed)
    for (input, gradient) in zip(node.inputs, inputGradients) {
      guard let inputNode = input.node, let gradient else { continue }
      precondition(gradient.shape == input.shape, "\(op.name) gradient \(gradient.shape) for input \(input.shape)")
      let id = ObjectIdentifier(inputNode)
      cotangents[id] = cotangents[id].map { $0 + gradient } ?? gradient
    }
  }
  return result
}

/// Nodes reachable from `root`, each after all of its inputs (iterative, so deep graphs are fine).
func topologicalOrder(from root: GraphNode) -> [GraphNode] {
  var order: [GraphNode] = []
  var visited = Set<ObjectIdentifier>()
  var stack: [(GraphNode, Int)] = [(root, 0)]
  visited.insert(ObjectIdentifier(root))
  while let (node, next) = stack.popLast() {
    if next < node.inputs.count {
      stack.append((node, next + 1))
      if let child = node.inputs[next].node, visited.insert(ObjectIdentifier(child)).inserted {
        stack.append((child, 0))
      }
    } else {
      order.append(node)
    }
  }
  return order
}

/// The value of `f` at `inputs` and its gradient with respect to each input.
///
/// `f` must return a scalar (one element); its gradient is seeded with 1.
///
///     let (y, g) = valueWithGradient(at: [x]) { xs in (xs[0] * xs[0]).sum() }   // g[0] == 2x
public func valueWithGradient(at inputs: [Tensor], of f: ([Tensor]) -> Tensor) -> (value: Tensor, gradients: [Tensor]) {
  let tracked = inputs.enumerated().map { $1.detached.tracked(key: $0) }
  let value = f(tracked)
  precondition(value.count == 1, "valueWithGradient needs a scalar result, got shape \(value.shape)")
  let byKey = gradients(of: value)
  let grads = inputs.enumerated().map { i, x in byKey[i] ?? Tensor.zeros(x.shape) }
  return (value.detached, grads)
}

/// Every recorded step that `root` depends on, each after its inputs (leaves included).
/// The graph that structured pruning, the runtime compiler and exporters read.
public func recordedGraph(from root: Tensor) -> [GraphNode] {
  guard let node = root.node else { return [] }
  return topologicalOrder(from: node)
}

extension Tensor {
  /// The recorded node that produced this value, if any.
  public var graphNode: GraphNode? { node }
}
