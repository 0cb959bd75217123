import ArgumentParser
import Foundation
import Winnow

struct Quantize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Quantize a trained checkpoint (post-training, optionally followed by quantization-aware training) and report accuracy and size.",
    discussion: """
      Schemes: int8-sym-channel, int8-asym-tensor, int4-sym-channel, int4-g64 (groups of 64 along each row; \
      must divide every row), int3-asym-g32, fp8-e4m3, fp8-e5m2, binary. --activations quantizes the input \
      of every quantized layer and both summands of every residual addition (ResNet blocks) too \
      (int8-asym-tensor, fp8-e4m3, …), with ranges calibrated on \
      --calibration-batches training batches (--calibration minmax, percentile:99.99, mse, or entropy: the \
      KL-optimal clipping threshold of the histogram of |x|, TensorRT-style) or taken from \
      each batch (--dynamic). --plan applies a per-layer JSON plan (e.g. from `winnow sensitivity`). \
      --qat-epochs trains with fake quantization afterwards (--estimator ste, or lsq to learn the steps); \
      pruning masks stay exactly as they were. Sizes count codes, scales, zero points and, for sparse \
      layers, CSR indices.
      Example: winnow quantize lenet.ckpt --data fashion-mnist --scheme int8-sym-channel \
      --activations int8-asym-tensor --output lenet-int8.ckpt
      """)

  @Argument(help: "A checkpoint written by `winnow train` or `winnow prune`.") var checkpoint: String
  @OptionGroup var dataOptions: DataOptions
  @Option(help: "Weight scheme of every Linear and Conv2d layer.") var scheme: String = "int8-sym-channel"
  @Option(help: "Activation scheme (one scale per tensor), or none for weight-only.") var activations: String = "none"
  @Option(help: "Apply this JSON quantization plan instead of --scheme/--activations.") var plan: String?
  @Option(help: "Activation ranges: minmax, percentile:P, mse or entropy (KL-optimal clipping).") var calibration: String = "minmax"
  @Option(help: "Weight ranges per block: minmax or mse.") var weightRanges: String = "minmax"
  @Option(help: "Training batches (of 256) for activation calibration.") var calibrationBatches: Int = 4
  @Flag(help: "Activation ranges from each batch at run time instead of calibration.") var dynamic = false
  @Flag(help: "Leave residual additions in Float32 (to measure what quantizing them costs).") var noResidualActivations = false
  @Flag(name: .customLong("fold-bn"), help: "Fold batch norm into the convolution before it first (then no --output checkpoint).") var foldBatchNorm = false
  @Option(help: "Epochs of quantization-aware training after PTQ.") var qatEpochs: Int = 0
  @Option(help: "QAT gradient estimator: ste or lsq.") var estimator: String = "ste"
  @Option(name: .customLong("lr"), help: "QAT learning rate.") var learningRate: Float = 0.01
  @Option(help: "Seed for QAT shuffling.") var seed: UInt64 = 0
  @Option(help: "Write the model with dequantized weights here (a checkpoint every command reads).") var output: String?
  @Option(help: "Write the codes, scales and zero points (safetensors, codes stored as exact floats).") var codes: String?
  @Option(help: "Write the plan as JSON.") var savePlan: String?
  @Option(help: "Write <name>.md, <name>.json and <name>.svg (accuracy by stage, size per tensor) into this directory.")
  var out: String?
  @Option(help: "File name stem for --out.") var name: String = "quantize"
  @Option(help: "Threads for BLAS and Winnow's kernels (default: all cores).") var threads: Int?

  func validate() throws {
    guard calibrationBatches > 0 else { throw ValidationError("--calibration-batches must be positive") }
    guard qatEpochs >= 0 else { throw ValidationError("--qat-epochs must not be negative") }
    guard QuantizationAwareTraining.Estimator(rawValue: estimator) != nil else { throw ValidationError("unknown --estimator '\(estimator)'; use ste or lsq") }
    guard RangeEstimator(parsing: calibration) != nil else { throw ValidationError("unknown --calibration '\(calibration)'; use minmax, percentile:99.99, mse or entropy") }
    guard let w = RangeEstimator(parsing: weightRanges), w == .minMax || w == .mse else { throw ValidationError("unknown --weight-ranges '\(weightRanges)'; use minmax or mse") }
    guard !(foldBatchNorm && output != nil) else { throw ValidationError("--fold-bn changes the architecture, so --output cannot be reloaded; use --codes") }
  }

  func run() throws {
    applyThreads(threads)
    let (saved, model, train, test) = try loadCheckpoint(checkpoint, for: dataOptions)
    let float32Accuracy = evaluate(model, on: test).accuracy
    say(String(format: "float32: accuracy %.2f%%  (%d parameters, %@)", float32Accuracy * 100,
               model.parameterCount, ModelSize(model: model, quantized: [:]).description))
    if foldBatchNorm { say("folded batch norm into: \(BatchNormFolding.fold(model).joined(separator: ", "))") }
    let quantizationPlan = try makePlan(model)
    say("plan:\n" + quantizationPlan.description.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    let calibrationData = train.batches(size: 256).prefix(calibrationBatches).map(\.images)
    let quantizer = PostTrainingQuantizer(plan: quantizationPlan, activationRanges: RangeEstimator(parsing: calibration)!,
                                          weightRanges: RangeEstimator(parsing: weightRanges)!, dynamicActivations: dynamic,
                                          residualActivations: !noResidualActivations)
    say("calibrating on \(calibrationData.count) batch(es) of 256 …")
    let layers = try quantizer.apply(to: model, calibration: calibrationData)
    var summary = QuantizeSummary(checkpoint: checkpoint, plan: plan ?? "\(scheme), activations \(activations)",
                                  float32Accuracy: float32Accuracy)
    summary.ptqAccuracy = evaluate(model, on: test).accuracy
    say(String(format: "ptq:     accuracy %.2f%%", summary.ptqAccuracy * 100))
    var configuration = saved.configuration
    if qatEpochs > 0 {
      try QuantizationAwareTraining.prepare(layers, estimator: QuantizationAwareTraining.Estimator(rawValue: estimator)!)
      configuration.epochs = qatEpochs
      configuration.learningRate = learningRate
      configuration.warmupSteps = 0
      configuration.seed = seed
      if let problem = configuration.problem { throw ValidationError(problem) }
      let trainer = Trainer(spec: saved.spec, configuration: configuration, model: model)
      trainer.progress = ProgressReporter(batchSize: configuration.batchSize)
      try trainer.run(train: train, test: nil)
      let accuracy = evaluate(model, on: test).accuracy
      (summary.qatAccuracy, summary.qatEpochs) = (accuracy, qatEpochs)
      say(String(format: "qat (%@, %d epoch(s)): accuracy %.2f%%", estimator, qatEpochs, accuracy * 100))
    }
    var quantized: [String: QuantizedTensor] = [:]
    for layer in layers { quantized[layer.name] = try layer.quantizedWeightCodes() }
    let size = ModelSize(model: model, quantized: quantized)
    say(size.description)
    if let out {
      summary.record(size)
      try summary.write(directory: out, name: name)
      say("wrote \(out)/\(name).md, .json, .svg")
    }
    try writeOutputs(saved: saved, configuration: configuration, model: model, plan: quantizationPlan, layers: layers, quantized: quantized)
  }

  func makePlan(_ model: Layer) throws -> QuantizationPlan {
    let result: QuantizationPlan
    if let plan {
      result = try QuantizationPlan.read(path: plan)
    } else {
      let activationScheme = activations == "none" ? nil : try QuantizationScheme(parsing: activations)
      result = QuantizationPlan.uniform(try QuantizationScheme(parsing: scheme), activations: activationScheme, model: model)
    }
    try result.validate(against: model)
    return result
  }

  func writeOutputs(saved: Checkpoint, configuration: TrainingConfiguration, model: Layer, plan: QuantizationPlan,
                    layers: [QuantizedLayer], quantized: [String: QuantizedTensor]) throws {
    if let savePlan {
      try plan.jsonData().write(to: URL(fileURLWithPath: savePlan))
      say("wrote \(savePlan)")
    }
    if let codes {
      var tensors: [String: Tensor] = [:], metadata = ["format": "winnow.quantized/1", "plan": String(decoding: plan.jsonData(), as: UTF8.self)]
      for (name, q) in quantized {
        tensors[name + ".weight.codes"] = q.codes.floatTensor
        tensors[name + ".weight.scales"] = Tensor(q.scales)
        if !q.scheme.isSymmetric { tensors[name + ".weight.zero_points"] = Tensor(q.zeroPoints.map(Float.init)) }
      }
      for point in model.activationQuantizationPoints {
        if case .fixed(let scheme, let range) = point.activation {
          let (scale, zero) = scheme.parameters(for: range)
          metadata[point.name + (point is QuantizedLayer ? ".input" : "")] = "{\"scale\": \(scale), \"zero_point\": \(zero)}"
        }
      }
      try SafetensorsFile(tensors: tensors, metadata: metadata).write(path: codes)
      say("wrote \(codes)")
    }
    if let output {
      bakeQuantization(into: model)
      let trainer = Trainer(spec: saved.spec, configuration: configuration, model: model)
      try Checkpoint(spec: saved.spec, configuration: configuration, state: trainer.state, model: model, optimizer: trainer.optimizer)
        .write(path: output)
      say("wrote \(output) (dequantized weights\(plan.activations != nil ? "; activation quantization is in --codes" : ""))")
    }
  }
}
