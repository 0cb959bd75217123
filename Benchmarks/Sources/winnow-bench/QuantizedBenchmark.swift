import Winnow
import WinnowKernels

/// `winnow-bench nm | int8 | int4 | binary`: each packed format against dense BLAS on the
/// MiniLM projections, 4096² at M = 1 and 128, and the LeNet and ResNet-8 layers as GEMMs.
enum QuantizedBenchmark {
  static var shapes: [PackedBenchmark.Shape] {
    PackedBenchmark.selected(PackedBenchmark.all)
  }

  static func denseWeights(_ shape: PackedBenchmark.Shape) -> [Float] {
    var random = SplitMix(seed: UInt64(shape.n * 13 + shape.k))
    return (0..<shape.n * shape.k).map { _ in random.nextFloat() * 0.1 }
  }

  static func run(_ kind: String, threads: [Int], sampler: QuietSampler) {
    say("## \(kind): packed weights vs dense BLAS (Y[M×N] = X[M×K]·Wᵀ + bias)\n")
    say(description(kind) + "\n")
    PackedBenchmark.printHeader()
    for shape in shapes {
      let dense = denseWeights(shape)
      PackedBenchmark.run(shape, dense: dense, candidates: candidates(kind, dense: dense, shape: shape),
                          threads: threads, sampler: sampler)
    }
    say("")
  }

  static func description(_ kind: String) -> String {
    switch kind {
    case "int8":
      return "Int8LinearWeights: per-channel symmetric int8 weights (round to nearest); activations uint8 "
        + "per token (dynamic) or with one calibrated scale (static). Error column: max |y − y_fp32| / max |y_fp32|. "
        + (Int8LinearWeights.amxAvailable ? "AMX-INT8 present: the kernel column names the AMX kernel; the "
          + "\"AMX off\" rows run the same weights on the VNNI kernel (the ratio AMX has to earn)."
          : "AMX: not present on this CPU (the VNNI kernel runs; the AMX kernel is checked on a software tile model only).")
    case "int4":
      return "Int4LinearWeights: group-wise symmetric int4 (round to nearest), weight-only. M < 4: GEMV on the "
        + "4-bit codes; M ≥ 4: dequantized row panels + SGEMM. Error column: max |y − y_fp32| / max |y_fp32|."
    case "binary":
      return "BinaryLinearWeights (XNOR-Net): sign bits of W with per-channel α = mean|w|, tokens binarised "
        + "by sign with β = mean|x|. The error column is large by design (1-bit weights and activations)."
    case "nm":
      return "NMSparseMatrix: magnitude-pruned to n:m (keep the n largest of every m inputs), AVX-512 kernel "
        + "(16x12: output rows as SIMD lanes, vpermps gathers each row's inputs)."
    default: return ""
    }
  }

  static func candidates(_ kind: String, dense: [Float], shape: PackedBenchmark.Shape) -> [PackedBenchmark.Candidate] {
    let (n, k) = (shape.n, shape.k)
    switch kind {
    case "int8":
      let dynamic = Int8LinearWeights.quantizingPerChannel(dense, outputFeatures: n, inputFeatures: k)
      let calibrated = Int8LinearWeights.quantizingPerChannel(
        dense, outputFeatures: n, inputFeatures: k, activationQuantization: .calibrated(scale: 2.0 / 255, zeroPoint: 128))
      var rows: [PackedBenchmark.Candidate] = [("int8, dynamic per token", dynamic), ("int8, calibrated static", calibrated)]
      if dynamic.kernelName.hasSuffix("__amx") {
        var (dynamicVNNI, calibratedVNNI) = (dynamic, calibrated)
        dynamicVNNI.allowsAMX = false
        calibratedVNNI.allowsAMX = false
        rows += [("int8, dynamic per token, AMX off", dynamicVNNI), ("int8, calibrated static, AMX off", calibratedVNNI)]
      }
      return rows
    case "int4":
      return [32, 64, 128].map { group in
        ("int4, group \(group)", Int4LinearWeights.quantizingGroupwise(dense, outputFeatures: n, inputFeatures: k, groupSize: group))
      }
    case "nm":
      // Magnitude pruning needs a tail group at least `keep` wide (LeNet conv1, K = 25, has no 2:8).
      return [(2, 4), (1, 4), (2, 8)].filter { (keep, group) in k % group == 0 || k % group >= keep }.map { (keep, group) in
        ("\(keep):\(group)", NMSparseMatrix(pruning: dense, rows: n, columns: k, n: keep, m: group))
      }
    case "binary":
      return [("binary (XNOR)", BinaryLinearWeights.binarizing(dense, outputFeatures: n, inputFeatures: k))]
    default:
      return []
    }
  }
}
