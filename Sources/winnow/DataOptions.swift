import ArgumentParser
import Winnow

/// Where the examples come from; shared by `train` and `eval`.
struct DataOptions: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp(
    "Data set: 'digits' (built in, 8×8) or 'fashion-mnist' (IDX files, 28×28).",
    discussion: "fashion-mnist reads --data-dir, by default /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)."))
  var data: String = "digits"

  @Option(name: .long, help: "Directory of IDX files (train-images-idx3-ubyte[.gz] and friends) for --data fashion-mnist.")
  var dataDir: String = "/usr/share/datasets/fashion-mnist"

  @Option(name: .long, help: "Use only the first N training examples (quick experiments).")
  var limit: Int?

  /// Training and test splits, normalised with the training split's pixel statistics.
  func load() throws -> (train: Dataset, test: Dataset) {
    var (train, test): (Dataset, Dataset)
    switch data {
    case "digits":
      (train, test) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
    case "fashion-mnist", "mnist":
      (train, test) = try Dataset.idxClassification(directory: dataDir, name: data)
    default:
      throw ValidationError("unknown data set '\(data)'; use 'digits' or 'fashion-mnist'")
    }
    if let limit {
      guard limit > 0 else { throw ValidationError("--limit must be positive") }
      train = train.subset(Array(0..<min(limit, train.count)))
    }
    let stats = train.pixelStatistics
    return (train.normalized(mean: stats.mean, standardDeviation: stats.standardDeviation),
            test.normalized(mean: stats.mean, standardDeviation: stats.standardDeviation))
  }
}

/// Reads a checkpoint, loads the data and checks they fit each other; returns the model
/// (structurally pruned ones included) and both splits.
func loadCheckpoint(_ path: String, for dataOptions: DataOptions) throws -> (Checkpoint, Layer, train: Dataset, test: Dataset) {
  let saved = try Checkpoint.read(path: path)
  let (train, test) = try dataOptions.load()
  guard saved.spec.inputShape == test.imageShape, saved.spec.classes == test.classes else {
    throw ValidationError("\(path) expects \(saved.spec.inputShape) images with \(saved.spec.classes) classes; \(test.name) has \(test.imageShape) with \(test.classes)")
  }
  return (saved, try loadModel(from: saved, file: path), train, test)
}
