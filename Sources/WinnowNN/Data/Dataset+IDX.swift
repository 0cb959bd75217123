import Foundation
import WinnowCore

extension Dataset {
  /// Reads an MNIST-layout classification set from `directory`: `train-images-idx3-ubyte`,
  /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
  /// optionally gzipped (`.gz`). Pixels are scaled from 0–255 to [0, 1].
  ///
  /// Fashion-MNIST: Debian package `dataset-fashion-mnist` installs these files in
  /// `/usr/share/datasets/fashion-mnist`.
  public static func idxClassification(directory: String, name: String) throws(FormatError) -> (train: Dataset, test: Dataset) {
    (try idxSplit(directory: directory, prefix: "train", name: name + "-train"),
     try idxSplit(directory: directory, prefix: "t10k", name: name + "-test"))
  }

  static func idxSplit(directory: String, prefix: String, name: String) throws(FormatError) -> Dataset {
    let imagesPath = try findIDX(directory, "\(prefix)-images-idx3-ubyte")
    let labelsPath = try findIDX(directory, "\(prefix)-labels-idx1-ubyte")
    let images = try IDXArray.read(path: imagesPath)
    let labels = try IDXArray.read(path: labelsPath)
    guard images.shape.count == 3 else {
      throw .corrupt(file: imagesPath, reason: "expected N×H×W images, got shape \(images.shape)")
    }
    guard labels.shape == [images.shape[0]] else {
      throw .corrupt(file: labelsPath, reason: "expected \(images.shape[0]) labels, got shape \(labels.shape)")
    }
    var classLabels: [Int] = []
    classLabels.reserveCapacity(labels.values.count)
    for v in labels.values {
      guard let label = Int(exactly: v), label >= 0, label < 1000 else {
        throw .corrupt(file: labelsPath, reason: "label \(v) is not a small non-negative integer")
      }
      classLabels.append(label)
    }
    let tensor = Tensor(shape: [images.shape[0], 1, images.shape[1], images.shape[2]], scalars: images.values.map { $0 / 255 })
    return Dataset(name: name, images: tensor, labels: classLabels, classes: (classLabels.max() ?? 0) + 1)
  }

  private static func findIDX(_ directory: String, _ base: String) throws(FormatError) -> String {
    for candidate in [base + ".gz", base] {
      let path = (directory as NSString).appendingPathComponent(candidate)
      if FileManager.default.fileExists(atPath: path) { return path }
    }
    throw .io(file: (directory as NSString).appendingPathComponent(base + ".gz"),
              reason: "not found (install Debian's dataset-fashion-mnist, or pass --data-dir)")
  }
}
