import Foundation
import Winnow

/// all-MiniLM-L6-v2 end to end (token ids in, pooled normalised embeddings out) at 1×128 and
/// 32×128 tokens, every token real (no padding), as `minilm_reference.py` measures PyTorch
/// and ONNX Runtime. Rows: Winnow's fused fp32 path (panel-packed AVX-512 GEMM where
/// available), the same path on OpenBLAS GEMMs, and, for scale, the Tensor reference path at
/// 1×128. `compare_minilm.sh` puts them next to the Python rows.
enum MiniLMBenchmark {
  static let shapes = [(batch: 1, tokens: 128), (batch: 32, tokens: 128)]

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

  static func run(threads: [Int], sampler: QuietSampler, modelDir: String?) {
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
    say("| engine | batch × seq | threads | min ms | median ms | max ms | tokens/s @median | samples |")
    say("|---|---|---:|---:|---:|---:|---:|---|")
    let dense = BERTInference(embedder.model)
    let blas = BERTInference(embedder.model, pack: BERTInference.blas)
    for (batch, tokens) in shapes {
      let input = randomBatch(batch: batch, tokens: tokens, vocabulary: embedder.model.configuration.vocabularySize)
      for t in threads {
        setThreads(t)
        report("winnow fp32 (fused)", "winnow_fp32", input, t, sampler.measure([{ _ = dense.pooledEmbeddings(input, normalize: true) }])[0])
        report("winnow fp32 (fused, Linear layers on OpenBLAS)", "winnow_fp32_blas", input, t,
               sampler.measure([{ _ = blas.pooledEmbeddings(input, normalize: true) }])[0])
        if batch == 1 {
          report("winnow fp32 (Tensor reference path)", "winnow_fp32_reference", input, t,
                 sampler.measure([{ _ = embedder.referenceEmbeddings(input) }])[0])
        }
      }
    }
    say("")
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
