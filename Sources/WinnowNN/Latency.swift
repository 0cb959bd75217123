import Foundation
import WinnowCore

/// Median wall time of an inference-mode forward pass on `input`, in seconds, after
/// `warmup` untimed runs. For reports next to accuracy; benchmarks have their own tooling.
public func medianForwardTime(_ model: Layer, input: Tensor, repeats: Int = 7, warmup: Int = 2) -> Double {
  let context = ForwardContext(training: false)
  for _ in 0..<warmup { _ = model.forward(input, context) }
  var times: [Double] = []
  for _ in 0..<max(repeats, 1) {
    let start = DispatchTime.now().uptimeNanoseconds
    _ = model.forward(input, context)
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
  }
  return times.sorted()[times.count / 2]
}
