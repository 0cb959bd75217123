import WinnowCore
import WinnowNN

/// Pruning masks by parameter name (1 = keep, 0 = pruned): the outcome of a pruning method,
/// as data. It can be applied to any model with the same parameter names and shapes,
/// saved and loaded, and reported.
public struct MaskSet: Sendable, Equatable {
  public var masks: [String: Tensor]

  public init(_ masks: [String: Tensor] = [:]) { self.masks = masks }

  /// The masks a model carries now.
  public init(of model: Layer) {
    var masks: [String: Tensor] = [:]
    model.visitParameters { name, p in if let m = p.mask { masks[name] = m } }
    self.masks = masks
  }

  public subscript(name: String) -> Tensor? {
    get { masks[name] }
    set { masks[name] = newValue }
  }

  /// Checks every mask against `model` (known name, same shape, only 0/1 values).
  public func validate(against model: Layer) throws(PruningError) {
    var shapes: [String: [Int]] = [:]
    model.visitParameters { name, p in shapes[name] = p.shape }
    for (name, mask) in masks.sorted(by: { $0.key < $1.key }) {
      guard let shape = shapes[name] else { throw .unknownLayer(name, known: shapes.keys.sorted()) }
      guard shape == mask.shape else { throw .maskShapeMismatch(layer: name, expected: shape, actual: mask.shape) }
      guard mask.scalars.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw .notAMask(layer: name) }
    }
  }

  /// Sets these masks on `model` and zeroes the pruned weights. Parameters without an entry
  /// keep whatever mask they had.
  public func apply(to model: Layer) throws(PruningError) {
    try validate(against: model)
    model.visitParameters { name, p in
      if let m = masks[name] {
        p.mask = m
        p.applyMask()
      }
    }
  }

  /// Per-layer and global counts.
  public func report(for model: Layer) -> SparsityReport { SparsityReport(model: model) }
}

/// Non-zero counts of a model's parameters: per layer and over all pruned layers.
public struct SparsityReport: Sendable, Equatable, CustomStringConvertible {
  public struct Entry: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var count: Int
    public var nonZero: Int
    public var masked: Bool
    public var sparsity: Double { count == 0 ? 0 : 1 - Double(nonZero) / Double(count) }
  }

  public var entries: [Entry]

  /// Counts exact zeros of every parameter's effective value.
  public init(model: Layer) {
    var entries: [Entry] = []
    model.visitParameters { name, p in
      let value = p.effective
      let nonZero = value.withUnsafeBufferPointer { $0.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
      entries.append(Entry(name: name, shape: p.shape, count: value.count, nonZero: nonZero, masked: p.mask != nil))
    }
    self.entries = entries
  }

  public var totalCount: Int { entries.reduce(0) { $0 + $1.count } }
  public var totalNonZero: Int { entries.reduce(0) { $0 + $1.nonZero } }
  /// Sparsity over all parameters (biases and norms included).
  public var globalSparsity: Double { 1 - Double(totalNonZero) / Double(max(totalCount, 1)) }
  /// Sparsity over the masked parameters only.
  public var maskedSparsity: Double {
    let masked = entries.filter(\.masked)
    let count = masked.reduce(0) { $0 + $1.count }
    return count == 0 ? 0 : 1 - Double(masked.reduce(0) { $0 + $1.nonZero }) / Double(count)
  }

  public var description: String {
    let width = min(entries.map(\.name.count).max() ?? 4, 48)
    var lines = ["layer".padding(toLength: width, withPad: " ", startingAt: 0) + "   shape              non-zeros       sparsity"]
    for e in entries {
      let shape = "\(e.shape)".padding(toLength: 18, withPad: " ", startingAt: 0)
      let nz = "\(e.nonZero)/\(e.count)".padding(toLength: 15, withPad: " ", startingAt: 0)
      lines.append(e.name.padding(toLength: width, withPad: " ", startingAt: 0) + "   \(shape) \(nz) \(percent(e.sparsity))")
    }
    lines.append("total: \(totalNonZero)/\(totalCount) non-zeros, sparsity \(percent(globalSparsity)) (masked layers: \(percent(maskedSparsity)))")
    return lines.joined(separator: "\n")
  }
}

func percent(_ x: Double) -> String {
  let v = (x * 10000).rounded() / 100
  return "\(v)%"
}
