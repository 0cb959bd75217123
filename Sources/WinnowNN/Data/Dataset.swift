import Foundation
import WinnowCore

/// A labelled image classification data set held in memory: `images` is `N×C×H×W`.
public struct Dataset: Sendable {
  public var name: String
  public var images: Tensor
  public var labels: [Int]
  public var classes: Int

  public init(name: String, images: Tensor, labels: [Int], classes: Int) {
    precondition(images.rank == 4 && images.shape[0] == labels.count,
                 "dataset '\(name)': \(labels.count) labels for images \(images.shape)")
    self.name = name
    self.images = images
    self.labels = labels
    self.classes = classes
  }

  public var count: Int { labels.count }
  /// `[C, H, W]` of one image.
  public var imageShape: [Int] { Array(images.shape.dropFirst()) }

  /// The examples at `indices`, in that order.
  public func subset(_ indices: [Int], name: String? = nil) -> Dataset {
    let size = images.count / max(count, 1)
    let picked = Tensor(shape: [indices.count] + imageShape) { dst in
      images.withUnsafeBufferPointer { src in
        for (row, i) in indices.enumerated() {
          (dst.baseAddress! + row * size).update(from: src.baseAddress! + i * size, count: size)
        }
      }
    }
    return Dataset(name: name ?? self.name, images: picked, labels: indices.map { labels[$0] }, classes: classes)
  }

  /// A seeded random split into a training part and a test part of `testFraction`.
  public func split(testFraction: Double, seed: UInt64) -> (train: Dataset, test: Dataset) {
    var rng = RandomGenerator(seed: seed)
    let order = rng.permutation(count)
    let testCount = Int((Double(count) * testFraction).rounded())
    return (subset(Array(order[testCount...]).sorted(), name: name + "-train"),
            subset(Array(order[..<testCount]).sorted(), name: name + "-test"))
  }

  /// Standardises every pixel: `(x − mean) / standardDeviation`.
  public func normalized(mean: Float, standardDeviation: Float) -> Dataset {
    var copy = self
    copy.images = ((images - mean) * (1 / standardDeviation)).detached
    return copy
  }

  /// Mean and standard deviation over all pixels (use the training set's for both splits).
  public var pixelStatistics: (mean: Float, standardDeviation: Float) {
    images.withUnsafeBufferPointer { p in
      var s: Double = 0, s2: Double = 0
      for v in p { s += Double(v); s2 += Double(v) * Double(v) }
      let n = Double(max(p.count, 1))
      let mean = s / n
      return (Float(mean), Float((s2 / n - mean * mean).squareRoot()))
    }
  }

  /// Mini-batches in order, or in a seeded random order when `shuffle` is given.
  /// The last batch may be smaller.
  public func batches(size: Int, shuffle rng: inout RandomGenerator?) -> [Batch] {
    precondition(size > 0, "batch size must be positive")
    let order = rng != nil ? rng!.permutation(count) : Array(0..<count)
    return stride(from: 0, to: count, by: size).map { start in
      let indices = Array(order[start..<min(start + size, count)])
      let part = subset(indices)
      return Batch(images: part.images, labels: part.labels)
    }
  }

  /// Mini-batches in order (no shuffling).
  public func batches(size: Int) -> [Batch] {
    var none: RandomGenerator? = nil
    return batches(size: size, shuffle: &none)
  }
}

/// One mini-batch: images `B×C×H×W` and their labels.
public struct Batch: Sendable {
  public var images: Tensor
  public var labels: [Int]
}

extension Dataset {
  /// The UCI optical digits (1,797 images of 8×8, values scaled to [0, 1], 10 classes),
  /// embedded in the library so that Winnow runs with no data installed. CC BY 4.0; see
  /// `docs/DATA.md`. No split of its own: use ``split(testFraction:seed:)``.
  public static func digits() throws -> Dataset {
    guard let gz = Data(base64Encoded: embeddedDigitsCSVGzipBase64) else {
      throw FormatError.corrupt(file: "embedded digits", reason: "base64 does not decode")
    }
    return try digits(csvGzip: [UInt8](gz), name: "embedded digits")
  }

  /// Parses the digits CSV (gzipped): 65 integers a row, 64 pixels (0–16) then the label.
  public static func digits(csvGzip: [UInt8], name: String) throws -> Dataset {
    let csv = try Gzip.decompress(csvGzip, name: name)
    var pixels: [Float] = []
    var labels: [Int] = []
    var lineNumber = 0
    for line in String(decoding: csv, as: UTF8.self).split(whereSeparator: \.isNewline) {
      lineNumber += 1
      let fields = line.split(separator: ",")
      guard fields.count == 65, let values = Optional(fields.compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }),
            values.count == 65 else {
        throw FormatError.corrupt(file: name, reason: "line \(lineNumber) does not hold 65 numbers")
      }
      guard let label = Int(exactly: values[64]), (0..<10).contains(label) else {
        throw FormatError.corrupt(file: name, reason: "line \(lineNumber) has label \(values[64]) outside 0-9")
      }
      pixels += values[0..<64].map { $0 / 16 }
      labels.append(label)
    }
    guard !labels.isEmpty else { throw FormatError.corrupt(file: name, reason: "no rows") }
    return Dataset(name: "digits", images: Tensor(shape: [labels.count, 1, 8, 8], scalars: pixels),
                   labels: labels, classes: 10)
  }
}
