import WinnowCore
import WinnowNN

/// How far one-shot compression moves a sentence embedder: for each variant, the cosine
/// similarity of every evaluation sentence's embedding to the uncompressed model's.
///
/// Variants (all one-shot, no fine-tuning, on the encoder's Linear weights):
/// magnitude pruning per matrix and 2:4; Wanda (|W|·‖X_j‖₂ per output row, Sun et al. 2023)
/// at the same sparsities and 2:4; attention heads removed by output energy; and heads
/// combined with Wanda.
public enum EmbeddingFidelityStudy {
  public struct Row: Sendable {
    public var name: String
    /// Encoder Linear weights still present and non-zero, as a fraction of the dense count.
    public var density: Double
    public var meanCosine: Double, minimumCosine: Double
    /// Bits per stored weight value (32 unless quantized; scales not counted).
    public var weightBits = 32
  }

  public enum Variant: Sendable, CustomStringConvertible {
    case dense
    case magnitude(sparsity: Double)
    case magnitudeNM(n: Int, m: Int)
    case wanda(sparsity: Double)
    case wandaNM(n: Int, m: Int)
    case heads(keep: Int)
    case headsAndWanda(keep: Int, sparsity: Double)
    /// Weight-only quantization of the Linear weights (quantize, dequantize: the values an
    /// integer kernel would compute with).
    case weights(QuantizationScheme)
    /// Wanda at `sparsity`, then the surviving weights quantized (zeros stay zero).
    case wandaAndWeights(sparsity: Double, scheme: QuantizationScheme)

    public var description: String {
      switch self {
      case .dense: "dense fp32"
      case .magnitude(let s): "magnitude \(Int(s * 100)) %"
      case .magnitudeNM(let n, let m): "magnitude \(n):\(m)"
      case .wanda(let s): "Wanda \(Int(s * 100)) %"
      case .wandaNM(let n, let m): "Wanda \(n):\(m)"
      case .heads(let keep): "heads: keep \(keep) per layer"
      case .headsAndWanda(let keep, let s): "heads: keep \(keep) + Wanda \(Int(s * 100)) %"
      case .weights(let scheme): "weights \(scheme)"
      case .wandaAndWeights(let s, let scheme): "Wanda \(Int(s * 100)) % + weights \(scheme)"
      }
    }
  }

  public static let standardVariants: [Variant] = [
    .dense, .magnitude(sparsity: 0.3), .magnitude(sparsity: 0.5), .magnitude(sparsity: 0.7), .magnitude(sparsity: 0.9), .magnitudeNM(n: 2, m: 4),
    .wanda(sparsity: 0.2), .wanda(sparsity: 0.3), .wanda(sparsity: 0.5), .wanda(sparsity: 0.7), .wanda(sparsity: 0.9), .wandaNM(n: 2, m: 4),
    .heads(keep: 9), .heads(keep: 6), .headsAndWanda(keep: 9, sparsity: 0.5),
    .weights(.int8(symmetric: true, perChannel: true)), .weights(.grouped(bits: 4, groupSize: 32)),
    .weights(.grouped(bits: 4, groupSize: 128)), .wandaAndWeights(sparsity: 0.3, scheme: .int8(symmetric: true, perChannel: true)),
  ]

  /// Runs every variant on a fresh copy of `embedder`'s model and compares its embeddings of
  /// `evaluation` with the original's; `calibration` sentences feed Wanda and head scores.
  public static func run(
    _ embedder: SentenceEmbedder, evaluation: [String], calibration: [String],
    variants: [Variant] = standardVariants, progress: (Row) -> Void = { _ in }
  ) throws -> [Row] {
    let reference = embedder.embed(evaluation)
    let stats = calibrate(embedder, sentences: calibration)
    let names = BERTCompression.linearWeightNames(embedder.model)
    let denseCount = Double(embedder.model.parameterShapes.filter { names.contains($0.name) }.reduce(0) { $0 + $1.shape.reduce(1, *) })
    var rows: [Row] = []
    for variant in variants {
      let model = try compressedModel(embedder.model, variant, calibration: stats)
      let compressed = SentenceEmbedder(tokenizer: embedder.tokenizer, model: model, normalize: embedder.normalize)
      let cosines = rowCosines(compressed.embed(evaluation), reference)
      var row = Row(name: variant.description, density: Double(nonZeroCount(model, names)) / denseCount,
                    meanCosine: cosines.reduce(0, +) / Double(max(cosines.count, 1)), minimumCosine: cosines.min() ?? .nan)
      switch variant {
      case .weights(let scheme), .wandaAndWeights(_, let scheme): row.weightBits = scheme.bitsPerElement
      default: break
      }
      progress(row)
      rows.append(row)
    }
    return rows
  }

  /// The statistics Wanda and head scores need: `sentences` run through `embedder`'s model
  /// in batches of 16.
  public static func calibrate(_ embedder: SentenceEmbedder, sentences: [String]) -> BERTCompression.Calibration {
    let batches = stride(from: 0, to: sentences.count, by: 16).map {
      embedder.tokenizer.encodeBatch(Array(sentences[$0..<min($0 + 16, sentences.count)]))
    }
    return BERTCompression.calibrate(embedder.model, batches: batches)
  }

