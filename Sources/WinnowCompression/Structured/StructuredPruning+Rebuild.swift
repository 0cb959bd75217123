import WinnowCore
import WinnowNN

extension StructuredPruning {
  /// Shrinks a freshly built `model` to the parameter shapes of a structurally pruned copy
  /// (as saved in a checkpoint), so that the saved weights load into it.
  ///
  /// Each family of channel groups must have lost a whole number of groups consistently on
  /// every coupled axis; which groups is irrelevant because the saved weights replace all
  /// values. Throws, naming the parameter, when the shapes are not such a pruning.
  public static func rebuild(_ model: Layer, inputShape: [Int], toShapes target: [String: [Int]]) throws(PruningError) {
    let graph = DependencyGraph(tracing: model, inputShape: inputShape)
    var removed = Set<Int>()
    for (family, groups) in graph.families {
      // Groups of one family have the same number of members on each axis.
      let first = groups[0].members
      var removeCount: Int?
      for key in family {
        let perGroup = first.filter { $0.parameter == key.parameter && $0.axis == key.axis }.count
        let original = graph.parameterShapes[key.parameter]![key.axis]
        guard let wanted = target[key.parameter], wanted.count > key.axis else {
          throw .unknownLayer(key.parameter, known: target.keys.sorted())
        }
        let lost = original - wanted[key.axis]
        guard lost >= 0, perGroup > 0, lost % perGroup == 0, removeCount == nil || removeCount == lost / perGroup,
              lost / perGroup < groups.count else {
          throw .maskShapeMismatch(layer: key.parameter, expected: graph.parameterShapes[key.parameter]!, actual: wanted)
        }
        removeCount = lost / perGroup
      }
      removed.formUnion(groups.suffix(removeCount ?? 0).map(\.id))
    }
    apply(graph, removing: removed, to: model)
    var mismatch: PruningError?
    model.visitParameters { name, p in
      if mismatch == nil, let wanted = target[name], wanted != p.shape {
        mismatch = .maskShapeMismatch(layer: name, expected: p.shape, actual: wanted)
      }
    }
    if let mismatch { throw mismatch }
  }
}

/// The model stored in `checkpoint`, including structurally pruned (smaller) and low-rank
/// factorized ones (``LowRankFactorization/rebuild(_:toShapes:)``).
public func loadModel(from checkpoint: Checkpoint, file: String) throws -> Layer {
  var shapes: [String: [Int]] = [:]
  for (name, t) in checkpoint.tensors where name.hasPrefix("model.") { shapes[String(name.dropFirst(6))] = t.shape }
  let model = checkpoint.spec.build(seed: 0)
  try LowRankFactorization.rebuild(model, toShapes: shapes)
  do {
    try checkpoint.restore(into: model, file: file)
    return model
  } catch {
    // `restore` throws only FormatError; only a shape mismatch can be a smaller model.
    guard case .shapeMismatch = error else { throw error }
    let smaller = checkpoint.spec.build(seed: 0)
    try LowRankFactorization.rebuild(smaller, toShapes: shapes)
    // Not a structured pruning of this architecture: report the original shape error.
    guard (try? StructuredPruning.rebuild(smaller, inputShape: checkpoint.spec.inputShape, toShapes: shapes)) != nil else {
      throw error
    }
    try checkpoint.restore(into: smaller, file: file)
    return smaller
  }
}
