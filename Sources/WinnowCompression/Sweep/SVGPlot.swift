import Foundation

/// A minimal line chart written as SVG: one polyline with markers per series, axes with
/// ticks, a legend. Enough for accuracy-against-sparsity plots without any dependency.
public struct SVGLinePlot: Sendable {
  public struct Series: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var dashed: Bool
    public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
      self.name = name
      self.points = points
      self.dashed = dashed
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  /// Formats x tick labels (e.g. percentages).
  public var xFormat: @Sendable (Double) -> String = { String(format: "%g", $0) }
  public var yFormat: @Sendable (Double) -> String = { String(format: "%g", $0) }

  public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
  }

  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]

  public func render(width: Double = 760, height: Double = 440) -> String {
    let (left, right, top, bottom) = (64.0, 200.0, 36.0, 52.0)
    let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
    var (x0, x1) = (all.map(\.x).min() ?? 0, all.map(\.x).max() ?? 1)
    var (y0, y1) = (all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
    if x1 - x0 < 1e-12 { x0 -= 0.5; x1 += 0.5 }
    if y1 - y0 < 1e-12 { y0 -= 0.5; y1 += 0.5 }
    let pad = (y1 - y0) * 0.05
    (y0, y1) = (y0 - pad, y1 + pad)
    let plotW = width - left - right, plotH = height - top - bottom
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
    func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(left)" y="20" font-size="14" font-weight="bold">\(escape(title))</text>
      <rect x="\(left)" y="\(top)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#888"/>

      """
    for i in 0...5 {
      let xv = x0 + (x1 - x0) * Double(i) / 5, yv = y0 + (y1 - y0) * Double(i) / 5
      svg += "<line x1=\"\(px(xv))\" y1=\"\(top + plotH)\" x2=\"\(px(xv))\" y2=\"\(top + plotH + 4)\" stroke=\"#888\"/>"
      svg += "<text x=\"\(px(xv))\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(escape(xFormat(xv)))</text>\n"
      svg += "<line x1=\"\(left)\" y1=\"\(py(yv))\" x2=\"\(left + plotW)\" y2=\"\(py(yv))\" stroke=\"#eee\"/>"
      svg += "<text x=\"\(left - 6)\" y=\"\(py(yv) + 4)\" text-anchor=\"end\">\(escape(yFormat(yv)))</text>\n"
    }
    svg += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
    svg += "<text transform=\"translate(16 \(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
    for (i, s) in series.enumerated() {
      let color = Self.palette[i % Self.palette.count]
      let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
      let path = pts.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
      let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
      svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
      for p in pts { svg += "<circle cx=\"\(px(p.x))\" cy=\"\(py(p.y))\" r=\"3\" fill=\"\(color)\"/>" }
      let ly = top + 8 + Double(i) * 18
      svg += "\n<line x1=\"\(left + plotW + 14)\" y1=\"\(ly)\" x2=\"\(left + plotW + 38)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>"
      svg += "<text x=\"\(left + plotW + 44)\" y=\"\(ly + 4)\">\(escape(s.name))</text>\n"
    }
    return svg + "</svg>\n"
  }

  private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }
}
