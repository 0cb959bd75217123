import Foundation
import WinnowCore

/// A training checkpoint: model weights, buffers and masks, optimizer state, and where the
/// run stands, in one safetensors file.
///
/// Tensor names: `model.<param>`, `mask.<param>`, `buffer.<name>`, `optimizer.<slot>.<param>`.
/// Metadata: `format` = `winnow.checkpoint/1`, and JSON for `model`, `configuration`,
/// `state`, `optimizer_step`. Files are replaced atomically (temp file + rename), so an
/// interrupted write never destroys the previous checkpoint.
public struct Checkpoint: Sendable {
  public static let format = "winnow.checkpoint/1"

  public var spec: ModelSpec
  public var configuration: TrainingConfiguration
  public var state: TrainingState
  public var tensors: [String: Tensor]
  public var optimizerStep: Int

  /// Captures `model` and `optimizer` as they are now.
  public init(spec: ModelSpec, configuration: TrainingConfiguration, state: TrainingState,
              model: Layer, optimizer: any Optimizer) {
    self.spec = spec
    self.configuration = configuration
    self.state = state
    optimizerStep = optimizer.step
    var tensors: [String: Tensor] = [:]
    model.visitParameters { name, p in
      tensors["model." + name] = p.value.detached
      if let mask = p.mask { tensors["mask." + name] = mask.detached }
    }
    model.visitBuffers { name, t in tensors["buffer." + name] = t.detached }
    for (key, t) in optimizer.state { tensors["optimizer." + key] = t }
    self.tensors = tensors
  }

  public func write(path: String) throws(FormatError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    func json<T: Encodable>(_ value: T) -> String {
      (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
    let metadata = ["format": Checkpoint.format, "model": json(spec), "configuration": json(configuration),
                    "state": json(state), "optimizer_step": "\(optimizerStep)"]
    try SafetensorsFile(tensors: tensors, metadata: metadata).write(path: path)
  }

  /// Reads a checkpoint, checking that it is one and that its metadata parses.
  public static func read(path: String) throws(FormatError) -> Checkpoint {
    let file = try SafetensorsFile.read(path: path)
    guard file.metadata["format"] == format else {
      throw .corrupt(file: path, reason: "not a Winnow checkpoint (metadata 'format' is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)')")
    }
    func decode<T: Decodable>(_ key: String, as type: T.Type) throws(FormatError) -> T {
      guard let text = file.metadata[key], let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
        throw .corrupt(file: path, reason: "checkpoint metadata '\(key)' is missing or malformed")
      }
      return value
    }
    let spec = try decode("model", as: ModelSpec.self)
    if let problem = spec.problem { throw .corrupt(file: path, reason: "checkpoint model: \(problem)") }
    return Checkpoint(spec: spec, configuration: try decode("configuration", as: TrainingConfiguration.self),
                      state: try decode("state", as: TrainingState.self), tensors: file.tensors,
                      optimizerStep: Int(file.metadata["optimizer_step"] ?? "") ?? 0)
  }

  init(spec: ModelSpec, configuration: TrainingConfiguration, state: TrainingState, tensors: [String: Tensor], optimizerStep: Int) {
    self.spec = spec
    self.configuration = configuration
    self.state = state
    self.tensors = tensors
    self.optimizerStep = optimizerStep
  }

  /// Copies the stored weights, masks and buffers into `model`, checking every name and shape.
  public func restore(into model: Layer, file: String) throws(FormatError) {
    try loadStateDictionary(tensors, into: model, prefix: ("model.", "mask.", "buffer."), file: file)
  }

  /// The optimizer tensors, keyed as ``Optimizer/state`` expects.
  public var optimizerState: [String: Tensor] {
    var state: [String: Tensor] = [:]
    for (name, t) in tensors where name.hasPrefix("optimizer.") { state[String(name.dropFirst(10))] = t }
    return state
  }
}

/// Loads weights by name into `model`: every parameter and buffer must be present with its
/// exact shape. `prefix` names the namespaces for parameters, masks and buffers (empty
/// strings for a plain PyTorch-style state dictionary, where parameters and buffers share one).
public func loadStateDictionary(
  _ tensors: [String: Tensor], into model: Layer, prefix: (parameter: String, mask: String, buffer: String) = ("", "mask.", ""),
  file: String
) throws(FormatError) {
  do {
    try model.visitParameters { name, p throws(FormatError) in
      guard let t = tensors[prefix.parameter + name] else { throw .missingTensor(file: file, tensor: prefix.parameter + name) }
      guard t.shape == p.shape else {
        throw .shapeMismatch(file: file, tensor: prefix.parameter + name, expected: p.shape, actual: t.shape)
      }
      p.value = t.detached
      if let m = tensors[prefix.mask + name] {
        guard m.shape == p.shape else { throw .shapeMismatch(file: file, tensor: prefix.mask + name, expected: p.shape, actual: m.shape) }
        p.mask = m.detached
      }
    }
    try model.visitBuffers { name, b throws(FormatError) in
      guard let t = tensors[prefix.buffer + name] else { throw .missingTensor(file: file, tensor: prefix.buffer + name) }
      guard t.shape == b.shape else {
        throw .shapeMismatch(file: file, tensor: prefix.buffer + name, expected: b.shape, actual: t.shape)
      }
      b = t.detached
    }
  } catch let error as FormatError {
    throw error
  } catch {
    throw .corrupt(file: file, reason: "\(error)")
  }
}

/// The model's parameters and buffers under their plain names (a PyTorch-style state dict).
public func stateDictionary(of model: Layer) -> [String: Tensor] {
  var tensors: [String: Tensor] = [:]
  model.visitParameters { name, p in tensors[name] = p.effective.detached }
  model.visitBuffers { name, t in tensors[name] = t.detached }
  return tensors
}
