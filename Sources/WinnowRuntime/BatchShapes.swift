import WinnowCore

/// A shape whose sizes may grow with the batch: size `i` is `base[i] + perBatch[i]·(B − 2)`.
///
/// The compiler traces the model at batch 2 and at batch 3 and compares the two records; a
/// size that differs between them is taken as proportional to the batch (a flatten to
/// `[B, C·H·W]`, a head split to `[B·T, heads, d]`). Everything else in the record must be
/// identical at both batch sizes, or the model's graph depends on the batch in a way this
/// program cannot follow (``RuntimeError/batchDependentGraph(step:detail:)``).
public struct BatchShape: Hashable, Sendable, Codable {
  /// The sizes at batch 2.
  public var base: [Int]
  /// How much each size grows per extra batch element.
  public var perBatch: [Int]

  public init(base: [Int], perBatch: [Int]) {
    self.base = base
    self.perBatch = perBatch
  }

  /// Sizes at batch `batch`.
  public func resolved(batch: Int) -> [Int] {
    zip(base, perBatch).map { $0 + $1 * (batch - BatchShape.tracedBatch) }
  }

  /// The first batch size the compiler traces with (the second is one more).
  public static let tracedBatch = 2
}

/// A primitive op of a compiled program: the ``Op`` as recorded at batch 2, plus which of
/// its shape payloads grow with the batch.
public struct ProgramOp: Hashable, Sendable {
  public var op: Op
  /// For `reshape` and `expand`: the target shape as a function of the batch.
  public var shape: BatchShape?

  public init(op: Op, shape: BatchShape? = nil) {
    self.op = op
    self.shape = shape
  }

  /// The op with its shape payload resolved for `batch`.
  public func resolved(batch: Int) -> Op {
    guard let shape else { return op }
    switch op {
    case .reshape: return .reshape(shape.resolved(batch: batch))
    case .expand: return .expand(shape.resolved(batch: batch))
    default: return op
    }
  }

  /// Joins the records of one op at batch 2 (`a`) and batch 3 (`b`).
  static func joining(_ a: Op, _ b: Op, step: Int) throws -> ProgramOp {
    switch (a, b) {
    case (.reshape(let x), .reshape(let y)) where x.count == y.count:
      return ProgramOp(op: a, shape: BatchShape(base: x, perBatch: zip(y, x).map { $0 - $1 }))
    case (.expand(let x), .expand(let y)) where x.count == y.count:
      return ProgramOp(op: a, shape: BatchShape(base: x, perBatch: zip(y, x).map { $0 - $1 }))
    default:
      guard a == b else {
        throw RuntimeError.batchDependentGraph(step: step, detail: "\(a.name) records \(a) at batch 2 but \(b) at batch 3")
      }
      return ProgramOp(op: a)
    }
  }
}
