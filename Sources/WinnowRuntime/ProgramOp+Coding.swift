import Foundation
import WinnowCore
import WinnowKernels

/// JSON form of program ops for the packed model file: a dictionary with `"op"` naming the
/// case and one key per payload field; Float payloads are stored as their bit patterns so
/// they round-trip exactly.
extension ProgramOp {
  var json: [String: Any] {
    var d: [String: Any] = ["op": op.name]
    switch op {
    case .unary(let f): d["op"] = "unary"; d["function"] = "\(f)"
    case .binary(let f): d["op"] = "binary"; d["function"] = "\(f)"
    case .power(let e): d["exponentBits"] = Int(e.bitPattern)
    case .clamp(let low, let high): d["lowBits"] = Int(low.bitPattern); d["highBits"] = Int(high.bitPattern)
    case .sum(let axes): d["axes"] = axes
    case .max(let axis): d["axis"] = axis
    case .matmul(let ta, let tb): d["transposeA"] = ta; d["transposeB"] = tb
    case .reshape, .expand:
      d["shape"] = shape?.base ?? []
      d["perBatch"] = shape?.perBatch ?? []
    case .permute(let p): d["permutation"] = p
    case .slice(let axis, let range): d["axis"] = axis; d["lower"] = range.lowerBound; d["upper"] = range.upperBound
    case .concat(let axis): d["axis"] = axis
    case .gather(let indices, let indexShape): d["indices"] = indices.map(Int.init); d["indexShape"] = indexShape
    case .conv2d(let stride, let padding, let dilation, let groups):
      d["stride"] = stride; d["padding"] = padding; d["dilation"] = dilation; d["groups"] = groups
    case .maxPool2d(let kernel, let stride, let padding), .avgPool2d(let kernel, let stride, let padding):
      d["kernel"] = kernel; d["stride"] = stride; d["padding"] = padding
    case .softmax(let axis), .logSoftmax(let axis): d["axis"] = axis
    case .batchNorm(let epsilon): d["epsilonBits"] = Int(epsilon.bitPattern)
    }
    return d
  }

  /// Reads an op written by ``json``; `field` throws a message naming what is wrong.
  init(json d: [String: Any], reader r: JSONFields) throws {
    let name = try r.string(d, "op")
    func float(_ key: String) throws -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: try r.int(d, key))) }
    switch name {
    case "unary":
      let f = try r.string(d, "function")
      guard let function = UnaryFunction.allCases.first(where: { "\($0)" == f }) else { throw r.error("unknown unary function '\(f)'") }
      self.init(op: .unary(function))
    case "binary":
      let f = try r.string(d, "function")
      guard let function = BinaryFunction.allCases.first(where: { "\($0)" == f }) else { throw r.error("unknown binary function '\(f)'") }
      self.init(op: .binary(function))
    case "power": self.init(op: .power(try float("exponentBits")))
    case "clamp": self.init(op: .clamp(low: try float("lowBits"), high: try float("highBits")))
    case "sum": self.init(op: .sum(axes: try r.ints(d, "axes")))
    case "max": self.init(op: .max(axis: try r.int(d, "axis")))
    case "matmul": self.init(op: .matmul(transposeA: try r.bool(d, "transposeA"), transposeB: try r.bool(d, "transposeB")))
    case "reshape", "expand":
      let base = try r.ints(d, "shape"), perBatch = try r.ints(d, "perBatch")
      guard base.count == perBatch.count else { throw r.error("\(name) shape and perBatch differ in length") }
      self.init(op: name == "reshape" ? .reshape(base) : .expand(base), shape: BatchShape(base: base, perBatch: perBatch))
    case "permute": self.init(op: .permute(try r.ints(d, "permutation")))
    case "slice":
      let lower = try r.int(d, "lower"), upper = try r.int(d, "upper")
      guard lower <= upper else { throw r.error("slice range \(lower)..<\(upper) is empty backwards") }
      self.init(op: .slice(axis: try r.int(d, "axis"), range: lower..<upper))
    case "concat": self.init(op: .concat(axis: try r.int(d, "axis")))
    case "gather":
      let indices = try r.ints(d, "indices")
      guard indices.allSatisfy({ Int32(exactly: $0) != nil }) else { throw r.error("gather index out of range") }
      self.init(op: .gather(indices: indices.map { Int32($0) }, indexShape: try r.ints(d, "indexShape")))
    case "conv2d":
      self.init(op: .conv2d(stride: try r.ints(d, "stride"), padding: try r.ints(d, "padding"),
                            dilation: try r.ints(d, "dilation"), groups: try r.int(d, "groups")))
    case "maxPool2d", "avgPool2d":
      let (k, s, p) = (try r.ints(d, "kernel"), try r.ints(d, "stride"), try r.ints(d, "padding"))
      self.init(op: name == "maxPool2d" ? .maxPool2d(kernel: k, stride: s, padding: p) : .avgPool2d(kernel: k, stride: s, padding: p))
    case "softmax": self.init(op: .softmax(axis: try r.int(d, "axis")))
    case "logSoftmax": self.init(op: .logSoftmax(axis: try r.int(d, "axis")))
    case "batchNorm": self.init(op: .batchNorm(epsilon: try float("epsilonBits")))
    default: throw r.error("unknown op '\(name)'")
    }
  }
}

/// Typed reads of JSON values; every failure becomes ``RuntimeError/malformedFile(path:problem:)``
/// with the path and what was being read.
struct JSONFields {
  let path: String
  var context: String

  func error(_ problem: String) -> RuntimeError {
    .malformedFile(path: path, problem: context.isEmpty ? problem : "\(context): \(problem)")
  }
  func value(_ d: [String: Any], _ key: String) throws -> Any {
    guard let v = d[key] else { throw error("missing '\(key)'") }
    return v
  }
  func string(_ d: [String: Any], _ key: String) throws -> String {
    guard let s = try value(d, key) as? String else { throw error("'\(key)' is not a string") }
    return s
  }
  func int(_ d: [String: Any], _ key: String) throws -> Int {
    guard let i = exactInteger(try value(d, key)) else { throw error("'\(key)' is not an integer") }
    return i
  }
  func bool(_ d: [String: Any], _ key: String) throws -> Bool {
    guard let b = try value(d, key) as? Bool else { throw error("'\(key)' is not a boolean") }
    return b
  }
  func ints(_ d: [String: Any], _ key: String) throws -> [Int] {
    guard let a = try value(d, key) as? [Any] else { throw error("'\(key)' is not an array") }
    return try a.map { v in
      guard let i = exactInteger(v) else { throw error("'\(key)' holds a non-integer") }
      return i
    }
  }
  func object(_ d: [String: Any], _ key: String) throws -> [String: Any] {
    guard let o = try value(d, key) as? [String: Any] else { throw error("'\(key)' is not an object") }
    return o
  }
  func objects(_ d: [String: Any], _ key: String) throws -> [[String: Any]] {
    guard let o = try value(d, key) as? [[String: Any]] else { throw error("'\(key)' is not an array of objects") }
    return o
  }
}

/// `v` as an Int when it is a JSON integer (or a float with an exact integer value).
func exactInteger(_ v: Any) -> Int? {
  if let i = v as? Int { return i }
  if let d = v as? Double, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
  return nil
}
