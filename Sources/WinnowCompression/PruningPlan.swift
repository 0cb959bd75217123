import Foundation
import WinnowCore
import WinnowNN

/// Per-layer pruning decisions, as data: which parameter is pruned to what sparsity or
/// N:M pattern. Plans are produced by allocation methods (uniform, ERK, global ranking,
/// layer-adaptive allocation), saved as JSON, applied to any copy of a model with the same
/// parameter names, and printed.
///
///     {"layers": {"conv1.weight": {"sparsity": 0.5}, "fc1.weight": {"n": 2, "m": 4}}}
public struct PruningPlan: Codable, Equatable, Sendable, CustomStringConvertible {
  public enum Target: Codable, Equatable, Sendable {
    /// Unstructured: prune this fraction of the layer's weights.
    case sparsity(Double)
    /// Keep `n` of every `m` consecutive weights of each row.
    case nm(n: Int, m: Int)
  }

  public var layers: [String: Target]

  public init(layers: [String: Target] = [:]) { self.layers = layers }

  /// The same sparsity for `names`, shared out by `allocation`.
  public static func allocate(_ allocation: LayerAllocation, sparsity: Double, over shapes: [(name: String, shape: [Int])]) throws(PruningError) -> PruningPlan {
    let s = try allocation.sparsities(for: shapes, globalSparsity: sparsity)
    return PruningPlan(layers: s.mapValues { .sparsity($0) })
  }

  /// The same N:M pattern for every named layer.
  public static func nm(n: Int, m: Int, names: [String]) -> PruningPlan {
    PruningPlan(layers: Dictionary(uniqueKeysWithValues: names.map { ($0, .nm(n: n, m: m)) }))
  }

  /// The plan that reproduces `masks` (their realised per-layer sparsities).
  public init(realizing masks: MaskSet) {
    layers = masks.masks.mapValues { m in
      .sparsity(1 - Double(m.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }) / Double(max(m.count, 1)))
    }
  }

  /// Rejects unknown layers, impossible sparsities and patterns that do not divide a layer.
  public func validate(against model: Layer) throws(PruningError) {
    var shapes: [String: [Int]] = [:]
    model.visitParameters { name, p in shapes[name] = p.shape }
    for (name, target) in layers.sorted(by: { $0.key < $1.key }) {
      guard let shape = shapes[name] else { throw .unknownLayer(name, known: prunableParameters(of: model).map(\.name)) }
      switch target {
      case .sparsity(let s):
        guard s >= 0 && s < 1 else { throw .impossibleSparsity(layer: name, sparsity: s) }
      case .nm(let n, let m):
        guard n > 0 && n < m else { throw .invalidPattern(n: n, m: m) }
        let rowLength = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : shape.reduce(1, *)
        guard rowLength % m == 0 else { throw .patternDoesNotDivide(layer: name, n: n, m: m, rowLength: rowLength) }
      }
    }
  }

  /// Masks for this plan from importance scores (lowest pruned first, per layer).
  public func masks(scores: [String: Tensor]) throws(PruningError) -> MaskSet {
    var sparsities: [String: Double] = [:]
    var result = MaskSet()
    for (name, target) in layers {
      switch target {
      case .sparsity(let s): sparsities[name] = s
      case .nm(let n, let m):
        guard let score = scores[name] else { throw .unknownLayer(name, known: scores.keys.sorted()) }
        result[name] = try MaskSelection.nm(scores: [name: score], n: n, m: m)[name]
      }
    }
    for (name, mask) in try MaskSelection.layerwise(scores: scores, sparsity: sparsities).masks { result[name] = mask }
    return result
  }

  public func jsonData() -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return (try? encoder.encode(self)) ?? Data()
  }

  public static func read(path: String) throws -> PruningPlan {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    do {
      return try JSONDecoder().decode(PruningPlan.self, from: data)
    } catch {
      throw PruningError.malformedPlan(reason: "\(path) is not a pruning plan (\(error))")
    }
  }

  public var description: String {
    layers.sorted { $0.key < $1.key }.map { name, target in
      switch target {
      case .sparsity(let s): return "\(name): sparsity \(percent(s))"
      case .nm(let n, let m): return "\(name): \(n):\(m)"
      }
    }.joined(separator: "\n")
  }
}

extension PruningPlan.Target {
  private enum Keys: String, CodingKey { case sparsity, n, m }

  /// `{"sparsity": s}` or `{"n": n, "m": m}`.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: Keys.self)
    if let s = try c.decodeIfPresent(Double.self, forKey: .sparsity) {
      self = .sparsity(s)
    } else {
      self = .nm(n: try c.decode(Int.self, forKey: .n), m: try c.decode(Int.self, forKey: .m))
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: Keys.self)
    switch self {
    case .sparsity(let s): try c.encode(s, forKey: .sparsity)
    case .nm(let n, let m): try c.encode(n, forKey: .n); try c.encode(m, forKey: .m)
    }
  }
}
