import Foundation

/// Why sweep result files could not be merged; every case names the file at fault.
public enum SweepMergeError: Error, Equatable, CustomStringConvertible {
  case noFiles
  case unreadable(file: String, reason: String)
  case noDenseRow(file: String)
  /// The file's sweep started from another dense network than the first file's.
  case differentDense(file: String, accuracy: Float, parameters: Int, expectedAccuracy: Float, expectedParameters: Int)
  /// The same method at the same sparsity appears twice with different outcomes.
  case conflictingResult(file: String, method: String, sparsity: Double)

  public var description: String {
    switch self {
    case .noFiles: return "no sweep files to merge"
    case let .unreadable(file, reason): return "\(file): not a sweep result file (\(reason))"
    case let .noDenseRow(file): return "\(file): has no 'dense' row, so its starting network is unknown"
    case let .differentDense(file, accuracy, parameters, expectedAccuracy, expectedParameters):
      return String(format: "%@: starts from a different dense network (%.2f%%, %d parameters; the first file's: %.2f%%, %d parameters)",
                    file, accuracy * 100, parameters, expectedAccuracy * 100, expectedParameters)
    case let .conflictingResult(file, method, sparsity):
      return "\(file): \(method) at \(formatPercent(sparsity)) sparsity is already in an earlier file with a different result"
    }
  }
}

extension SweepReport {
  /// One report from the JSON files of several sweeps (``write(to:name:)``) that started from
  /// the same dense network — long sweeps run one sparsity or one group of methods per
  /// invocation so that finished parts survive. Each file must hold a `dense` row equal to the
  /// first file's; a method run twice at one sparsity must have the same outcome (no picking
  /// the better run). Rows are ordered as ``SweepMethod/allCases``, then by sparsity.
  public static func merging(files: [String], title: String) throws(SweepMergeError) -> SweepReport {
    var runs: [(file: String, results: [PruningSweep.Result])] = []
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    for file in files {
      do {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        runs.append((file, try decoder.decode([PruningSweep.Result].self, from: data)))
      } catch {
        throw .unreadable(file: file, reason: "\(error)")
      }
    }
    return SweepReport(title: title, results: try merge(runs))
  }

  /// The merge of ``merging(files:title:)`` on decoded results.
  public static func merge(_ runs: [(file: String, results: [PruningSweep.Result])]) throws(SweepMergeError) -> [PruningSweep.Result] {
    guard let first = runs.first else { throw .noFiles }
    guard let dense = first.results.first(where: { $0.method == "dense" }) else { throw .noDenseRow(file: first.file) }
    var merged: [PruningSweep.Result] = []
    for (file, results) in runs {
      guard let own = results.first(where: { $0.method == "dense" }) else { throw .noDenseRow(file: file) }
      guard own.accuracy == dense.accuracy, own.parameters == dense.parameters else {
        throw .differentDense(file: file, accuracy: own.accuracy, parameters: own.parameters,
                              expectedAccuracy: dense.accuracy, expectedParameters: dense.parameters)
      }
      for r in results where r.method != "dense" {
        if let earlier = merged.first(where: { $0.method == r.method && $0.targetSparsity == r.targetSparsity }) {
          guard earlier.accuracy == r.accuracy, earlier.nonZero == r.nonZero else {
            throw .conflictingResult(file: file, method: r.method, sparsity: r.targetSparsity)
          }
          continue
        }
        merged.append(r)
      }
    }
    // Stable sort keeps a file's own order among rows of equal rank.
    let ordered = merged.enumerated().sorted { a, b in
      let (ra, rb) = (methodRank(a.element.method), methodRank(b.element.method))
      if ra != rb { return ra < rb }
      if a.element.targetSparsity != b.element.targetSparsity { return a.element.targetSparsity < b.element.targetSparsity }
      return a.offset < b.offset
    }.map(\.element)
    return [dense] + ordered
  }

  /// Position of a row's method in ``SweepMethod/allCases``; rows named after their pattern
  /// (`2:4`, `srste 2:4`) rank as `nm` and `srste`, unknown names last.
  static func methodRank(_ method: String) -> Int {
    let known = SweepMethod(rawValue: method)
      ?? (method.hasPrefix("srste ") ? .srste : method.contains(":") ? .nm : nil)
    return known.flatMap { SweepMethod.allCases.firstIndex(of: $0) } ?? SweepMethod.allCases.count
  }
}
