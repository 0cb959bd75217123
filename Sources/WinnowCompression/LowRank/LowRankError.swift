/// Why a low-rank request cannot be carried out; every case names the layer or value at fault.
public enum LowRankError: Error, Equatable, Sendable, CustomStringConvertible {
  case unknownLayer(String, known: [String])
  case unsupportedLayer(String, reason: String)
  case invalidRank(layer: String, rank: Int, maximum: Int)
  case invalidEnergy(Double)
  case invalidCompression(Double)
  case invalidSchedule(reason: String)

  public var description: String {
    switch self {
    case .unknownLayer(let name, let known):
      let shown = known.prefix(8).joined(separator: ", ") + (known.count > 8 ? ", …" : "")
      return "unknown layer '\(name)'; layers that can be factorized are: \(shown)"
    case .unsupportedLayer(let name, let reason):
      return "layer '\(name)' cannot be factorized: \(reason)"
    case .invalidRank(let layer, let rank, let maximum):
      return "layer '\(layer)': rank \(rank) is impossible (it must be between 1 and min(N, K) = \(maximum))"
    case .invalidEnergy(let e):
      return "energy \(e) is impossible: the kept fraction of Σσ² must be in (0, 1]"
    case .invalidCompression(let c):
      return "compression \(c) is impossible: the parameter ratio must be greater than 1 (e.g. 2 for half the weights)"
    case .invalidSchedule(let reason):
      return "trained rank pruning: \(reason)"
    }
  }
}
