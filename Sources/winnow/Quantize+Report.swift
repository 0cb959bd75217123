import Foundation
import Winnow

/// `winnow quantize --out DIR`: the run as JSON, a markdown table (accuracy by stage, then per
/// parameter tensor its format and size) and an SVG plot of each tensor's size in float32 and
/// quantized, so the result of a quantization run can be read, diffed and pasted as it is.
struct QuantizeSummary: Codable {
  struct TensorSize: Codable {
    var name: String
    var format: String
    var elements: Int
    var nonZero: Int
    var float32Bytes: Double
    var bytes: Double
  }

  var checkpoint: String
  var plan: String
  var float32Accuracy: Float
  var ptqAccuracy: Float = 0
  var qatAccuracy: Float?
  var qatEpochs = 0
  var float32Bytes: Double = 0
  var bytes: Double = 0
  var tensors: [TensorSize] = []

  init(checkpoint: String, plan: String, float32Accuracy: Float) {
    self.checkpoint = checkpoint
    self.plan = plan
    self.float32Accuracy = float32Accuracy
  }

  /// Fills the size columns from a ``ModelSize`` (bits → bytes).
  mutating func record(_ size: ModelSize) {
    tensors = size.lines.map {
      TensorSize(name: $0.name, format: $0.format, elements: $0.count, nonZero: $0.nonZero,
             float32Bytes: Double($0.count * 4), bytes: Double($0.bits) / 8)
    }
    float32Bytes = Double(size.float32Bits) / 8
    bytes = Double(size.bits) / 8
  }

  func write(directory: String, name: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let base = (directory as NSString).appendingPathComponent(name)
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: URL(fileURLWithPath: base + ".json"), options: .atomic)
    try Data(markdown.utf8).write(to: URL(fileURLWithPath: base + ".md"), options: .atomic)
    try Data(plot.render().utf8).write(to: URL(fileURLWithPath: base + ".svg"), options: .atomic)
  }

  var markdown: String {
    func percent(_ a: Float) -> String { String(format: "%.2f%%", a * 100) }
    func kilobytes(_ b: Double) -> String { String(format: "%.2f", b / 1024) }
    var lines = ["# Quantization of \(checkpoint)", "", "Plan: `\(plan)`", "",
                 "| stage | accuracy | size (KB) |", "|---|---:|---:|",
                 "| float32 | \(percent(float32Accuracy)) | \(kilobytes(float32Bytes)) |",
                 "| post-training quantization | \(percent(ptqAccuracy)) | \(kilobytes(bytes)) |"]
    if let qatAccuracy { lines.append("| + \(qatEpochs) epoch(s) of QAT | \(percent(qatAccuracy)) | \(kilobytes(bytes)) |") }
    lines += ["", "| tensor | format | elements | non-zeros | float32 KB | quantized KB | smaller |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for t in tensors {
      lines.append("| \(t.name) | \(t.format) | \(t.elements) | \(t.nonZero) | \(kilobytes(t.float32Bytes)) | "
        + "\(kilobytes(t.bytes)) | \(String(format: "%.2f×", t.float32Bytes / max(t.bytes, 1e-9))) |")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Size of each tensor (x = its position in the model) before and after.
  var plot: SVGLinePlot {
    func series(_ name: String, dashed: Bool, _ bytes: (TensorSize) -> Double) -> SVGLinePlot.Series {
      .init(name: name, points: tensors.enumerated().map { (x: Double($0.offset + 1), y: bytes($0.element) / 1024) }, dashed: dashed)
    }
    return SVGLinePlot(title: "Size per parameter tensor (\(checkpoint))", xLabel: "parameter tensor (model order)",
                       yLabel: "KB", series: [series("float32", dashed: true, \.float32Bytes), series("quantized", dashed: false, \.bytes)])
  }
}
