import WinnowCore
import WinnowKernels

extension CompiledLayer {
  var json: [String: Any] {
    var d: [String: Any] = [
      "name": name, "format": format.description, "activation": activation.rawValue,
      "outputFeatures": weights.outputFeatures, "inputFeatures": weights.inputFeatures, "hasBias": bias != nil,
      "rowsPerExample": rowsPerExample, "nonZeros": nonZeros, "weightCount": weightCount,
    ]
    if case .convolution(let s) = kind {
      d["convolution"] = [
        "inChannels": s.inChannels, "outChannels": s.outChannels, "kernel": s.kernel, "stride": s.stride,
        "padding": s.padding, "dilation": s.dilation,
      ]
    }
    return d
  }

  init(json d: [String: Any], index i: Int, arrays: RawTensorReader, reader r: JSONFields) throws {
    let n = try r.int(d, "outputFeatures"), k = try r.int(d, "inputFeatures")
    guard n > 0, k > 0, n <= 1 << 24, k <= 1 << 24 else { throw r.error("bad size \(n)×\(k)") }
    let format: WeightFormat
    do { format = try WeightFormat(parsing: try r.string(d, "format")) } catch { throw r.error("\(error)") }
    guard let activation = EpilogueActivation(rawValue: try r.string(d, "activation")) else { throw r.error("unknown activation") }
    var kind = Kind.linear
    if let c = d["convolution"] as? [String: Any] {
      let s = ConvolutionShape(
        inChannels: try r.int(c, "inChannels"), outChannels: try r.int(c, "outChannels"), kernel: try r.ints(c, "kernel"),
        stride: try r.ints(c, "stride"), padding: try r.ints(c, "padding"), dilation: try r.ints(c, "dilation"))
      guard s.kernel.count == 2, s.stride.count == 2, s.padding.count == 2, s.dilation.count == 2,
        s.inChannels > 0, s.outChannels == n, s.inChannels * s.kernel[0] * s.kernel[1] == k
      else { throw r.error("convolution geometry does not match its \(n)×\(k) weights") }
      kind = .convolution(s)
    }
    let bias = try r.bool(d, "hasBias") ? try arrays.floats("layers.\(i).bias") : nil
    guard bias.map({ $0.count == n }) ?? true else { throw r.error("bias has \(bias!.count) values for \(n) outputs") }
    self.init(
      name: try r.string(d, "name"), kind: kind, format: format,
      weights: try format.decode(prefix: "layers.\(i)", outputFeatures: n, inputFeatures: k, from: arrays),
      bias: bias, activation: activation, rowsPerExample: max(1, try r.int(d, "rowsPerExample")),
      nonZeros: try r.int(d, "nonZeros"), weightCount: try r.int(d, "weightCount"))
  }

  /// The output shape for an input of `shape`, or nil when the layer cannot take it.
  func outputShape(for shape: [Int]) -> [Int]? {
    switch kind {
    case .linear:
      guard shape.count >= 1, shape.last == weights.inputFeatures else { return nil }
      return Array(shape.dropLast()) + [weights.outputFeatures]
    case .convolution(let s):
      guard shape.count == 4, shape[1] == s.inChannels else { return nil }
      let g = s.geometry(batch: shape[0], height: shape[2], width: shape[3])
      if g.problem != nil { return nil }
      return [shape[0], s.outChannels, g.outHeight, g.outWidth]
    }
  }
}

extension ProgramStep {
  var json: [String: Any] {
    switch self {
    case .layer(let l, let input, let output):
      return ["layer": l, "input": input, "output": output]
    case .operation(let op, let inputs, let output):
      let operands = inputs.map { o -> [String: Int] in
        switch o {
        case .value(let s): ["value": s]
        case .constant(let c): ["constant": c]
        }
      }
      return ["op": op.json, "inputs": operands, "output": output]
    }
  }

  init(json d: [String: Any], reader r: JSONFields) throws {
    let output = try r.int(d, "output")
    guard output > 0 else { throw r.error("output slot \(output) must be positive") }
    if d["layer"] != nil {
      self = .layer(try r.int(d, "layer"), input: try r.int(d, "input"), output: output)
      return
    }
    let op = try ProgramOp(json: try r.object(d, "op"), reader: r)
    let operands = try r.objects(d, "inputs").map { o -> Operand in
      if o["value"] != nil { return .value(try r.int(o, "value")) }
      return .constant(try r.int(o, "constant"))
    }
    self = .operation(op, inputs: operands, output: output)
  }
}
