import WinnowCore
import WinnowNN

/// A per-layer bit-width assignment under a size budget, from a sensitivity analysis.
///
/// Greedy descent (in the spirit of HAWQ's Pareto selection, but with measured rather than
/// Hessian-estimated sensitivities): every layer starts at its largest candidate scheme;
/// while the weights are over budget, the layer whose next-smaller candidate costs the
/// least predicted loss per bit saved moves down one step — except that once a single step
/// can reach the budget, the step that reaches it with the least loss increase is taken (so
/// the last move does not overshoot by a large layer when a small one suffices). The predicted loss of an
/// assignment is the baseline plus the sum of each layer's measured loss increase — the
/// additivity assumption that per-layer sensitivity rests on. Greedy is not optimal for
/// this knapsack in general, but with at most a handful of candidates per layer its choices
/// are monotone and easy to read; the report prints the predicted loss so a plan can be
/// checked against the measured one.
public struct MixedPrecision {
  public struct Assignment: Sendable {
    public var plan: QuantizationPlan
    /// Bits of the quantized weights (codes, scales, zero points), dense layout.
    public var bits: Int
    public var predictedLoss: Float
  }

  /// `budgetBits` bounds the weights' storage (codes + scales + zero points) of the analysed
  /// layers; `report` must hold quantization entries for every layer of `model` it names.
  public static func assign(report: SensitivityReport, model: Layer, budgetBits: Int) throws(QuantizationError) -> Assignment {
    let shapes = Dictionary(uniqueKeysWithValues: quantizableLayers(of: model).map { ($0.name, $0.weightShape) })
    var candidates: [String: [(scheme: QuantizationScheme, bits: Int, lossIncrease: Float)]] = [:]
    for entry in report.entries where entry.bits != nil {
      guard let shape = shapes[entry.layer] else { throw .unknownLayer(entry.layer, known: shapes.keys.sorted()) }
      let scheme = try QuantizationScheme(parsing: entry.compression)
      candidates[entry.layer, default: []].append((scheme, try storageBits(scheme, shape: shape, layer: entry.layer),
                                                   Swift.max(entry.loss - report.baselineLoss, 0)))
    }
    var choice: [String: Int] = [:]
    for name in candidates.keys {
      candidates[name]!.sort { $0.bits > $1.bits }
      choice[name] = 0
    }
    func total() -> Int { choice.reduce(0) { $0 + candidates[$1.key]![$1.value].bits } }
    while total() > budgetBits {
      var best: (name: String, cost: Float)?, finishing: (name: String, loss: Float)?
      for (name, index) in choice.sorted(by: { $0.key < $1.key }) where index + 1 < candidates[name]!.count {
        let (now, next) = (candidates[name]![index], candidates[name]![index + 1])
        let saved = now.bits - next.bits
        guard saved > 0 else { continue }
        let increase = Swift.max(next.lossIncrease - now.lossIncrease, 0)
        if best == nil || increase / Float(saved) < best!.cost { best = (name, increase / Float(saved)) }
        if total() - saved <= budgetBits, finishing == nil || increase < finishing!.loss { finishing = (name, increase) }
      }
      guard let move = finishing.map({ (name: $0.name, cost: $0.loss) }) ?? best else {
        throw .unsupportedUse(layer: choice.keys.sorted().first ?? "model", scheme: "mixed precision",
                              reason: "the budget of \(budgetBits) bits is below the smallest assignment (\(total()) bits)")
      }
      choice[move.name]! += 1
    }
    let plan = QuantizationPlan(layers: Dictionary(uniqueKeysWithValues: choice.map { ($0.key, candidates[$0.key]![$0.value].scheme) }))
    let loss = report.baselineLoss + choice.reduce(0) { $0 + candidates[$1.key]![$1.value].lossIncrease }
    return Assignment(plan: plan, bits: total(), predictedLoss: loss)
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
