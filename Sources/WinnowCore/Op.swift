import WinnowKernels

/// The primitive operations: everything differentiable in Winnow is a composition of these.
///
/// A recorded computation is a graph of ``Op`` values, so the same record serves automatic
/// differentiation (``Op/vjp(_:inputs:output:node:)``), the dependency graph of structured
/// pruning, compilation by the runtime, and ONNX export. Adding a case does not compile until
/// its derivative exists: the derivative table is an exhaustive `switch` with no `default`.
public enum Op: Hashable, Sendable {
  /// Elementwise function of one input.
  case unary(UnaryFunction)
  /// Elementwise function of two inputs with NumPy broadcasting.
  case binary(BinaryFunction)
  /// `x^exponent`, elementwise.
  case power(Float)
  /// `min(max(x, low), high)`, elementwise; the gradient passes only strictly inside.
  case clamp(low: Float, high: Float)
  /// Sum over `axes`, keeping them as size-1 axes.
  case sum(axes: [Int])
  /// Maximum over `axis`, kept as a size-1 axis (the gradient goes to the first maximum).
  case max(axis: Int)
  /// Batched matrix product `op(A)·op(B)` over the last two axes; leading axes must match.
  case matmul(transposeA: Bool, transposeB: Bool)
  /// Same values, new shape.
  case reshape([Int])
  /// Axis `i` of the result is input axis `permutation[i]`.
  case permute([Int])
  /// Broadcast to a larger shape (NumPy rules).
  case expand([Int])
  /// Elements `range` of `axis`.
  case slice(axis: Int, range: Range<Int>)
  /// Joins the inputs along `axis`.
  case concat(axis: Int)
  /// Rows of the input (axis 0) picked by `indices`, which has shape `indexShape`; the
  /// result has shape `indexShape + input.shape.dropFirst()`.
  case gather(indices: [Int32], indexShape: [Int])
  /// 2-D convolution of `N×C×H×W` input with `O×C/g×kH×kW` weights (inputs: x, weight).
  case conv2d(stride: [Int], padding: [Int], dilation: [Int], groups: Int)
  /// 2-D max pooling over the last two axes.
  case maxPool2d(kernel: [Int], stride: [Int], padding: [Int])
  /// 2-D average pooling over the last two axes, counting padding (PyTorch default).
  case avgPool2d(kernel: [Int], stride: [Int], padding: [Int])
  /// Softmax along `axis`.
  case softmax(axis: Int)
  /// Log-softmax along `axis`.
  case logSoftmax(axis: Int)
  /// Training-mode batch normalisation (inputs: `N×C×…` x, `C` γ, `C` β): each channel is
  /// normalised by its batch mean and biased variance, `y = γ·(x − μ)/√(σ² + ε) + β`.
  /// Saves μ and σ² (as Float bit patterns) for backward and for running statistics.
  /// One op instead of ~10 recorded primitives: it is a training step's largest
  /// elementwise cost otherwise. Inference-mode batch norm stays a per-channel affine map.
  case batchNorm(epsilon: Float)

  /// Short name, for graphs and error messages.
  public var name: String {
    switch self {
    case .unary(let f): return "\(f)"
    case .binary(let f): return "\(f)"
    case .power: return "power"
    case .clamp: return "clamp"
    case .sum: return "sum"
    case .max: return "max"
    case .matmul: return "matmul"
    case .reshape: return "reshape"
    case .permute: return "permute"
    case .expand: return "expand"
    case .slice: return "slice"
    case .concat: return "concat"
    case .gather: return "gather"
    case .conv2d: return "conv2d"
    case .maxPool2d: return "maxPool2d"
    case .avgPool2d: return "avgPool2d"
    case .softmax: return "softmax"
    case .logSoftmax: return "logSoftmax"
    case .batchNorm: return "batchNorm"
    }
  }
}

/// One recorded step: the op, the values it read, and what backward needs from the forward.
///
/// Inputs keep their own nodes, so the record is a graph reachable from any result. The
/// saved output has no node (it would point back at this node).
public final class GraphNode: @unchecked Sendable {
  public let op: Op?
  /// Inputs as they were read (tracked or not).
  public let inputs: [Tensor]
  /// The forward result, untracked; nil for leaves.
  let output: Tensor?
  /// Extra forward state needed by backward (argmax positions of max and max-pooling).
  let saved: [Int32]
  /// For leaves: the key gradients are reported under.
  public let leafKey: Int?

  init(op: Op, inputs: [Tensor], output: Tensor, saved: [Int32] = []) {
    self.op = op
    self.inputs = inputs
    self.output = output
    self.saved = saved
    self.leafKey = nil
  }

  init(leafKey: Int) {
    op = nil
    inputs = []
    output = nil
    saved = []
    self.leafKey = leafKey
  }
}

extension Tensor {
  /// Records `op` as the producer of `output` when any input is tracked, and returns it.
  static func record(_ op: Op, _ inputs: [Tensor], _ output: Tensor, saved: [Int32] = []) -> Tensor {
    guard inputs.contains(where: { $0.node != nil }) else { return output }
    var result = output
    result.node = GraphNode(op: op, inputs: inputs, output: output.detached, saved: saved)
    return result
  }

  /// The producing operation and its inputs, when this value was recorded.
  public var producer: (op: Op, inputs: [Tensor])? {
    guard let node, let op = node.op else { return nil }
    return (op, node.inputs)
  }

  /// The leaf key this value was tracked under, if it is a leaf of a recording.
  public var leafKey: Int? { node?.leafKey }

  /// This value as a leaf of a new recording: operations on it are recorded, and
  /// ``gradients(of:seed:)`` reports its gradient under `key`.
  public func tracked(key: Int) -> Tensor {
    Tensor(shape: shape, storage: storage, node: GraphNode(leafKey: key))
  }
}
