import Foundation
import WinnowCore
import WinnowNN

/// Per-layer sensitivity (survey of Gholami et al., §V-A; "Pareto-Optimal Quantized ResNet"):
/// the model's accuracy and loss when exactly one layer is compressed and all others are
/// left alone. Quantization is weight-only fake quantization; pruning is layer-wise magnitude
/// pruning (``Pruning/magnitude(_:sparsity:global:names:)``); rank is the truncated SVD of the
/// layer's `N×K` weight matrix (what ``LowRankFactorization`` computes, without changing the
/// architecture). Every layer is restored after
/// its measurement, so the model ends as it started.
public struct SensitivityAnalysis {
  /// One way of compressing a layer.
  public enum Compression: Hashable, Sendable, CustomStringConvertible {
    case quantization(QuantizationScheme)
    case pruning(sparsity: Double)
    /// Keep `fraction` of the layer's full rank min(N, K) (at least 1).
    case rank(fraction: Double)

    public var description: String {
      switch self {
      case .quantization(let scheme): return scheme.description
      case .pruning(let s): return "prune-\(formatPercent(s))"
      case .rank(let f): return "rank-\(formatPercent(f))"
      }
    }
  }

  public struct Entry: Codable, Sendable, Equatable {
    public var layer: String
    public var compression: String
    /// Bits per weight for quantization, nil for pruning.
    public var bits: Int?
    public var sparsity: Double?
    /// Fraction of the full rank kept, nil unless a rank entry.
    public var rankFraction: Double?
    public var accuracy: Float
    public var loss: Float
    public var weights: Int
  }

  public var compressions: [Compression]

  public init(compressions: [Compression]) { self.compressions = compressions }

  /// Measures every (layer, compression) pair with `evaluate` (accuracy, loss), after one
  /// baseline measurement. `progress` gets a line per layer.
  public func run(
    model: Layer, layers: [String]? = nil, evaluate: (Layer) -> (accuracy: Float, loss: Float),
    progress: (String) -> Void = { _ in }
  ) throws -> SensitivityReport {
    let known = quantizableLayers(of: model)
    let names = layers ?? known.map(\.name)
    let baseline = evaluate(model)
    var entries: [Entry] = []
    for name in names {
      guard let entry = known.first(where: { $0.name == name }) else {
        throw QuantizationError.unknownLayer(name, known: known.map(\.name))
      }
      for compression in compressions {
        let (accuracy, loss) = try measure(compression, layer: entry, model: model, evaluate: evaluate)
        var bits: Int?, sparsity: Double?, rankFraction: Double?
        switch compression {
        case .quantization(let scheme): bits = scheme.bitsPerElement
        case .pruning(let s): sparsity = s
        case .rank(let f): rankFraction = f
        }
        entries.append(Entry(layer: name, compression: compression.description, bits: bits, sparsity: sparsity,
                             rankFraction: rankFraction, accuracy: accuracy, loss: loss, weights: entry.weightShape.reduce(1, *)))
      }
      progress("sensitivity: \(name) done (\(compressions.count) settings)")
    }
    return SensitivityReport(baselineAccuracy: baseline.accuracy, baselineLoss: baseline.loss, entries: entries)
  }

  private func measure(
    _ compression: Compression, layer: QuantizableLayer, model: Layer, evaluate: (Layer) -> (accuracy: Float, loss: Float)
  ) throws -> (Float, Float) {
    let parameterName = layer.name.isEmpty ? "weight" : layer.name + ".weight"
    var saved: Parameter?
    model.visitParameters { name, p in if name == parameterName { saved = p } }
    guard let original = saved else { throw QuantizationError.unknownLayer(layer.name, known: []) }
    defer { model.visitParameters { name, p in if name == parameterName { p = original } } }
    switch compression {
    case .quantization(let scheme):
      let quantized = try scheme.fakeQuantize(original.effective.detached, layer: layer.name)
      model.visitParameters { name, p in if name == parameterName { p.value = quantized } }
    case .pruning(let sparsity):
      try Pruning.magnitude(model, sparsity: sparsity, global: false, names: [parameterName])
    case .rank(let fraction):
      let weight = original.effective.detached
      let svd = SingularValueDecomposition(weight.reshaped([weight.shape[0], -1]).detached)
      let rank = min(svd.k, max(1, Int((fraction * Double(svd.k)).rounded())))
      let truncated = svd.truncated(rank: rank).reshaped(weight.shape).detached
      model.visitParameters { name, p in if name == parameterName { p.value = truncated } }
    }
    return evaluate(model)
  }
}

