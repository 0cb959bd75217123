import WinnowCore
import WinnowNN

/// One node about to run: its inputs (nil for omitted optional ones), attributes and the
/// typed accessors operator kernels read them through. Every failure names the node.
struct ONNXNode {
  let node: NodeProto
  let inputs: [ONNXValue?]
  let opset: Int64
  let file: String
  let context: ForwardContext

  func fail(_ reason: String) -> ONNXError {
    .invalidNode(file: file, node: node.displayName, operator: node.opType, reason: reason)
  }

  var inputCount: Int { inputs.count }

  func has(_ index: Int) -> Bool { index < inputs.count && inputs[index] != nil }

  func value(_ index: Int) throws(ONNXError) -> ONNXValue {
    guard index < inputs.count, let value = inputs[index] else { throw fail("input \(index) is missing") }
    return value
  }

  /// A float input (of any float element type, as Float32); integer inputs are an error
  /// (ONNX types are checked per operator).
  func float(_ index: Int) throws(ONNXError) -> Tensor {
    switch try value(index) {
    case .float(let t), .floating(let t, _): return t
    case .integer(let i): throw fail("input \(index) ('\(node.input[index])') is \(i.dataType), which is not supported here (float32 only)")
    }
  }

  func integers(_ index: Int) throws(ONNXError) -> ONNXIntegers {
    switch try value(index) {
    case .integer(let i): return i
    case .float, .floating: throw fail("input \(index) ('\(node.input[index])') is \(inputs[index]!.dataType), expected an integer tensor")
    }
  }

  /// An integer input read as a list (shapes, axes, indices).
  func intList(_ index: Int) throws(ONNXError) -> [Int] { try integers(index).values.map { Int(clamping: $0) } }

  // MARK: Attributes

  func attribute(_ name: String) -> AttributeProto? { node.attribute.first { $0.name == name } }

  func int(_ name: String, default value: Int) -> Int { attribute(name).map { Int(clamping: $0.i) } ?? value }

  func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map { Int(clamping: $0) } } }

  func float(_ name: String, default value: Float) -> Float { attribute(name)?.f ?? value }

  func string(_ name: String, default value: String) -> String {
    attribute(name).map { String(decoding: $0.s, as: UTF8.self) } ?? value
  }

  func tensorAttribute(_ name: String) throws(ONNXError) -> ONNXValue? {
    guard let t = attribute(name)?.t else { return nil }
    return try t.value(file: file, directory: nil)
  }

  /// `axis` in `-rank..<rank`, normalised to `0..<rank`.
  func axis(_ axis: Int, rank: Int) throws(ONNXError) -> Int {
    guard axis >= -rank && axis < rank else { throw fail("axis \(axis) is out of range for rank \(rank)") }
    return axis < 0 ? axis + rank : axis
  }

  /// Axes from the `axes` input (newer opsets) or attribute (older ones).
  func axes(inputIndex: Int, rank: Int) throws(ONNXError) -> [Int]? {
    let raw: [Int]? = has(inputIndex) ? try intList(inputIndex) : ints("axes")
    guard let raw else { return nil }
    var result: [Int] = []
    for a in raw { result.append(try axis(a, rank: rank)) }
    guard Set(result).count == result.count else { throw fail("axes \(raw) repeat an axis") }
    return result
  }

  /// Broadcast shape of two inputs, or an error naming both shapes.
  func broadcast(_ a: [Int], _ b: [Int]) throws(ONNXError) -> [Int] {
    guard let shape = broadcastShape(a, b) else { throw fail("shapes \(a) and \(b) do not broadcast") }
    return shape
  }
}

import WinnowKernels

/// For each element of `target` (row-major), the flat index of the element of `shape` that
/// NumPy broadcasting reads there. `shape` must broadcast to `target`.
func broadcastSourceIndices(_ shape: [Int], to target: [Int]) -> [Int] {
  let count = target.reduce(1, *)
  let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
  var strides = [Int](repeating: 0, count: target.count)
  var step = 1
  for axis in (0..<target.count).reversed() {
    strides[axis] = padded[axis] == 1 ? 0 : step
    step *= padded[axis]
  }
  var result = [Int](repeating: 0, count: count)
  var index = [Int](repeating: 0, count: target.count)
  var flat = 0
  for i in 0..<count {
    result[i] = flat
    var axis = target.count - 1
    while axis >= 0 {
      index[axis] += 1
      flat += strides[axis]
      if index[axis] < target[axis] { break }
      flat -= strides[axis] * index[axis]
      index[axis] = 0
      axis -= 1
    }
  }
  return result
}
