import WinnowNN

/// The first `train` and `test` examples of the built-in digits' seeded 80/20 split: enough
/// to train for a few steps in a fraction of a second.
public func smallDigits(train: Int = 256, test: Int = 64) throws -> (Dataset, Dataset) {
  let (trainSplit, testSplit) = try Dataset.digits().split(testFraction: 0.2, seed: 0)
  return (trainSplit.subset(Array(0..<train)), testSplit.subset(Array(0..<test)))
}
