import Winnow

/// One LeNet-5 training step as the Trainer runs it: forward, cross-entropy, backward, and an
/// SGD update (momentum 0.9, weight decay 5e-4), on a batch of 128 1×28×28 images.
/// `lenet_step_torch.py` measures the same step in PyTorch.
final class LeNetStep {
  static let batch = 128
  let model: Sequential
  let images: Tensor
  let labels: [Int]
  var optimizer = SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)

  init(seed: UInt64 = 1) {
    var rng = RandomGenerator(seed: seed)
    model = Models.lenet5(rng: &rng)
    images = Tensor.randomNormal([Self.batch, 1, 28, 28], using: &rng)
    labels = (0..<Self.batch).map { _ in Int(rng.next() % 10) }
  }

  /// One full step; returns the loss.
  @discardableResult
  func step() -> Float {
    let context = ForwardContext(training: true)
    let (loss, gradients) = valueWithGradients(of: model) {
      crossEntropy(model.forward(images, context), labels: labels)
    }
    optimizer.update(model, with: gradients)
    return loss
  }

  /// The step in three timed phases (forward + loss, backward, update), for finding costs.
  func phases() -> (forward: Double, backward: Double, update: Double) {
    var names: [String] = []
    model.visitParameters { name, p in
      p.value = p.value.detached.tracked(key: names.count)
      names.append(name)
    }
    let t0 = monotonicSeconds()
    let loss = crossEntropy(model.forward(images, ForwardContext(training: true)), labels: labels)
    let t1 = monotonicSeconds()
    let byKey = gradients(of: loss)
    let t2 = monotonicSeconds()
    model.visitParameters { _, p in p.value = p.value.detached }
    var byName: [String: Tensor] = [:]
    for (key, g) in byKey { byName[names[key]] = g }
    let t3 = monotonicSeconds()
    optimizer.update(model, with: Gradients(byName))
    let t4 = monotonicSeconds()
    return (t1 - t0, t2 - t1, t4 - t3)
  }
}

enum LeNetBenchmark {
  static func run(threads: [Int], sampler: QuietSampler, phases: Bool) {
    say("## LeNet-5 training step (batch 128, 1×28×28, SGD momentum 0.9, wd 5e-4)\n")
    say("| threads | min ms | median ms | max ms | samples/s @median | samples |")
    say("|---:|---:|---:|---:|---:|---|")
    for t in threads {
      setThreads(t)
      let lenet = LeNetStep()
      let timing = sampler.measure([{ lenet.step() }])[0]
      say("| \(t) | \(format(timing.minimum * 1e3, 2)) | \(format(timing.median * 1e3, 2)) | "
          + "\(format(timing.maximum * 1e3, 2)) | \(format(Double(LeNetStep.batch) / timing.median, 0)) | \(timing.quality) |")
      // Machine-readable, for compare_lenet.sh.
      say("RESULT winnow lenet_step threads=\(t) median_ms=\(format(timing.median * 1e3, 3)) "
          + "min_ms=\(format(timing.minimum * 1e3, 3)) max_ms=\(format(timing.maximum * 1e3, 3)) "
          + "quality=\(timing.quality.replacingOccurrences(of: " ", with: "_"))")
      if phases { printPhases(lenet, threads: t) }
    }
    say("")
  }

  /// Median of 21 phase-timed steps (not noise-filtered; for finding where time goes).
  static func printPhases(_ lenet: LeNetStep, threads: Int) {
    var f: [Double] = [], b: [Double] = [], u: [Double] = []
    for _ in 0..<21 {
      let p = lenet.phases()
      f.append(p.forward); b.append(p.backward); u.append(p.update)
    }
    func med(_ v: [Double]) -> String { format(v.sorted()[v.count / 2] * 1e3, 2) }
    say("  phases, \(threads) thread(s), median ms: forward+loss \(med(f)), backward \(med(b)), update \(med(u))")
  }
}
