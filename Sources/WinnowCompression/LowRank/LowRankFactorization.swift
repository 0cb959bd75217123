import WinnowCore
import WinnowNN

/// How to choose the rank `r` of a layer's factorization `W (N×K) ≈ B·A`.
public enum RankSelection: Sendable, Hashable {
  /// The smallest `r` keeping at least this fraction of `Σσᵢ²`, in (0, 1].
  case energy(Double)
  /// The largest `r` whose factors have at most `1/ratio` of the weights:
  /// `r = ⌊N·K / (ratio·(N + K))⌋` (at least 1), ratio > 1.
  case compression(Double)
  /// This exact rank, in `1...min(N, K)`.
  case rank(Int)

  /// Checks the payload, independently of any layer.
  public func validate() throws(LowRankError) {
    switch self {
    case .energy(let e): if !(e > 0 && e <= 1) { throw .invalidEnergy(e) }
    case .compression(let c): if !(c > 1) || !c.isFinite { throw .invalidCompression(c) }
    case .rank: break
    }
  }

  /// The rank for layer `name` with singular values from `svd`.
  func rank(for svd: SingularValueDecomposition, layer name: String) throws(LowRankError) -> Int {
    let (n, k) = (svd.rows, svd.columns)
    switch self {
    case .energy(let e): return svd.rank(keepingEnergy: e)
    case .compression(let c): return min(svd.k, max(1, Int(Double(n * k) / (c * Double(n + k)))))
    case .rank(let r):
      guard r >= 1 && r <= svd.k else { throw .invalidRank(layer: name, rank: r, maximum: svd.k) }
      return r
    }
  }
}

/// What factorizing one layer did.
public struct FactorizationEntry: Sendable, Codable, Hashable {
  public var layer: String
  /// `linear` or `conv2d`.
  public var kind: String
  /// `[N, K]` of the weight matrix (`K = C·kH·kW` for convolutions).
  public var matrixShape: [Int]
  public var rank: Int
  public var maximumRank: Int
  /// Fraction of `Σσᵢ²` the chosen rank keeps.
  public var energy: Double
  public var parametersBefore: Int
  public var parametersAfter: Int
  /// False when the rank saved nothing and the layer stayed dense.
  public var factorized: Bool
}

