import Foundation
import WinnowCore

/// A live one-line progress report on standard error: epoch, step, loss, accuracy,
/// throughput and time left. On a terminal the line is redrawn in place; otherwise (logs,
/// CI) a line is printed at most every `interval` seconds.
public final class ProgressReporter {
  private let isTerminal = isatty(2) != 0
  private let interval: Double
  private let batchSize: Int
  private var epochStart = Date()
  private var lastPrint = Date.distantPast

  public init(batchSize: Int, interval: Double = 10) {
    self.batchSize = batchSize
    self.interval = interval
  }

  /// Marks the start of an epoch (for throughput and time left).
  public func beginEpoch() { epochStart = Date() }

  public func update(epoch: Int, of epochs: Int, step: Int, of steps: Int, loss: Double, accuracy: Double) {
    let now = Date()
    guard isTerminal ? now.timeIntervalSince(lastPrint) > 0.1 : now.timeIntervalSince(lastPrint) >= interval else { return }
    lastPrint = now
    let elapsed = now.timeIntervalSince(epochStart)
    let rate = Double(step * batchSize) / max(elapsed, 1e-9)
    let eta = elapsed / Double(max(step, 1)) * Double(steps - step)
    let line = String(format: "epoch %d/%d  step %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %@",
                      epoch, epochs, step, steps, loss, accuracy * 100, rate, formatDuration(eta))
    write(isTerminal ? "\r\u{1B}[K" + line : line + "\n")
  }

  public func finishEpoch(_ m: EpochMetrics) {
    var line = String(format: "epoch %d  train loss %.4f  acc %.2f%%", m.epoch, m.trainLoss, m.trainAccuracy * 100)
    if let l = m.testLoss, let a = m.testAccuracy { line += String(format: "  test loss %.4f  acc %.2f%%", l, a * 100) }
    line += String(format: "  %.1fs  %.0f samples/s", m.seconds, m.samplesPerSecond)
    write((isTerminal ? "\r\u{1B}[K" : "") + line + "\n")
  }

  public func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}

/// `m:ss` or `h:mm:ss`.
public func formatDuration(_ seconds: Double) -> String {
  guard seconds.isFinite else { return "?" }
  let s = Int(seconds.rounded())
  return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
