import Foundation
import Testing
import WinnowCompression
import WinnowCore
import WinnowNN
import WinnowTestSupport

private func nuclearNorm(_ matrix: Tensor) -> Double {
  SingularValueDecomposition(matrix).singularValues.reduce(0, +)
}

@Suite struct TrainedRankPruningTests {
  /// At a full-rank square matrix `W = U·Σ·Vᵀ`, `∂‖W‖_*/∂W = U·Vᵀ`: for an orthogonal `Q`,
  /// `W = Q·diag(3, 2, 1)` has `U·Vᵀ = Q`.
  @Test func subgradientOfFullRankMatrixIsUVTranspose() {
    let q = SingularValueDecomposition(randomTensor([3, 3], seed: 1))
    var entries: [Float] = []
    for i in 0..<3 {
      for j in 0..<3 {
        var sum = 0.0
        for t in 0..<3 { sum += q.u[i * 3 + t] * q.v[j * 3 + t] }
        entries.append(Float(sum))
      }
    }
    let orthogonal = Tensor(shape: [3, 3], scalars: entries)
    let w = orthogonal.matmul(Tensor(shape: [3, 3], scalars: [3, 0, 0, 0, 2, 0, 0, 0, 1]))
    let g = SingularValueDecomposition(w).nuclearNormSubgradient()
    #expect(allClose(g, orthogonal, atol: 1e-5))
  }

  /// At a generic (full-rank, distinct σ) point the nuclear norm is differentiable and its
  /// gradient is `U·Vᵀ`; compare with central differences in Double.
  @Test func subgradientMatchesFiniteDifferencesOfNuclearNorm() {
    let w = randomTensor([5, 7], seed: 2)
    let analytic = SingularValueDecomposition(w).nuclearNormSubgradient()
    let numeric = numericGradientInDouble(of: nuclearNorm, at: w, h: 1e-3)
    // Smooth in a neighbourhood of size ~ min gap of σ (≫ h); Float32 inputs: 1e-3.
    #expect(gradientMismatch(analytic, numeric, atol: 2e-3, rtol: 2e-3) == nil)
  }

  @Test func periodicTruncationBoundsTheRankAndFinalizeFactorizes() throws {
    let (train, test) = try smallDigits()
    var configuration = TrainingConfiguration()
    configuration.epochs = 1
    configuration.batchSize = 32
    let spec = ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10)
    let trainer = Trainer(spec: spec, configuration: configuration)
    let method = try TrainedRankPruning(model: trainer.model, layers: ["fc1", "fc2"], selection: .rank(6), period: 3, nuclearWeight: 1e-3)
    method.install(on: trainer)
    var truncations = 0
    let installed = trainer.beforeStep
    trainer.beforeStep = { model, state in
      installed?(model, state)
      // Right after a scheduled truncation every target weight has rank ≤ 6.
      guard state.globalStep > 0, state.globalStep % 3 == 0 else { return }
      for name in ["fc1", "fc2"] {
        let layer = model.namedLayers.first { $0.name == name }!.layer
        let svd = SingularValueDecomposition(LowRankFactorization.weightMatrix(of: layer)!)
        #expect(svd.singularValues[6...].allSatisfy { $0 < 1e-5 * svd.singularValues[0] }, "\(name)")
      }
      truncations += 1
    }
    try trainer.run(train: train, test: test)
    #expect(truncations >= 2)
    let entries = try method.finalize(trainer.model)
    #expect(entries.map(\.rank) == [6, 6] && entries.allSatisfy(\.factorized))
    #expect(trainer.model.parameterShapes.map(\.name).contains("fc1.first.weight"))
  }

  @Test func nuclearSubgradientIsAddedToTheWeightGradient() throws {
    var configuration = TrainingConfiguration()
    configuration.epochs = 1
    configuration.batchSize = 32
    let trainer = Trainer(spec: ModelSpec(.mlp, inputShape: [1, 8, 8], classes: 10), configuration: configuration)
    let method = try TrainedRankPruning(model: trainer.model, layers: ["fc3"], selection: .energy(0.9), period: 100, nuclearWeight: 0.5)
    let expected = method.nuclearSubgradients(trainer.model)["fc3.weight"]!
    method.install(on: trainer)
    var gradients = Gradients(["fc3.weight": .zeros([10, 64])])
    trainer.transformGradients?(trainer.model, &gradients, trainer.state)
    #expect(allClose(gradients["fc3.weight"]!, expected * 0.5, atol: 1e-7))
  }

  @Test func badSettingsAreRejected() {
    var rng = RandomGenerator(seed: 3)
    let model = Models.mlp(inputs: 16, hidden: [8], classes: 4, rng: &rng)
    #expect(throws: LowRankError.self) { try TrainedRankPruning(model: model, selection: .energy(0.9), period: 0, nuclearWeight: 0) }
    #expect(throws: LowRankError.self) { try TrainedRankPruning(model: model, selection: .energy(0.9), period: 5, nuclearWeight: -1) }
    #expect(throws: LowRankError.invalidEnergy(2)) { try TrainedRankPruning(model: model, selection: .energy(2), period: 5, nuclearWeight: 0) }
    #expect(throws: LowRankError.unknownLayer("conv1", known: ["fc1", "fc2"])) {
      try TrainedRankPruning(model: model, layers: ["conv1"], selection: .energy(0.9), period: 5, nuclearWeight: 0)
    }
  }
}
