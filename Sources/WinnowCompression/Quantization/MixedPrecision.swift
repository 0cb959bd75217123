import WinnowCore
import WinnowNN

/// A per-layer bit-width assignment under a size budget, from a sensitivity analysis.
///
/// The predicted loss of an assignment is the baseline plus the sum of each layer's measured
/// loss increase — the additivity assumption that per-layer sensitivity rests on (HAWQ; the
/// "Pareto-optimal quantized ResNet" study). Under it, choosing one scheme per layer to
/// minimise the summed increase with the summed storage within the budget is a
/// multiple-choice knapsack, which two methods solve:
///
/// - `.optimal` (default): exact dynamic programming over the layers, keeping after each layer
///   the Pareto front of partial assignments — for every storage size reached, only the least
///   loss, and only sizes whose loss is lower than at every smaller size. A partial assignment
///   off the front can never complete to a better one, so the final front's least-loss point
///   within the budget is optimal. Cost `O(L·c·F)` for `L` layers, `c` candidates, a front of
///   at most `F` points (bounded by the distinct storage sizes, in practice a few hundred).
/// - `.greedy`: every layer starts at its largest candidate; while over budget, the layer
///   whose next-smaller candidate costs the least loss per bit saved moves down one step —
///   except that once a single step can reach the budget, the step that reaches it with the
///   least loss increase is taken. Not optimal in general; kept for comparison.
public struct MixedPrecision {
  public enum Method: String, Sendable, CaseIterable {
    case optimal = "dp"
    case greedy
  }

  /// One scheme of one layer: its storage and its measured loss increase.
  public struct Candidate: Sendable, Equatable {
    public var bits: Int
    public var lossIncrease: Double
    public init(bits: Int, lossIncrease: Double) {
      self.bits = bits
      self.lossIncrease = lossIncrease
    }
  }

  public struct Assignment: Sendable {
    public var plan: QuantizationPlan
    /// Bits of the quantized weights (codes, scales, zero points), dense layout.
    public var bits: Int
    public var predictedLoss: Float
  }

  /// `budgetBits` bounds the weights' storage (codes + scales + zero points) of the analysed
  /// layers; `report` must hold quantization entries for every layer of `model` it names.
  public static func assign(report: SensitivityReport, model: Layer, budgetBits: Int,
                            method: Method = .optimal) throws(QuantizationError) -> Assignment {
    let shapes = Dictionary(uniqueKeysWithValues: quantizableLayers(of: model).map { ($0.name, $0.weightShape) })
    var options: [String: [(scheme: QuantizationScheme, candidate: Candidate)]] = [:]
    for entry in report.entries where entry.bits != nil {
      guard let shape = shapes[entry.layer] else { throw .unknownLayer(entry.layer, known: shapes.keys.sorted()) }
      let scheme = try QuantizationScheme(parsing: entry.compression)
      let candidate = Candidate(bits: try storageBits(scheme, shape: shape, layer: entry.layer),
                                lossIncrease: Double(Swift.max(entry.loss - report.baselineLoss, 0)))
      options[entry.layer, default: []].append((scheme, candidate))
    }
    let names = options.keys.sorted()
    let candidates = names.map { options[$0]!.map(\.candidate) }
    let found = method == .optimal ? optimalChoice(candidates, budget: budgetBits) : greedyChoice(candidates, budget: budgetBits)
    guard let choice = found else {
      let smallest = candidates.reduce(0) { $0 + ($1.map(\.bits).min() ?? 0) }
      throw .unsupportedUse(layer: names.first ?? "model", scheme: "mixed precision",
                            reason: "the budget of \(budgetBits) bits is below the smallest assignment (\(smallest) bits)")
    }
    let chosen = zip(names, choice).map { (name: $0, option: options[$0]![$1]) }
    let plan = QuantizationPlan(layers: Dictionary(uniqueKeysWithValues: chosen.map { ($0.name, $0.option.scheme) }))
    let increase = chosen.reduce(0.0) { $0 + $1.option.candidate.lossIncrease }
    return Assignment(plan: plan, bits: chosen.reduce(0) { $0 + $1.option.candidate.bits },
                      predictedLoss: report.baselineLoss + Float(increase))
  }

  /// The candidate index per layer with the least summed loss increase whose summed bits are
  /// within `budget` (fewer bits on equal loss); nil when even the smallest choices exceed it.
  public static func optimalChoice(_ candidates: [[Candidate]], budget: Int) -> [Int]? {
    // A front point: total bits, total loss, and (layer, candidate) back-pointers via `parent`.
    struct Point { var bits: Int; var loss: Double; var parent: Int; var choice: Int }
    var fronts: [[Point]] = [[Point(bits: 0, loss: 0, parent: -1, choice: -1)]]
    for layer in candidates {
      var next: [Point] = []
      for (p, point) in fronts[fronts.count - 1].enumerated() {
        for (c, candidate) in layer.enumerated() where point.bits + candidate.bits <= budget {
          next.append(Point(bits: point.bits + candidate.bits, loss: point.loss + candidate.lossIncrease, parent: p, choice: c))
        }
      }
      next.sort { ($0.bits, $0.loss) < ($1.bits, $1.loss) }
      var front: [Point] = []
      for point in next where front.last.map({ point.loss < $0.loss }) ?? true { front.append(point) }
      guard !front.isEmpty else { return nil }
      fronts.append(front)
    }
    // The front's loss falls as bits grow, so its last point is the least loss within budget.
    guard var index = fronts.last.map({ $0.count - 1 }) else { return nil }
    var choice = [Int](repeating: 0, count: candidates.count)
    for layer in stride(from: candidates.count, to: 0, by: -1) {
      let point = fronts[layer][index]
      choice[layer - 1] = point.choice
      index = point.parent
    }
    return choice
  }

