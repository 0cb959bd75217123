import Foundation

/// Renders sweep results as a markdown table, JSON and an SVG plot.
public struct SweepReport: Sendable {
  public var title: String
  public var results: [PruningSweep.Result]

  public init(title: String, results: [PruningSweep.Result]) {
    self.title = title
    self.results = results
  }

  var sparsities: [Double] { Array(Set(results.filter { $0.method != "dense" }.map(\.targetSparsity))).sorted() }
  var methods: [String] {
    var seen: [String] = []
    for r in results where r.method != "dense" && !seen.contains(r.method) { seen.append(r.method) }
    return seen
  }

  /// One row per method, one column per sparsity: test accuracy and non-zero parameters.
  /// A method below its baseline at the same sparsity (``SweepMethod/baselines``: random
  /// pruning with the same layer sparsities for most) is marked ↓.
  public var markdown: String {
    var lines = ["## \(title)", ""]
    if let dense = results.first(where: { $0.method == "dense" }) {
      lines.append(String(format: "Dense: %.2f%% test accuracy, %d parameters.", dense.accuracy * 100, dense.parameters))
      lines.append("")
    }
    lines.append("| method | " + sparsities.map { "\(formatPercent($0)) sparse" }.joined(separator: " | ") + " |")
    lines.append("|---|" + sparsities.map { _ in "---:|" }.joined())
    for method in methods {
      var cells: [String] = []
      for s in sparsities {
        guard let r = results.first(where: { $0.method == method && $0.targetSparsity == s }) else { cells.append("—"); continue }
        let loses = baseline(of: method, at: s).map { r.accuracy < $0.accuracy } ?? false
        cells.append(String(format: "%.2f%%%@ (%@)", r.accuracy * 100, loses ? " ↓" : "", compactCount(r.nonZero)))
      }
      lines.append("| \(method) | " + cells.joined(separator: " | ") + " |")
    }
    lines.append("")
    lines.append("Cells: test accuracy (non-zero parameters). ↓ = below its baseline at the same sparsity: random pruning "
      + "with the same per-layer sparsities; for channels the same architecture trained from scratch (or small-dense); "
      + "for the lottery ticket its mask re-initialised; for pruning at initialisation and SET/RigL random ERK at initialisation.")
    let notes = Set(results.compactMap { r in r.note.map { "\(r.method): \($0)" } }).sorted()
    if !notes.isEmpty { lines.append(""); lines += notes.map { "- \($0)" } }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The result of the first of `method`'s baselines run at sparsity `s`. Rows named after
  /// their pattern (`2:4`, `srste 2:4`) compare with random pruning.
  func baseline(of method: String, at s: Double) -> PruningSweep.Result? {
    let known = SweepMethod(rawValue: method) ?? (method.contains(":") ? .nm : nil)
    for candidate in known?.baselines ?? [] {
      if let r = results.first(where: { $0.method == candidate.rawValue && $0.targetSparsity == s }) { return r }
    }
    return nil
  }

  public var json: Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return (try? encoder.encode(results)) ?? Data()
  }

  public var svg: String {
    let series = methods.map { method in
      SVGLinePlot.Series(
        name: method,
        points: results.filter { $0.method == method }.map { (x: $0.targetSparsity * 100, y: Double($0.accuracy) * 100) },
        dashed: SweepMethod(rawValue: method)?.isBaseline ?? false)
    }
    var plot = SVGLinePlot(title: title, xLabel: "sparsity (% of prunable weights removed)", yLabel: "test accuracy (%)", series: series)
    plot.xFormat = { String(format: "%.0f%%", $0) }
    plot.yFormat = { String(format: "%.1f", $0) }
    return plot.render()
  }

  /// Writes `name.md`, `name.json` and `name.svg` into `directory` (atomically).
  public func write(to directory: String, name: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let base = URL(fileURLWithPath: directory).appendingPathComponent(name)
    try Data(markdown.utf8).write(to: base.appendingPathExtension("md"), options: .atomic)
    try json.write(to: base.appendingPathExtension("json"), options: .atomic)
    try Data(svg.utf8).write(to: base.appendingPathExtension("svg"), options: .atomic)
  }
}

func formatPercent(_ x: Double) -> String {
  let v = x * 100
  return v == v.rounded() ? "\(Int(v))%" : String(format: "%.1f%%", v)
}

func compactCount(_ n: Int) -> String {
  n >= 10_000 ? String(format: "%.1fk", Double(n) / 1000) : "\(n)"
}
