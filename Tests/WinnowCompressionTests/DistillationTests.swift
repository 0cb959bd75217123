import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

/// Mean over examples of `KL(softmax(teacher) ‖ softmax(student))` on `data`.
private func meanKL(teacher: Layer, student: Layer, on data: Dataset) -> Float {
  let x = data.subset(Array(0..<data.count)).images
  return klDivergence(logQ: student(x).logSoftmax(axis: 1), p: teacher(x).softmax(axis: 1)).scalar
}

private func configuration(epochs: Int, seed: UInt64) -> TrainingConfiguration {
  var c = TrainingConfiguration()
  c.epochs = epochs
  c.batchSize = 32
  c.seed = seed
  return c
}

@Suite struct DistillationTests {
  @Test func logitLossGradientMatchesFiniteDifferences() {
    let student = randomTensor([4, 5], seed: 1, in: -2...2), teacher = randomTensor([4, 5], seed: 2, in: -2...2)
    let labels = [0, 3, 4, 1]
    for (temperature, alpha) in [(Float(1), Float(1)), (4, 0.9), (2, 0)] {
      let f = { (s: Tensor) in logitDistillationLoss(student: s, teacher: teacher, labels: labels, temperature: temperature, weight: alpha) }
      let (_, analytic) = valueWithGradient(at: [student]) { f($0[0]) }
      let numeric = numericGradientInDouble(of: { Double(f($0).scalar) }, at: student, h: 1e-2)
      // O(1) loss in Float32 with h = 1e-2: rounding ~1e-5, truncation O(h²)·|f'''| ~ 1e-4.
      #expect(gradientMismatch(analytic[0], numeric, atol: 5e-4, rtol: 1e-3) == nil, "T \(temperature), α \(alpha)")
    }
  }

  @Test func logitLossValues() {
    let s = Tensor(shape: [1, 3], scalars: [1, 2, 3]), t = Tensor(shape: [1, 3], scalars: [3, 1, 0])
    // Identical logits: no soft loss, only (1 − α)·CE.
    let same = logitDistillationLoss(student: s, teacher: s, labels: [2], temperature: 4, weight: 0.75).scalar
    #expect(abs(same - 0.25 * crossEntropy(s, labels: [2]).scalar) < 1e-6)
    // α = 1: T²·Σ p·log(p/q) with p, q the tempered softmaxes, by hand in Double.
    func softmax(_ v: [Double]) -> [Double] { let e = v.map { exp($0) }; let z = e.reduce(0, +); return e.map { $0 / z } }
    let p = softmax([1.5, 0.5, 0]), q = softmax([0.5, 1, 1.5])
    let kl = 4 * zip(p, q).reduce(0.0) { $0 + $1.0 * log($1.0 / $1.1) }
    let loss = logitDistillationLoss(student: s, teacher: t, labels: [0], temperature: 2, weight: 1).scalar
    #expect(abs(Double(loss) - kl) < 1e-5)
  }

  @Test func featureLossGradientsIncludingAdapter() {
    var rng = RandomGenerator(seed: 3)
    let adapter = Linear(3, 5, rng: &rng)
    let student = randomTensor([4, 3], seed: 4), teacher = randomTensor([4, 5], seed: 5)
    let context = ForwardContext(training: true)
    let (_, gradients) = valueWithGradients(of: adapter) {
      featureDistillationLoss(student: student, teacher: teacher, adapter: adapter, context: context)
    }
    let original = adapter.weight.value
    let numeric = numericGradientInDouble(of: { w in
      adapter.weight.value = w
      defer { adapter.weight.value = original }
      return Double(featureDistillationLoss(student: student, teacher: teacher, adapter: adapter, context: context).scalar)
    }, at: original)
    #expect(gradientMismatch(gradients["weight"]!, numeric, atol: 5e-4, rtol: 1e-3) == nil)
    let (_, toStudent) = valueWithGradient(at: [student]) {
      featureDistillationLoss(student: $0[0], teacher: teacher, adapter: adapter, context: context)
    }
    let numericStudent = numericGradientInDouble(of: {
      Double(featureDistillationLoss(student: $0, teacher: teacher, adapter: adapter, context: context).scalar)
    }, at: student)
    #expect(gradientMismatch(toStudent[0], numericStudent, atol: 5e-4, rtol: 1e-3) == nil)
  }

  /// A fresh student trained only on the teacher's soft targets (α = 1) ends much closer to
  /// the teacher (in KL on held-out examples) than it started.
  @Test func studentMovesTowardTheTeacher() throws {
    let (train, test) = try smallDigits()
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    let teacher = Trainer(spec: spec, configuration: configuration(epochs: 10, seed: 1))
    try teacher.run(train: train, test: nil)
    let distilled = Trainer(spec: spec, configuration: configuration(epochs: 10, seed: 2))
    let before = meanKL(teacher: teacher.model, student: distilled.model, on: test)
    let distillation = try Distillation(teacher: teacher.model, student: distilled.model, temperature: 1, weight: 1, inputShape: [1, 8, 8])
    let trainer = Trainer(spec: spec, configuration: configuration(epochs: 10, seed: 2), model: distillation.trainable)
    distillation.install(on: trainer)
    try trainer.run(train: train, test: nil)
    let after = meanKL(teacher: teacher.model, student: distilled.model, on: test)
    #expect(after < 0.5 * before, "KL to teacher \(before) → \(after)")
  }

  @Test func featureDistillationTrainsTheAdapter() throws {
    let (train, _) = try smallDigits(train: 64, test: 8)
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    let teacher = spec.build(seed: 1), student = spec.build(seed: 2)
    // Student fc2 (64 wide) against teacher fc1 (128 wide): a 64→128 adapter.
    let distillation = try Distillation(
      teacher: teacher, student: student, feature: .init(studentLayer: "fc2", teacherLayer: "fc1", weight: 1),
      inputShape: [1, 8, 8])
    #expect(distillation.trainable.parameterShapes.map(\.name).suffix(2) == ["distillation_adapter.weight", "distillation_adapter.bias"])
    let adapterBefore = (distillation.trainable.adapter as! Linear).weight.value
    let trainer = Trainer(spec: spec, configuration: configuration(epochs: 1, seed: 3), model: distillation.trainable)
    distillation.install(on: trainer)
    try trainer.run(train: train, test: nil)
    #expect((distillation.trainable.adapter as! Linear).weight.value != adapterBefore)
  }

  @Test func badSettingsNameTheProblem() {
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    let (teacher, student) = (spec.build(seed: 1), spec.build(seed: 2))
    #expect(throws: DistillationError.invalidTemperature(0)) {
      try Distillation(teacher: teacher, student: student, temperature: 0, inputShape: [1, 8, 8])
    }
    #expect(throws: DistillationError.invalidWeight(1.5)) {
      try Distillation(teacher: teacher, student: student, weight: 1.5, inputShape: [1, 8, 8])
    }
    #expect(throws: DistillationError.unknownFeatureLayer("fc7", model: "student")) {
      try Distillation(teacher: teacher, student: student, feature: .init(studentLayer: "fc7", teacherLayer: "fc1", weight: 1),
                       inputShape: [1, 8, 8])
    }
    let other = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 4).build(seed: 0)
    #expect(throws: DistillationError.incompatibleLogits(student: [1, 4], teacher: [1, 10])) {
      try Distillation(teacher: teacher, student: other, inputShape: [1, 8, 8])
    }
  }
}