/// Truncated-SVD factorization of the Linear and Conv2d layers of a model into
/// ``LowRankLinear`` / ``LowRankConv2d`` (two thin layers each), in place.
///
/// `W ≈ U_r·Σ_r·V_rᵀ` (Eckart–Young: the best rank-`r` approximation) is split as
/// `second = U_r·√Σ_r`, `first = √Σ_r·V_rᵀ`. A convolution's `N×C×kH×kW` weight is read as
/// the `N×(C·kH·kW)` matrix; `first` becomes a `kH×kW` convolution with `r` outputs and
/// `second` a `1×1` convolution. Layers must be children of a ``LayerContainer`` (the factorized
/// layer takes the dense layer's place and name, so `fc1.weight` becomes `fc1.first.weight`
/// and `fc1.second.weight`, `fc1.second.bias`).
public enum LowRankFactorization {
  /// Dotted names of the layers that can be factorized: `Linear` and ungrouped `Conv2d`
  /// children of a `Sequential` or a residual block (any ``LayerContainer``), in visiting order.
  public static func eligibleLayers(of model: Layer) -> [String] {
    let layers = model.namedLayers
    let byName = Dictionary(layers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
    return layers.compactMap { name, layer in
      guard !name.isEmpty, byName[parentName(of: name)] is LayerContainer else { return nil }
      if layer is Linear { return name }
      if let conv = layer as? Conv2d, conv.groups == 1 { return name }
      return nil
    }
  }

  /// The `N×K` matrix of a Linear or Conv2d layer's weight as it computes (masks applied).
  public static func weightMatrix(of layer: Layer) -> Tensor? {
    if let linear = layer as? Linear { return linear.weight.effective.detached }
    if let conv = layer as? Conv2d, conv.groups == 1 {
      return conv.weight.effective.detached.reshaped([conv.outChannels, -1]).detached
    }
    return nil
  }

  /// Factorizes `layers` (default: every eligible layer) of `model` with ranks from
  /// `selection`. With `onlyWhenSmaller`, layers whose chosen rank saves no parameters
  /// (`r·(N + K) ≥ N·K`) stay dense and are reported with `factorized == false`.
  @discardableResult
  public static func factorize(
    _ model: Layer, selection: RankSelection, layers: [String]? = nil, onlyWhenSmaller: Bool = true
  ) throws(LowRankError) -> [FactorizationEntry] {
    try selection.validate()
    let eligible = eligibleLayers(of: model)
    let targets = layers ?? eligible
    let byName = Dictionary(model.namedLayers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
    var entries: [FactorizationEntry] = []
    for name in targets {
      guard let layer = byName[name] else { throw .unknownLayer(name, known: eligible) }
      guard eligible.contains(name), let matrix = weightMatrix(of: layer),
            let parent = byName[parentName(of: name)] as? LayerContainer else {
        throw .unsupportedLayer(name, reason: "only Linear and ungrouped Conv2d layers inside a Sequential or residual block can be factorized")
      }
      let svd = SingularValueDecomposition(matrix)
      let rank = try selection.rank(for: svd, layer: name)
      let (n, k) = (svd.rows, svd.columns)
      let smaller = rank * (n + k) < n * k
      let biasCount = n * (hasBias(layer) ? 1 : 0)
      let factorized = smaller || !onlyWhenSmaller
      if factorized { parent.replaceLayer(named: childName(of: name), with: factorizedLayer(layer, svd: svd, rank: rank)) }
      entries.append(FactorizationEntry(
        layer: name, kind: layer is Linear ? "linear" : "conv2d", matrixShape: [n, k], rank: rank, maximumRank: svd.k,
        energy: svd.energy(rank: rank), parametersBefore: n * k + biasCount,
        parametersAfter: (factorized ? rank * (n + k) : n * k) + biasCount, factorized: factorized))
    }
    return entries
  }

  /// The two-layer replacement of `layer` at rank `rank`.
  static func factorizedLayer(_ layer: Layer, svd: SingularValueDecomposition, rank: Int) -> Layer {
    let (left, right) = svd.factors(rank: rank)
    if let linear = layer as? Linear {
      return LowRankLinear(first: right, second: left, bias: linear.bias?.value.detached)
    }
    let conv = layer as! Conv2d  // only Linear and Conv2d reach here (see weightMatrix)
    let shape = conv.weight.shape
    return LowRankConv2d(
      first: right.reshaped([rank, shape[1], shape[2], shape[3]]).detached,
      second: left.reshaped([shape[0], rank, 1, 1]).detached, bias: conv.bias?.value.detached,
      stride: conv.stride, padding: conv.padding, dilation: conv.dilation)
  }

  /// Replaces, in a freshly built dense `model`, every layer for which `shapes` holds
  /// `<layer>.first.weight` and `<layer>.second.weight` by a factorized layer of those
  /// shapes (values to be loaded afterwards): how a factorized checkpoint loads.
  /// Returns the names of the layers replaced.
  @discardableResult
  public static func rebuild(_ model: Layer, toShapes shapes: [String: [Int]]) throws(LowRankError) -> [String] {
    let byName = Dictionary(model.namedLayers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
    var replaced: [String] = []
    for name in eligibleLayers(of: model) {
      // Both lookups succeed for an eligible layer; a guard keeps that from being a trap.
      guard let first = shapes[name + ".first.weight"], let second = shapes[name + ".second.weight"],
            let layer = byName[name], let parent = byName[parentName(of: name)] as? LayerContainer else { continue }
      // The shapes come from a file: they must be exactly a rank-r factorization of this
      // layer, or the first forward pass would hit a shape precondition.
      let rank = first.first ?? 0, w = weightMatrix(of: layer)?.shape ?? []
      let expected: ([Int], [Int])
      if let conv = layer as? Conv2d {
        let kernel = Array(conv.weight.shape.dropFirst(2))
        expected = ([rank, conv.inChannels] + kernel, [conv.outChannels, rank, 1, 1])
      } else {
        expected = ([rank, w.count == 2 ? w[1] : -1], [w.first ?? -1, rank])
      }
      guard rank > 0, first == expected.0, second == expected.1 else {
        throw .unsupportedLayer(name, reason: "factor shapes \(first) and \(second) are not a rank-\(rank) factorization of its \(w) weights")
      }
      let bias = hasBias(layer) ? Tensor.zeros([second[0]]) : nil
      let rebuilt: Layer
      if let conv = layer as? Conv2d {
        rebuilt = LowRankConv2d(first: .zeros(first), second: .zeros(second), bias: bias,
                                stride: conv.stride, padding: conv.padding, dilation: conv.dilation)
      } else {
        rebuilt = LowRankLinear(first: .zeros(first), second: .zeros(second), bias: bias)
      }
      parent.replaceLayer(named: childName(of: name), with: rebuilt)
      replaced.append(name)
    }
    return replaced
  }

  static func hasBias(_ layer: Layer) -> Bool {
    (layer as? Linear)?.bias != nil || (layer as? Conv2d)?.bias != nil
  }

  static func parentName(of name: String) -> String {
    name.lastIndex(of: ".").map { String(name[..<$0]) } ?? ""
  }

  static func childName(of name: String) -> String {
    name.lastIndex(of: ".").map { String(name[name.index(after: $0)...]) } ?? name
  }
}
