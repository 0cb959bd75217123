extension ONNXConformance {
  /// Per-operator counts as a markdown table, sorted by operator, with totals.
  public static func markdownReport(_ cases: [Case]) -> String {
    var byOperator: [String: (passed: Int, failed: Int, unsupported: Int)] = [:]
    for c in cases {
      var counts = byOperator[c.operatorName] ?? (0, 0, 0)
      switch c.outcome {
      case .passed: counts.passed += 1
      case .failed: counts.failed += 1
      case .unsupported: counts.unsupported += 1
      }
      byOperator[c.operatorName] = counts
    }
    var lines = ["| operator | passed | failed | unsupported |", "|---|---:|---:|---:|"]
    for (name, counts) in byOperator.sorted(by: { $0.key < $1.key }) {
      lines.append("| \(name) | \(counts.passed) | \(counts.failed) | \(counts.unsupported) |")
    }
    let passed = cases.filter { $0.outcome == .passed }
    let failed = cases.filter { if case .failed = $0.outcome { return true } else { return false } }
    lines.append("| **total** | **\(passed.count)** | **\(failed.count)** | **\(cases.count - passed.count - failed.count)** |")
    lines.append("")
    lines.append("\(cases.count) cases; \(passed.count) passed, of which \(passed.filter(\.isFloat32).count) are pure float32 (of \(cases.filter(\.isFloat32).count) pure float32 cases).")
    return lines.joined(separator: "\n")
  }
}
