import Foundation

/// Timing under noise: the quiet-sample method of `research/perf-anchors.md`.
///
/// Each sample is `calls` back-to-back calls lasting at least `minimumSampleSeconds`, started
/// after waiting (up to `quietWaitSeconds`) for 200 ms in which other processes used under
/// 10 % of a core, and 300 ms of untimed calls to wake the thread pools again. Around
/// every sample we read the machine's busy and steal time from `/proc/stat` and our own CPU
/// time from `getrusage`; the sample is **quiet** when the CPU time used by other processes
/// and the hypervisor's steal are each at most `max(20 ms, 10 % of the sample)`. Statistics
/// use quiet samples only; with fewer than three the row is flagged `NOISY` and uses all.
struct QuietSampler {
  var samples = 7
  var minimumSampleSeconds = 0.1
  /// Give up waiting for quiet samples after this many attempts per candidate.
  var maximumAttempts = 21
  /// Before each sample, wait up to this long for a quiet moment (see ``waitForQuiet``).
  var quietWaitSeconds = 10.0
  /// `--cpu-time`: time a call by this process' CPU time (all its threads) instead of wall time,
  /// and count every sample as quiet. For one-thread rows on a machine other processes keep
  /// busy: time-slicing then inflates wall time but not CPU time (cache and memory-bandwidth
  /// sharing still show). Meaningless for several threads (spinning or waiting threads).
  var useCPUTime = false

  /// Measures every candidate, alternating between them sample by sample so that they see
  /// the same conditions. Returns one ``Timing`` per candidate (seconds per call).
  func measure(_ candidates: [() -> Void]) -> [Timing] {
    let callsPerSample = candidates.map { calibrate($0) }
    var timings = candidates.map { _ in Timing() }
    var attempts = 0
    while attempts < maximumAttempts && timings.contains(where: { $0.quiet.count < samples }) {
      attempts += 1
      for (i, body) in candidates.enumerated() where timings[i].quiet.count < samples {
        if !useCPUTime { waitForQuiet(timeout: quietWaitSeconds) }
        rewarm(body)
        timings[i].add(sample(body, calls: callsPerSample[i]))
      }
    }
    return timings
  }

  /// Warms up and returns how many calls make one sample of at least the minimum length.
  private func calibrate(_ body: () -> Void) -> Int {
    var calls = 1
    while true {
      let start = monotonicSeconds()
      for _ in 0..<calls { body() }
      let elapsed = monotonicSeconds() - start
      if elapsed >= minimumSampleSeconds / 2 {
        return max(1, Int((minimumSampleSeconds / (elapsed / Double(calls))).rounded(.up)))
      }
      calls *= 2
    }
  }

  /// Returns once other processes used under 10 % of a core for 200 ms (or after `timeout`).
  /// We are idle meanwhile, so all busy time is theirs.
  func waitForQuiet(timeout: Double) {
    let deadline = monotonicSeconds() + timeout
    var previous = MachineTimes.read()
    while monotonicSeconds() < deadline {
      usleep(200_000)
      let now = MachineTimes.read()
      if now.busy - previous.busy <= 0.02 && now.steal - previous.steal <= 0.02 { return }
      previous = now
    }
  }

  /// Runs `body` for at least 300 ms after the idle wait: thread pools (ours, BLAS, OpenMP) park
  /// their threads when idle, and the first calls after waking them are not the steady state.
  private func rewarm(_ body: () -> Void) {
    let end = monotonicSeconds() + 0.3
    repeat { body() } while monotonicSeconds() < end
  }

  private func sample(_ body: () -> Void, calls: Int) -> Sample {
    let machine0 = MachineTimes.read(), own0 = ownCPUSeconds(), start = monotonicSeconds()
    for _ in 0..<calls { body() }
    let wall = monotonicSeconds() - start
    let machine1 = MachineTimes.read(), own1 = ownCPUSeconds()
    let foreign = max(0, (machine1.busy - machine0.busy) - (own1 - own0))
    let steal = machine1.steal - machine0.steal
    let limit = max(0.02, 0.1 * wall)
    if useCPUTime {
      return Sample(secondsPerCall: (own1 - own0) / Double(calls), wall: wall, foreignCPU: foreign, quiet: true)
    }
    return Sample(secondsPerCall: wall / Double(calls), wall: wall, foreignCPU: foreign,
                  quiet: foreign <= limit && steal <= limit)
  }
}

struct Sample {
  var secondsPerCall: Double
  var wall: Double
  /// CPU seconds other processes used during the sample.
  var foreignCPU: Double
  var quiet: Bool
}

/// Quiet and noisy samples of one candidate, and their statistics.
struct Timing {
  var quiet: [Double] = []
  var noisy: [Double] = []
  var foreignCPU: Double = 0
  var wall: Double = 0

  mutating func add(_ s: Sample) {
    if s.quiet { quiet.append(s.secondsPerCall) } else { noisy.append(s.secondsPerCall) }
    foreignCPU += s.foreignCPU
    wall += s.wall
  }

  var isNoisy: Bool { quiet.count < 3 }
  private var used: [Double] { (isNoisy ? quiet + noisy : quiet).sorted() }
  var median: Double {
    let v = used
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
  }
  var minimum: Double { used.first ?? .nan }
  var maximum: Double { used.last ?? .nan }
  /// Mean number of cores other processes kept busy while this candidate was measured.
  var foreignCores: Double { wall > 0 ? foreignCPU / wall : 0 }
  /// `7q/1n, fg 0.02` (quiet / noisy samples, foreign cores), plus `NOISY` when flagged.
  var quality: String {
    "\(quiet.count)q/\(noisy.count)n, fg \(format(foreignCores, 2))" + (isNoisy ? " NOISY" : "")
  }
}

/// Machine-wide busy and steal CPU seconds since boot (first line of `/proc/stat`).
enum MachineTimes {
  static func read() -> (busy: Double, steal: Double) {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
      let line = text.split(separator: "\n").first
    else { return (0, 0) }
    let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard f.count >= 8 else { return (0, 0) }
    let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let busy = f[0] + f[1] + f[2] + f[5] + f[6]
    return (busy / tick, f[7] / tick)
  }
}

/// CPU time of this process, all threads (BLAS and Dispatch workers included).
func ownCPUSeconds() -> Double {
  var usage = rusage()
  #if os(Linux)
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  #else
  getrusage(RUSAGE_SELF, &usage)
  #endif
  func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func monotonicSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }

/// One line describing this machine: CPU model, logical CPUs, BLAS build.
func machineDescription() -> String {
  let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
  let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
    .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
  return "\(model ?? "unknown CPU"), \(ProcessInfo.processInfo.activeProcessorCount) logical CPUs"
}