  /// A copy of `model` compressed one-shot by `variant` (the original is left alone), as the
  /// study evaluates it; `calibration` from ``calibrate(_:sentences:)``. Quantized variants
  /// hold `dequantize(quantize(W))` in float weights.
  public static func compressedModel(
    _ model: BERTModel, _ variant: Variant, calibration: BERTCompression.Calibration
  ) throws -> BERTModel {
    let copy = try copy(model)
    try apply(variant, to: copy, calibration: calibration, names: BERTCompression.linearWeightNames(copy))
    return copy
  }

  static func apply(_ variant: Variant, to model: BERTModel, calibration: BERTCompression.Calibration, names: [String]) throws {
    let magnitude = { ImportanceScores.magnitude(of: model, names: names) }
    let wanda = { BERTCompression.wandaScores(model, calibration: calibration, names: names) }
    switch variant {
    case .dense: return
    case .magnitude(let s):
      try MaskSelection.layerwise(scores: magnitude(), sparsity: Dictionary(uniqueKeysWithValues: names.map { ($0, s) })).apply(to: model)
    case .magnitudeNM(let n, let m): try MaskSelection.nm(scores: magnitude(), n: n, m: m).apply(to: model)
    case .wanda(let s): try BERTCompression.perRowMasks(scores: wanda(), sparsity: s).apply(to: model)
    case .wandaNM(let n, let m): try MaskSelection.nm(scores: wanda(), n: n, m: m).apply(to: model)
    case .heads(let keep):
      try BERTCompression.pruneHeads(model, keep: BERTCompression.strongestHeads(calibration, count: keep))
    case .headsAndWanda(let keep, let s):
      let heads = BERTCompression.strongestHeads(calibration, count: keep)
      try BERTCompression.pruneHeads(model, keep: heads)
      // Input norms of the attention output shrink with the heads: keep the surviving columns.
      var trimmed = calibration
      for (layer, kept) in heads.enumerated() {
        let name = "encoder.layer.\(layer).attention.output.dense"
        guard let norms = calibration.inputSquaredNorms[name] else { continue }
        let width = norms.count / model.configuration.heads
        trimmed.inputSquaredNorms[name] = kept.flatMap { h in norms[(h * width)..<((h + 1) * width)] }
      }
      try BERTCompression.perRowMasks(scores: BERTCompression.wandaScores(model, calibration: trimmed, names: names), sparsity: s)
        .apply(to: model)
    case .weights(let scheme):
      try quantizeWeights(model, names, scheme)
    case .wandaAndWeights(let s, let scheme):
      try BERTCompression.perRowMasks(scores: wanda(), sparsity: s).apply(to: model)
      try quantizeWeights(model, names, scheme)
    }
  }

  /// Replaces each named weight by `dequantize(quantize(effective weight))`.
  static func quantizeWeights(_ model: BERTModel, _ names: [String], _ scheme: QuantizationScheme) throws {
    let wanted = Set(names)
    try model.visitParameters { name, p in
      guard wanted.contains(name) else { return }
      p.value = try scheme.fakeQuantize(p.effective.detached, layer: name)
    }
  }

  /// A deep copy through the state dictionary (same shapes: call before removing heads).
  static func copy(_ model: BERTModel) throws -> BERTModel {
    var rng = RandomGenerator(seed: 0)
    let clone = BERTModel(model.configuration, rng: &rng)
    try loadStateDictionary(stateDictionary(of: model), into: clone, file: "(copy)")
    return clone
  }

  static func nonZeroCount(_ model: BERTModel, _ names: [String]) -> Int {
    var count = 0
    let wanted = Set(names)
    model.visitParameters { name, p in
      if wanted.contains(name) { count += p.effective.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
    }
    return count
  }

  /// Cosine similarity of corresponding rows of two `N×C` matrices.
  public static func rowCosines(_ a: Tensor, _ b: Tensor) -> [Double] {
    precondition(a.shape == b.shape && a.rank == 2, "row cosines need equal N×C matrices")
    let (n, c) = (a.shape[0], a.shape[1])
    let (x, y) = (a.scalars, b.scalars)
    return (0..<n).map { i in
      var dot = 0.0, nx = 0.0, ny = 0.0
      for j in 0..<c {
        let (u, v) = (Double(x[i * c + j]), Double(y[i * c + j]))
        dot += u * v; nx += u * u; ny += v * v
      }
      return dot / max((nx * ny).squareRoot(), 1e-30)
    }
  }

  /// The rows as a Markdown table.
  public static func markdown(_ rows: [Row]) -> String {
    var lines = ["| variant | Linear weights kept | weight bits | mean cosine | min cosine |", "|---|---:|---:|---:|---:|"]
    for r in rows {
      lines.append("| \(r.name) | \(percent(r.density)) | \(r.weightBits) | \(decimal(r.meanCosine, 4)) | \(decimal(r.minimumCosine, 4)) |")
    }
    return lines.joined(separator: "\n")
  }

  static func percent(_ x: Double) -> String { "\(Int((x * 1000).rounded()) / 10).\(Int((x * 1000).rounded()) % 10) %" }
  static func decimal(_ x: Double, _ places: Int) -> String {
    let scale = Double(pow10(places))
    let v = (x * scale).rounded() / scale
    var s = "\(v)"
    let fraction = s.split(separator: ".").last.map(String.init) ?? ""
    if s.contains(".") && fraction.count < places { s += String(repeating: "0", count: places - fraction.count) }
    return s
  }
  static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }
}
