import Foundation
import Winnow

let usage = """
  usage: winnow-bench [gemm] [lenet] [spmm] [nm] [int8] [int4] [binary] [minilm] [options]   (none named: gemm and lenet)
    --threads LIST     thread counts, comma-separated (default 1,2)
    --samples N        quiet samples per row (default 7)
    --min-sample-ms T  minimum length of one sample (default 100)
    --wait-quiet S     before each sample wait up to S seconds for a quiet machine (default 10)
    --shapes TEXT      spmm/nm/int8/int4/binary: only shapes whose name contains TEXT;
                       minilm: only variants whose key contains TEXT (and fp32);
                       default: all but winnow_int8_bf16attn, `winnow`: all
    --cpu-time         time by process CPU time, all samples quiet (1-thread rows on a busy machine)
    --model-dir D      MiniLM: the model directory (default $WINNOW_ASSETS/minilm or
                       ~/.cache/winnow-assets/minilm)
    --phases           LeNet: also time forward / backward / update separately; MiniLM:
                       process CPU time per phase (QKV, attention, FFN, …) at 1 thread
    --steps N          LeNet: just run N steps at the first thread count, no timing
                       (for valgrind --tool=callgrind or perf)
  Prints Markdown tables. Ratios are against baselines measured in the same run.
  """

/// Prints a line and flushes, so output interleaves correctly with other processes' output.
func say(_ line: String) {
  print(line)
  fflush(nil)
}

struct Options {
  var benchmarks: Set<String> = []
  var threads = [1, 2]
  var sampler = QuietSampler()
  var phases = false
  var steps: Int?
  var modelDir: String?
  /// Only shapes whose name contains this (case-insensitive), e.g. `MiniLM` or `4096`.
  var shapeFilter: String?

  init(_ arguments: [String]) {
    var rest = arguments[...]
    func value(after flag: String) -> String {
      guard let v = rest.popFirst() else { say("\(flag) needs a value\n\(usage)"); exit(2) }
      return v
    }
    while let argument = rest.popFirst() {
      switch argument {
      case "gemm", "lenet", "spmm", "nm", "int8", "int4", "binary", "minilm": benchmarks.insert(argument)
      case "--model-dir": modelDir = value(after: argument)
      case "--shapes": shapeFilter = value(after: argument)
      case "--threads": threads = value(after: argument).split(separator: ",").compactMap { Int($0) }
      case "--samples": sampler.samples = Int(value(after: argument)) ?? sampler.samples
      case "--min-sample-ms": sampler.minimumSampleSeconds = (Double(value(after: argument)) ?? 100) / 1e3
      case "--wait-quiet": sampler.quietWaitSeconds = Double(value(after: argument)) ?? sampler.quietWaitSeconds
      case "--cpu-time": sampler.useCPUTime = true
      case "--phases": phases = true
      case "--steps": steps = Int(value(after: argument))
      case "-h", "--help": say(usage); exit(0)
      default: say("unknown argument \(argument)\n\(usage)"); exit(2)
      }
    }
    sampler.maximumAttempts = 3 * sampler.samples
    if benchmarks.isEmpty { benchmarks = ["gemm", "lenet"] }
  }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let threads = options.threads, sampler = options.sampler
PackedBenchmark.shapeFilter = options.shapeFilter

if let steps = options.steps {
  setThreads(threads.first ?? 1)
  let lenet = LeNetStep()
  var loss: Float = 0
  for _ in 0..<steps { loss = lenet.step() }
  say("ran \(steps) LeNet steps at \(threads.first ?? 1) thread(s); last loss \(loss)")
  exit(0)
}

say("# winnow-bench\n")
say("machine: \(machineDescription())")
say("BLAS: \(blasDescription())")
if sampler.useCPUTime { say("timing: process CPU time per call (--cpu-time), not wall time\n") }
say("samples: median of \(sampler.samples) quiet samples of ≥ \(Int(sampler.minimumSampleSeconds * 1e3)) ms each "
    + "(quiet = other processes and steal ≤ max(20 ms, 10 %) of the sample; each sample waits up to "
    + "\(Int(sampler.quietWaitSeconds)) s for a quiet moment first)\n")
if options.benchmarks.contains("gemm") { GEMMBenchmark.run(threads: threads, sampler: sampler) }
if options.benchmarks.contains("lenet") {
  LeNetBenchmark.run(threads: threads, sampler: sampler, phases: options.phases)
}
if options.benchmarks.contains("spmm") { SpMMBenchmark.run(threads: threads, sampler: sampler) }
for kind in ["nm", "int8", "int4", "binary"] where options.benchmarks.contains(kind) {
  QuantizedBenchmark.run(kind, threads: threads, sampler: sampler)
}
if options.benchmarks.contains("minilm") {
  MiniLMBenchmark.run(threads: threads, sampler: sampler, modelDir: options.modelDir, phases: options.phases,
                      only: options.shapeFilter)
}