/// Sensitivity results: markdown table, JSON and SVG plots (accuracy against bits per
/// weight, against sparsity and against rank kept), one line per layer.
public struct SensitivityReport: Codable, Sendable, Equatable {
  public var baselineAccuracy: Float
  public var baselineLoss: Float
  public var entries: [Entry]
  public typealias Entry = SensitivityAnalysis.Entry

  var layers: [String] {
    var seen: [String] = []
    for e in entries where !seen.contains(e.layer) { seen.append(e.layer) }
    return seen
  }

  var compressions: [String] {
    var seen: [String] = []
    for e in entries where !seen.contains(e.compression) { seen.append(e.compression) }
    return seen
  }

  /// Rows: layers; columns: compressions; cells: accuracy (change from the baseline).
  public var markdown: String {
    var lines = [String(format: "Baseline: %.2f%% test accuracy, loss %.4f. Cells: accuracy with only that layer compressed (change).", baselineAccuracy * 100, baselineLoss), ""]
    lines.append("| layer | weights | " + compressions.joined(separator: " | ") + " |")
    lines.append("|---|---:|" + compressions.map { _ in "---:|" }.joined())
    for layer in layers {
      let row = entries.filter { $0.layer == layer }
      let cells = compressions.map { c in
        row.first { $0.compression == c }.map { String(format: "%.2f%% (%+.2f)", $0.accuracy * 100, ($0.accuracy - baselineAccuracy) * 100) } ?? "—"
      }
      lines.append("| \(layer) | \(row.first?.weights ?? 0) | " + cells.joined(separator: " | ") + " |")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public var json: Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return (try? encoder.encode(self)) ?? Data()
  }

  /// The x axis of a sensitivity plot.
  public enum PlotKind: String, CaseIterable, Sendable {
    case bits, sparsity, rank

    var axisLabel: String {
      switch self {
      case .bits: "bits per weight of that layer"
      case .sparsity: "sparsity of that layer (%)"
      case .rank: "rank kept in that layer (% of full rank)"
      }
    }

    func x(_ e: Entry) -> Double? {
      switch self {
      case .bits: e.bits.map(Double.init)
      case .sparsity: e.sparsity.map { $0 * 100 }
      case .rank: e.rankFraction.map { $0 * 100 }
      }
    }
  }

  /// Accuracy against bits per weight, sparsity or rank kept; nil when no entry has that kind.
  public func svg(_ kind: PlotKind) -> String? {
    let series = layers.compactMap { layer -> SVGLinePlot.Series? in
      let points = entries.filter { $0.layer == layer }.compactMap { e -> (x: Double, y: Double)? in
        let x = kind.x(e)
        return x.map { ($0, Double(e.accuracy) * 100) }
      }.sorted { $0.x < $1.x }
      return points.isEmpty ? nil : SVGLinePlot.Series(name: layer, points: points)
    }
    guard !series.isEmpty else { return nil }
    var plot = SVGLinePlot(title: "Per-layer sensitivity (baseline \(String(format: "%.2f%%", baselineAccuracy * 100)))",
                           xLabel: kind.axisLabel,
                           yLabel: "test accuracy (%)", series: series)
    plot.yFormat = { String(format: "%.1f", $0) }
    return plot.render()
  }

  /// Writes `name.md`, `name.json`, and `name-bits.svg` / `name-sparsity.svg` / `name-rank.svg`
  /// when they have data.
  public func write(to directory: String, name: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let base = URL(fileURLWithPath: directory).appendingPathComponent(name)
    try Data(markdown.utf8).write(to: base.appendingPathExtension("md"), options: .atomic)
    try json.write(to: base.appendingPathExtension("json"), options: .atomic)
    for kind in PlotKind.allCases {
      if let svg = svg(kind) {
        try Data(svg.utf8).write(to: URL(fileURLWithPath: base.path + "-\(kind.rawValue).svg"), options: .atomic)
      }
    }
  }
}
