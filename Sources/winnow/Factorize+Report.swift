import Foundation
import Winnow

/// `winnow factorize --out DIR`: the run as a markdown table, JSON and an SVG plot of each
/// layer's retained energy against its rank.
struct FactorizeFiles {
  /// Per layer, the fraction of Σσ² kept by each rank 1…k of the matrix as it was factorized.
  var energyCurves: [(layer: String, retained: [Double])] = []

  /// Records the spectra of `layers` of `model` (before they are replaced).
  mutating func recordSpectra(of model: Layer, layers: [String]) {
    let byName = Dictionary(model.namedLayers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
    for name in layers {
      guard let layer = byName[name], let matrix = LowRankFactorization.weightMatrix(of: layer) else { continue }
      let energies = SingularValueDecomposition(matrix).singularValues.map { $0 * $0 }
      let total = max(energies.reduce(0, +), .leastNonzeroMagnitude)
      var running = 0.0
      energyCurves.append((name, energies.map { running += $0; return running / total }))
    }
  }

  func write(_ summary: FactorizeSummary, directory: String, name: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let base = (directory as NSString).appendingPathComponent(name)
    try summary.write(path: base + ".json")
    try Data(markdown(summary).utf8).write(to: URL(fileURLWithPath: base + ".md"), options: .atomic)
    let plot = SVGLinePlot(
      title: "Retained energy Σσ² by rank (\(summary.checkpoint))", xLabel: "rank (% of full rank)",
      yLabel: "retained energy (%)",
      series: energyCurves.map { curve in
        .init(name: curve.layer, points: curve.retained.enumerated().map {
          (x: 100 * Double($0.offset + 1) / Double(curve.retained.count), y: 100 * $0.element)
        })
      })
    try Data(plot.render().utf8).write(to: URL(fileURLWithPath: base + ".svg"), options: .atomic)
  }

  func markdown(_ s: FactorizeSummary) -> String {
    var lines = ["# Low-rank factorization of \(s.checkpoint)", "",
                 "| layer | kind | matrix | rank | of | energy kept | parameters before | after |",
                 "|---|---|---|---:|---:|---:|---:|---:|"]
    for e in s.layers {
      lines.append("| \(e.layer) | \(e.kind) | \(e.matrixShape.map(String.init).joined(separator: "×")) | "
        + "\(e.factorized ? String(e.rank) : "dense") | \(e.maximumRank) | \(String(format: "%.4f", e.energy)) | "
        + "\(e.parametersBefore) | \(e.parametersAfter) |")
    }
    func percent(_ a: Float?) -> String { a.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
    lines += ["", "| stage | accuracy | parameters |", "|---|---:|---:|",
              "| dense | \(percent(s.denseAccuracy)) | \(s.parametersBefore) |",
              "| after TRP | \(percent(s.trpAccuracy)) | \(s.parametersBefore) |",
              "| factorized | \(percent(s.factorizedAccuracy)) | \(s.parametersAfter) |",
              "| fine-tuned | \(percent(s.fineTunedAccuracy)) | \(s.parametersAfter) |"]
    return lines.joined(separator: "\n") + "\n"
  }
}
