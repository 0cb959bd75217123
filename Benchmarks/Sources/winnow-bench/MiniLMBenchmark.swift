import Foundation
import Winnow

/// all-MiniLM-L6-v2 end to end (token ids in, pooled normalised embeddings out) at 1×128 and
/// 32×128 tokens, every token real (no padding), as `minilm_reference.py` measures PyTorch
/// and ONNX Runtime. One row per Winnow variant (``MiniLMVariant/all``): the fused fp32 path
/// (panel-packed AVX-512 GEMM where available) and the compressed ones, pruned and quantized. Before timing, each
/// variant's fidelity: cosine of its embeddings to the fp32 path's over 256 generated
/// sentences (`EvaluationSentences`, seed 1, as `winnow embed-study`), printed as `FIDELITY`
/// lines. With `--phases`, the process CPU time of each phase (QKV, attention, …) per call.
/// `compare_minilm.sh` puts the rows next to the Python ones.
enum MiniLMBenchmark {
  static let shapes = [(batch: 1, tokens: 128), (batch: 32, tokens: 128)]
  static let fidelitySentences = 256

  /// The model directory: `--model-dir`, else `$WINNOW_ASSETS/minilm`, else
  /// `~/.cache/winnow-assets/minilm`.
  static func modelDirectory(_ explicit: String?) -> String? {
    if let explicit { return explicit }
    var roots = [FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/winnow-assets"]
    if let root = ProcessInfo.processInfo.environment["WINNOW_ASSETS"], !root.isEmpty { roots.insert(root, at: 0) }
    return roots.map { $0 + "/minilm" }.first { FileManager.default.fileExists(atPath: $0 + "/model.safetensors") }
  }

  /// `batch` sequences of `tokens` ids: [CLS], seeded random word pieces, [SEP].
  static func randomBatch(batch: Int, tokens: Int, vocabulary: Int, seed: UInt64 = 7) -> TokenBatch {
    var rng = RandomGenerator(seed: seed)
    let sequences = (0..<batch).map { _ in [101] + (0..<(tokens - 2)).map { _ in 1000 + Int(rng.next() % UInt64(vocabulary - 1000)) } + [102] }
    return TokenBatch(sequences: sequences, paddingID: 0)
  }

  /// `only`: run only the variants whose key contains it (`winnow`: all), else those of the
  /// default run (``MiniLMVariant/inDefaultRun``); the fp32 row always stays: it is the
  /// fidelity reference).
  static func run(threads: [Int], sampler: QuietSampler, modelDir: String?, phases: Bool, only: String? = nil) {
    guard let directory = modelDirectory(modelDir) else {
      say("minilm: no model directory (pass --model-dir, or fetch asset `minilm` into ~/.cache/winnow-assets)\n")
      return
    }
    let embedder: SentenceEmbedder
    do { embedder = try SentenceEmbedder.load(directory: directory) } catch {
      say("minilm: \(error)\n")
      return
    }
    say("## all-MiniLM-L6-v2 embeddings, seq 128, all tokens real (\(directory))\n")
    say("row kernels: \(RowKernels.isa)\n")
    let variants = MiniLMVariant.all.enumerated().filter { i, v in i == 0 || only.map { v.key.contains($0) } ?? v.inDefaultRun }.map(\.element)
    setThreads(threads.first ?? 1)  // the sparse variants' kernel choice is timed at this count
    var statistics: BERTCompression.Calibration?
    let calibration = {
      if let statistics { return statistics }
      let computed = EmbeddingFidelityStudy.calibrate(embedder, sentences: EvaluationSentences.generate(count: 64, seed: 2))
      statistics = computed
      return computed
    }
    var inferences: [BERTInference] = [], kernels: [String] = []
    let started = Date()
    for variant in variants {
      FileHandle.standardError.write(Data("minilm: building \(variant.key)\n".utf8))
      let t0 = Date()
      do {
        let (inference, used) = try variant.make(embedder, calibration: calibration)
        inferences.append(inference)
        kernels.append(used)
      } catch {
        say("minilm: \(variant.key): \(error)\n")
        return
      }
      FileHandle.standardError.write(Data("minilm: \(variant.key) built in \(format(Date().timeIntervalSince(t0), 1)) s: \(kernels.last!)\n".utf8))
    }
    FileHandle.standardError.write(Data("minilm: \(variants.count) variants built in \(format(Date().timeIntervalSince(started), 1)) s\n".utf8))
    fidelity(embedder, variants, inferences, kernels: kernels)
    if phases { profile(embedder, variants, inferences) }
    say("| engine | batch × seq | threads | min ms | median ms | max ms | tokens/s @median | samples |")
    say("|---|---|---:|---:|---:|---:|---:|---|")
    for (batch, tokens) in shapes {
      let input = randomBatch(batch: batch, tokens: tokens, vocabulary: embedder.model.configuration.vocabularySize)
      for t in threads {
        setThreads(t)
        // Measured together, alternating sample by sample, so they see the same conditions.
        let timings = sampler.measure(inferences.map { inference in { _ = inference.pooledEmbeddings(input, normalize: true) } })
        for (variant, timing) in zip(variants, timings) { report(variant.name, variant.key, input, t, timing) }
      }
    }
    say("")
  }

  /// Mean and minimum cosine of each variant's embeddings to the first variant's (fp32).
  /// `kernels`: each variant's kernel summary, printed on its `FIDELITY` line.
  static func fidelity(_ embedder: SentenceEmbedder, _ variants: [MiniLMVariant], _ inferences: [BERTInference], kernels: [String]) {
    let sentences = EvaluationSentences.generate(count: fidelitySentences, seed: 1)
    let reference = embedder.embed(sentences, using: inferences[0])
    say("| engine | mean cosine to winnow fp32 | min cosine | sentences |\n|---|---:|---:|---:|")
    for ((variant, inference), used) in zip(zip(variants, inferences), kernels) {
      let cosines = EmbeddingFidelityStudy.rowCosines(embedder.embed(sentences, using: inference), reference)
      let mean = cosines.reduce(0, +) / Double(cosines.count), minimum = cosines.min() ?? .nan
      say("| \(variant.name) | \(format(mean, 5)) | \(format(minimum, 5)) | \(cosines.count) |")
      say("FIDELITY \(variant.key) mean_cosine=\(format(mean, 5)) min_cosine=\(format(minimum, 5)) sentences=\(cosines.count) kernels=\(used)")
    }
    say("")
  }

  /// Per-phase process CPU time per call (median call of five after one warm-up), one thread.
  static func profile(_ embedder: SentenceEmbedder, _ variants: [MiniLMVariant], _ inferences: [BERTInference]) {
    setThreads(1)
    for (batch, tokens) in shapes {
      let input = randomBatch(batch: batch, tokens: tokens, vocabulary: embedder.model.configuration.vocabularySize)
      let profiles = inferences.map { inference in
        _ = inference.profiledEmbeddings(input, normalize: true)
        let calls = (0..<5).map { _ in inference.profiledEmbeddings(input, normalize: true).1 }
        return calls.sorted { $0.total < $1.total }[2]
      }
      say("Phases, \(batch) × \(tokens), 1 thread, process CPU ms per call (share):\n")
      say("| phase | " + variants.map(\.key).joined(separator: " | ") + " |")
      say("|---|" + String(repeating: "---:|", count: variants.count))
      for phase in BERTInferencePhase.allCases {
        let cells = profiles.map { p in
          let s = p.seconds[phase] ?? 0
          return "\(format(s * 1e3, 2)) (\(format(100 * s / max(p.total, 1e-12), 1)) %)"
        }
        say("| \(phase.rawValue) | " + cells.joined(separator: " | ") + " |")
      }
      say("| total | " + profiles.map { format($0.total * 1e3, 2) }.joined(separator: " | ") + " |\n")
    }
  }

  static func report(_ engine: String, _ key: String, _ input: TokenBatch, _ threads: Int, _ timing: Timing) {
    let shape = "\(input.batchSize) x \(input.sequenceLength)"
    let tokensPerSecond = Double(input.batchSize * input.sequenceLength) / timing.median
    say("| \(engine) | \(shape) | \(threads) | \(format(timing.minimum * 1e3, 2)) | \(format(timing.median * 1e3, 2)) | "
        + "\(format(timing.maximum * 1e3, 2)) | \(format(tokensPerSecond, 0)) | \(timing.quality) |")
    say("RESULT \(key) batch=\(input.batchSize) seq=\(input.sequenceLength) threads=\(threads) "
        + "median_ms=\(format(timing.median * 1e3, 3)) min_ms=\(format(timing.minimum * 1e3, 3)) "
        + "max_ms=\(format(timing.maximum * 1e3, 3)) quality=\(timing.quality.replacingOccurrences(of: " ", with: "_"))")
  }
}
