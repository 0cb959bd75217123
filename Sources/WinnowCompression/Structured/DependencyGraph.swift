import WinnowCore
import WinnowNN

/// Which slices of which parameters must be removed together, found from Winnow's own
/// recorded computation graph (the idea of DepGraph / "Structurally Prune Anything", without
/// tracing another framework).
///
/// The model runs once on a small input with every parameter tracked. Each op of the record
/// couples channel positions of its inputs and output (a convolution couples its weight's
/// output axis with its result's channel axis; an addition couples both operands; a flatten
/// maps one channel to a block of features; …). Positions that are coupled form a
/// ``ChannelGroup``: removing it removes every member slice and leaves the function of the
/// rest unchanged. Positions touching the model's input or output, reductions over channels
/// (layer norm), softmax axes, grouped (non-depthwise) convolutions, gathers, slices and
/// reshapes that mix axes are pinned and never removed.
public struct DependencyGraph: Sendable {
  /// One slice: index `index` along `axis` of parameter `parameter`.
  public struct Member: Hashable, Sendable {
    public var parameter: String
    public var axis: Int
    public var index: Int
  }

  /// Slices that are removed together (e.g. output channel 3 of `conv1`: its weight row,
  /// bias entry, batch-norm scale and shift, and the matching input slice of `conv2`).
  public struct ChannelGroup: Sendable {
    public var id: Int
    public var members: [Member]
    /// The (parameter, axis) pairs the group touches; groups with the same family are the
    /// channels of one prunable "layer".
    public var family: [ParameterAxis]
  }

  public struct ParameterAxis: Hashable, Sendable, Comparable {
    public var parameter: String
    public var axis: Int
    public init(parameter: String, axis: Int) {
      self.parameter = parameter
      self.axis = axis
    }
    public static func < (a: Self, b: Self) -> Bool { (a.parameter, a.axis) < (b.parameter, b.axis) }
  }

  public let groups: [ChannelGroup]
  public let parameterShapes: [String: [Int]]
  /// Parameter names in visiting order.
  public let parameterNames: [String]

  /// Traces `model` on a batch of two inputs of `inputShape` (without the batch axis).
  public init(tracing model: Layer, inputShape: [Int]) {
    var names: [String] = []
    var shapes: [String: [Int]] = [:]
    model.visitParameters { name, p in
      p.value = p.value.detached.tracked(key: names.count)
      names.append(name)
      shapes[name] = p.shape
    }
    defer { model.visitParameters { _, p in p.value = p.value.detached } }
    var rng = RandomGenerator(seed: 0)
    let input = Tensor.randomNormal([2] + inputShape, using: &rng).tracked(key: names.count)
    let output = model.forward(input, ForwardContext(training: false))
    var tracer = ChannelTracer()
    tracer.trace(output: output, inputKey: names.count)
    parameterNames = names
    parameterShapes = shapes
    groups = tracer.groups(parameterNames: names)
  }

  /// Groups by family, families in parameter order.
  public var families: [(family: [ParameterAxis], groups: [ChannelGroup])] {
    var order: [[ParameterAxis]] = []
    var byFamily: [[ParameterAxis]: [ChannelGroup]] = [:]
    for g in groups {
      if byFamily[g.family] == nil { order.append(g.family) }
      byFamily[g.family, default: []].append(g)
    }
    return order.map { ($0, byFamily[$0]!) }
  }
}

/// Builds the union-find over channel positions from a recorded graph.
struct ChannelTracer {
  var sets = ChannelUnionFind()
  var offsets: [ObjectIdentifier: (shape: [Int], axisStart: [Int])] = [:]
  var leafNodes: [Int: ObjectIdentifier] = [:]

  mutating func register(_ t: Tensor) -> Bool {
    guard let node = t.graphNode else { return false }
    let id = ObjectIdentifier(node)
    if offsets[id] == nil {
      var starts: [Int] = []
      for size in t.shape { starts.append(sets.add(size)) }
      offsets[id] = (t.shape, starts)
      if let key = node.leafKey { leafNodes[key] = id }
    }
    return true
  }

  mutating func element(_ t: Tensor, _ axis: Int, _ index: Int) -> Int {
    offsets[ObjectIdentifier(t.graphNode!)]!.axisStart[axis] + index
  }

  mutating func couple(_ a: Tensor, _ axisA: Int, _ b: Tensor, _ axisB: Int) {
    let n = a.shape[axisA]
    precondition(n == b.shape[axisB], "coupling axes of different sizes")
    for i in 0..<n { sets.union(element(a, axisA, i), element(b, axisB, i)) }
  }

  mutating func pin(_ t: Tensor, _ axis: Int) {
    for i in 0..<t.shape[axis] { sets.pin(element(t, axis, i)) }
  }

  mutating func pinAll(_ t: Tensor) { for a in t.shape.indices { pin(t, a) } }

  mutating func trace(output: Tensor, inputKey: Int) {
    let nodes = recordedGraph(from: output)
    _ = register(output)
    for node in nodes {
      for input in node.inputs { _ = register(input) }
    }
    pinAll(output)
    for node in nodes {
      guard let op = node.op else { continue }
      // The node's own value: find it as an input of a later node, or it is the output.
      let result = valueOf(node, in: nodes, output: output)
      couple(op: op, inputs: node.inputs, result: result)
    }
    if let inputID = leafNodes[inputKey], let entry = offsets[inputID] {
      for (axis, size) in entry.shape.enumerated() {
        for i in 0..<size { sets.pin(entry.axisStart[axis] + i) }
      }
    }
  }

  /// A tensor carrying `node` (all uses share the node, so any one will do).
  private var valueCache: [ObjectIdentifier: Tensor] = [:]
  mutating func valueOf(_ node: GraphNode, in nodes: [GraphNode], output: Tensor) -> Tensor {
    if valueCache.isEmpty {
      for n in nodes { for input in n.inputs { if let g = input.graphNode { valueCache[ObjectIdentifier(g)] = input } } }
      valueCache[ObjectIdentifier(output.graphNode!)] = output
    }
    return valueCache[ObjectIdentifier(node)]!
  }
}
