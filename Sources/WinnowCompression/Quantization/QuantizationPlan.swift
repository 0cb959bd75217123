import Foundation
import WinnowCore
import WinnowNN

/// Mixed precision as data: the weight scheme of each layer, and optionally one scheme for
/// the input activations of every quantized layer. Produced by hand, by the CLI from one
/// scheme, or by ``MixedPrecision`` from a sensitivity analysis; saved as JSON and printed.
///
///     {"activations": "int8-asym-tensor", "layers": {"conv1": "int8-sym-channel", "fc1": "int4-g64"}}
///
/// Layers are named as in ``Layer/namedLayers`` (`conv1`, `layer1.0.conv1`); their weight
/// (`<layer>.weight`) is what is quantized. Biases stay in Float32 (they are added to the
/// Int32 accumulator at its scale in integer kernels, and are few).
public struct QuantizationPlan: Codable, Equatable, Sendable, CustomStringConvertible {
  public var layers: [String: QuantizationScheme]
  /// Scheme of each quantized layer's input; nil = weight-only.
  public var activations: QuantizationScheme?

  public init(layers: [String: QuantizationScheme] = [:], activations: QuantizationScheme? = nil) {
    self.layers = layers
    self.activations = activations
  }

  /// The same weight scheme for every quantizable layer of `model`.
  public static func uniform(_ scheme: QuantizationScheme, activations: QuantizationScheme? = nil, model: Layer) -> QuantizationPlan {
    QuantizationPlan(layers: Dictionary(uniqueKeysWithValues: quantizableLayers(of: model).map { ($0.name, scheme) }),
                     activations: activations)
  }

  /// Rejects unknown layers, unsupported bit widths, groups that do not tile a row, and
  /// activation schemes no kernel runs (anything but one scale per tensor).
  public func validate(against model: Layer) throws(QuantizationError) {
    let known = quantizableLayers(of: model)
    let weights = Dictionary(uniqueKeysWithValues: known.map { ($0.name, $0.weightShape) })
    for (name, scheme) in layers.sorted(by: { $0.key < $1.key }) {
      guard let shape = weights[name] else { throw .unknownLayer(name, known: known.map(\.name)) }
      _ = try scheme.blockSize(for: shape, layer: name)
    }
    if let activations {
      let first = layers.keys.sorted().first ?? "activations"
      try activations.validate(layer: first)
      guard activations.granularity == .perTensor else {
        throw .unsupportedUse(layer: first, scheme: activations.description,
                              reason: "activations take one scale per tensor (int*-tensor or fp8)")
      }
    }
  }

  public func jsonData() -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return (try? encoder.encode(self)) ?? Data()
  }

  public static func read(path: String) throws(QuantizationError) -> QuantizationPlan {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .malformedPlan(reason: "cannot read \(path)")
    }
    do {
      return try JSONDecoder().decode(QuantizationPlan.self, from: data)
    } catch {
      throw .malformedPlan(reason: "\(path) is not a quantization plan (\(error))")
    }
  }

  public var description: String {
    let lines = layers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
    return (lines + [activations.map { "activations: \($0)" } ?? "activations: float32"]).joined(separator: "\n")
  }
}

/// A Linear or Conv2d layer, whose weight can be quantized.
public struct QuantizableLayer {
  public let name: String
  public let layer: Layer
  public var weightShape: [Int] {
    if let linear = layer as? Linear { return linear.weight.shape }
    return (layer as? Conv2d)?.weight.shape ?? []
  }
}

/// The Linear and Conv2d layers of `model`, depth first, with their dotted names.
public func quantizableLayers(of model: Layer) -> [QuantizableLayer] {
  model.namedLayers.compactMap { name, layer in
    if let quantized = layer as? QuantizedLayer { return QuantizableLayer(name: name, layer: quantized.inner) }
    return layer is Linear || layer is Conv2d ? QuantizableLayer(name: name, layer: layer) : nil
  }
}
