import Foundation
import WinnowCore
import WinnowKernels

/// Winnow's packed model file: a safetensors file whose tensors are the packed arrays of each
/// layer (`layers.<i>.…` in the layer's format: see ``WeightFormat``) and the program's other
/// constants (`constants.<i>`, F32), with the program itself as JSON in the metadata entry
/// `winnow.program` (format `winnow.packed/1`). Standard safetensors tools can list it; a
/// 90%-sparse layer stores ~10% of its values plus 2-byte indices, so the file shrinks with
/// the model. Loading checks every array against its format's invariants and every step's
/// shapes at two batch sizes before anything runs.
extension InferenceProgram {
  public static let fileFormat = "winnow.packed/1"

  /// Writes the program to `path` atomically.
  public func write(to path: String) throws {
    var tensors: [String: RawTensor] = [:]
    for (i, layer) in layers.enumerated() {
      layer.format.encode(layer.weights, prefix: "layers.\(i)", into: &tensors)
      if let bias = layer.bias { tensors["layers.\(i).bias"] = RawTensor(floats: bias) }
    }
    var constantShapes: [[Int]] = []
    for (i, c) in constants.enumerated() {
      tensors["constants.\(i)"] = RawTensor(floats: c.scalars)
      constantShapes.append(c.shape)
    }
    let program: [String: Any] = [
      "inputShape": inputShape, "outputSlot": outputSlot, "constantShapes": constantShapes,
      "layers": layers.map(\.json), "steps": steps.map(\.json), "fixedBatch": fixedBatch ?? 0,
    ]
    let json = try JSONSerialization.data(withJSONObject: program, options: [.sortedKeys])
    let metadata = ["format": Self.fileFormat, "winnow.program": String(decoding: json, as: UTF8.self)]
    try writeFileAtomically(SafetensorsFile.encodeRaw(tensors, metadata: metadata), to: path)
  }

  /// Reads and validates a packed model file.
  public static func read(path: String) throws -> InferenceProgram {
    let (tensors, metadata) = try SafetensorsFile.decodeRaw(readFileBytes(path), name: path)
    var r = JSONFields(path: path, context: "")
    guard metadata["format"] == fileFormat else {
      throw r.error("format is '\(metadata["format"] ?? "none")', expected \(fileFormat)")
    }
    guard let text = metadata["winnow.program"], let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
      let program = object as? [String: Any]
    else { throw r.error("metadata 'winnow.program' is missing or not a JSON object") }
    let inputShape = try r.ints(program, "inputShape")
    guard inputShape.allSatisfy({ $0 > 0 }), inputShape.count <= 8 else { throw r.error("bad input shape \(inputShape)") }
    let arrays = RawTensorReader(tensors: tensors, reader: r)
    var constants: [Tensor] = []
    for (i, shape) in try (program["constantShapes"] as? [Any] ?? []).enumerated() {
      guard let s = (shape as? [Any])?.compactMap(exactInteger), s.allSatisfy({ $0 >= 0 }) else { throw r.error("bad shape of constant \(i)") }
      let values = try arrays.floats("constants.\(i)")
      guard values.count == s.reduce(1, *) else { throw r.error("constant \(i) holds \(values.count) values for shape \(s)") }
      constants.append(Tensor(shape: s, scalars: values))
    }
    var layers: [CompiledLayer] = []
    for (i, d) in try r.objects(program, "layers").enumerated() {
      r.context = "layer \(i)"
      layers.append(try CompiledLayer(json: d, index: i, arrays: RawTensorReader(tensors: tensors, reader: r), reader: r))
    }
    var steps: [ProgramStep] = []
    for (i, d) in try r.objects(program, "steps").enumerated() {
      r.context = "step \(i)"
      steps.append(try ProgramStep(json: d, reader: r))
    }
    r.context = ""
    var result = InferenceProgram(
      inputShape: inputShape, layers: layers, steps: steps, constants: constants, outputSlot: try r.int(program, "outputSlot"))
    let fixedBatch = program["fixedBatch"] == nil ? 0 : try r.int(program, "fixedBatch")
    guard (0...1 << 20).contains(fixedBatch) else { throw r.error("bad fixed batch \(fixedBatch)") }
    result.fixedBatch = fixedBatch > 0 ? fixedBatch : nil
    for batch in fixedBatch > 0 ? [fixedBatch] : [1, 3] { try result.checkShapes(batch: batch, reader: r) }
    return result
  }

  /// Follows every slot's shape through the program at `batch`, throwing at the first step
  /// whose inputs it could not run on.
  func checkShapes(batch: Int, reader r: JSONFields) throws {
    var shapes: [Int: [Int]] = [0: [batch] + inputShape]
    for (i, step) in steps.enumerated() {
      func slot(_ s: Int) throws -> [Int] {
        guard let shape = shapes[s] else { throw r.error("step \(i) reads slot \(s) before it is written") }
        return shape
      }
      guard shapes[step.output] == nil else { throw r.error("step \(i) writes slot \(step.output) twice") }
      switch step {
      case .operation(let op, let inputs, let output):
        let inputShapes = try inputs.map { operand -> [Int] in
          switch operand {
          case .value(let s): return try slot(s)
          case .constant(let c):
            guard constants.indices.contains(c) else { throw r.error("step \(i) reads missing constant \(c)") }
            return constants[c].shape
          }
        }
        switch inferShape(op.resolved(batch: batch), inputShapes) {
        case .success(let s): shapes[output] = s
        case .failure(let p): throw r.error("step \(i) at batch \(batch): \(p.message)")
        }
      case .layer(let l, let input, let output):
        guard layers.indices.contains(l) else { throw r.error("step \(i) runs missing layer \(l)") }
        guard let s = layers[l].outputShape(for: try slot(input)) else {
          throw r.error("step \(i): layer \(layers[l].name) cannot take input \(try slot(input))")
        }
        shapes[output] = s
      }
    }
    guard shapes[outputSlot] != nil else { throw r.error("output slot \(outputSlot) is never written") }
  }
}