  /// The greedy descent described above; nil when it cannot reach the budget.
  public static func greedyChoice(_ candidates: [[Candidate]], budget: Int) -> [Int]? {
    // Each layer's candidates from largest to smallest storage.
    let order = candidates.map { layer in layer.indices.sorted { (layer[$0].bits, $0) > (layer[$1].bits, $1) } }
    var step = [Int](repeating: 0, count: candidates.count)
    func at(_ layer: Int, _ s: Int) -> Candidate { candidates[layer][order[layer][s]] }
    var total = candidates.indices.reduce(0) { $0 + at($1, 0).bits }
    while total > budget {
      var best: (layer: Int, cost: Double)?, finishing: (layer: Int, loss: Double)?
      for layer in candidates.indices where step[layer] + 1 < candidates[layer].count {
        let (now, next) = (at(layer, step[layer]), at(layer, step[layer] + 1))
        let saved = now.bits - next.bits
        guard saved > 0 else { continue }
        let increase = Swift.max(next.lossIncrease - now.lossIncrease, 0)
        if best == nil || increase / Double(saved) < best!.cost { best = (layer, increase / Double(saved)) }
        if total - saved <= budget, finishing == nil || increase < finishing!.loss { finishing = (layer, increase) }
      }
      guard let move = finishing?.layer ?? best?.layer else { return nil }
      total -= at(move, step[move]).bits - at(move, step[move] + 1).bits
      step[move] += 1
    }
    return candidates.indices.map { order[$0][step[$0]] }
  }

  /// Storage of a `shape` weight under `scheme`: codes, a Float32 per scale, 8 bits per zero point.
  public static func storageBits(_ scheme: QuantizationScheme, shape: [Int], layer: String) throws(QuantizationError) -> Int {
    let count = shape.reduce(1, *)
    let blocks = count / (try scheme.blockSize(for: shape, layer: layer))
    return count * scheme.bitsPerElement + blocks * (32 + (scheme.isSymmetric ? 0 : 8))
  }
}

/// Storage of a (quantized, possibly sparse) model, computed from what would be stored.
///
/// Each parameter is counted dense or sparse, whichever is smaller: dense = `count · b`;
/// sparse (CSR over rows of axis 0) = `nnz · (b + 16)` (16-bit column indices) + `(rows + 1) · 32`
/// (row pointers), where `b` is the code width of a quantized weight (32 otherwise). Quantized
/// weights add their scales (32 bits each) and zero points (8 bits each, asymmetric only).
public struct ModelSize: Sendable, CustomStringConvertible {
  public struct Line: Sendable {
    public var name: String
    public var count: Int
    public var nonZero: Int
    public var format: String
    public var bits: Int
  }

  public var lines: [Line]
  public var float32Bits: Int { lines.reduce(0) { $0 + $1.count * 32 } }
  public var bits: Int { lines.reduce(0) { $0 + $1.bits } }

  public init(model: Layer, quantized: [String: QuantizedTensor]) {
    var lines: [Line] = []
    model.visitParameters { name, p in
      guard !name.hasSuffix("weight_step") else { return }
      let layer = name.hasSuffix(".weight") ? String(name.dropLast(7)) : name == "weight" ? "" : "\u{0}"
      let q = quantized[layer]
      let values = p.effective.detached.scalars
      let nonZero = values.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
      let width = q?.scheme.bitsPerElement ?? 32
      let rows = p.shape.first ?? 1
      let extra = q.map { $0.scales.count * 32 + ($0.scheme.isSymmetric ? 0 : $0.zeroPoints.count * 8) } ?? 0
      let dense = values.count * width, sparse = nonZero * (width + 16) + (rows + 1) * 32
      let kind = q.map { $0.scheme.description } ?? "float32"
      lines.append(Line(name: name, count: values.count, nonZero: nonZero,
                        format: sparse < dense ? "\(kind) CSR" : kind, bits: Swift.min(dense, sparse) + extra))
    }
    self.lines = lines
  }

  public var description: String {
    String(format: "size: %.1f KB float32 → %.1f KB (%.1f× smaller)", Double(float32Bits) / 8192, Double(bits) / 8192,
           Double(float32Bits) / Double(Swift.max(bits, 1)))
  }
}
