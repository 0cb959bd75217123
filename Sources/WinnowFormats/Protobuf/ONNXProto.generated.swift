// GENERATED FILE: do not edit. Made from onnx==1.23.2 (onnx.onnx_ml_pb2) by
//   /work/venv/bin/python Utilities/ONNX/generate_onnx_swift.py > Sources/WinnowFormats/Protobuf/ONNXProto.generated.swift
// swiftlint:disable all

/// `onnx.ModelProto` (10 of its fields; the others are skipped when read).
public struct ModelProto: ProtoMessage, Sendable, Equatable {
  public var irVersion: Int64 = 0
  public var producerName: String = ""
  public var producerVersion: String = ""
  public var domain: String = ""
  public var modelVersion: Int64 = 0
  public var docString: String = ""
  public var graph: GraphProto? {
    get { _graph?.value }
    set { _graph = newValue.map(ProtoBox.init) }
  }
  private var _graph: ProtoBox<GraphProto>?
  public var opsetImport: [OperatorSetIdProto] = []
  public var metadataProps: [StringStringEntryProto] = []
  public var functions: [FunctionProto] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: irVersion = try reader.readInt64(wire)
      case 2: producerName = try reader.readString(wire)
      case 3: producerVersion = try reader.readString(wire)
      case 4: domain = try reader.readString(wire)
      case 5: modelVersion = try reader.readInt64(wire)
      case 6: docString = try reader.readString(wire)
      case 7: graph = try reader.readMessage(wire, as: GraphProto.self)
      case 8: opsetImport.append(try reader.readMessage(wire, as: OperatorSetIdProto.self))
      case 14: metadataProps.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      case 25: functions.append(try reader.readMessage(wire, as: FunctionProto.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if irVersion != 0 { writer.writeInt64(1, irVersion) }
    if producerName != "" { writer.writeString(2, producerName) }
    if producerVersion != "" { writer.writeString(3, producerVersion) }
    if domain != "" { writer.writeString(4, domain) }
    if modelVersion != 0 { writer.writeInt64(5, modelVersion) }
    if docString != "" { writer.writeString(6, docString) }
    if let graph { writer.writeMessage(7, graph) }
    for value in opsetImport { writer.writeMessage(8, value) }
    for value in metadataProps { writer.writeMessage(14, value) }
    for value in functions { writer.writeMessage(25, value) }
  }
}

/// `onnx.GraphProto` (8 of its fields; the others are skipped when read).
public struct GraphProto: ProtoMessage, Sendable, Equatable {
  public var node: [NodeProto] = []
  public var name: String = ""
  public var initializer: [TensorProto] = []
  public var docString: String = ""
  public var input: [ValueInfoProto] = []
  public var output: [ValueInfoProto] = []
  public var valueInfo: [ValueInfoProto] = []
  public var metadataProps: [StringStringEntryProto] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: node.append(try reader.readMessage(wire, as: NodeProto.self))
      case 2: name = try reader.readString(wire)
      case 5: initializer.append(try reader.readMessage(wire, as: TensorProto.self))
      case 10: docString = try reader.readString(wire)
      case 11: input.append(try reader.readMessage(wire, as: ValueInfoProto.self))
      case 12: output.append(try reader.readMessage(wire, as: ValueInfoProto.self))
      case 13: valueInfo.append(try reader.readMessage(wire, as: ValueInfoProto.self))
      case 16: metadataProps.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    for value in node { writer.writeMessage(1, value) }
    if name != "" { writer.writeString(2, name) }
    for value in initializer { writer.writeMessage(5, value) }
    if docString != "" { writer.writeString(10, docString) }
    for value in input { writer.writeMessage(11, value) }
    for value in output { writer.writeMessage(12, value) }
    for value in valueInfo { writer.writeMessage(13, value) }
    for value in metadataProps { writer.writeMessage(16, value) }
  }
}

/// `onnx.NodeProto` (9 of its fields; the others are skipped when read).
public struct NodeProto: ProtoMessage, Sendable, Equatable {
  public var input: [String] = []
  public var output: [String] = []
  public var name: String = ""
  public var opType: String = ""
  public var attribute: [AttributeProto] = []
  public var docString: String = ""
  public var domain: String = ""
  public var overload: String = ""
  public var metadataProps: [StringStringEntryProto] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: input.append(try reader.readString(wire))
      case 2: output.append(try reader.readString(wire))
      case 3: name = try reader.readString(wire)
      case 4: opType = try reader.readString(wire)
      case 5: attribute.append(try reader.readMessage(wire, as: AttributeProto.self))
      case 6: docString = try reader.readString(wire)
      case 7: domain = try reader.readString(wire)
      case 8: overload = try reader.readString(wire)
      case 9: metadataProps.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    for value in input { writer.writeString(1, value) }
    for value in output { writer.writeString(2, value) }
    if name != "" { writer.writeString(3, name) }
    if opType != "" { writer.writeString(4, opType) }
    for value in attribute { writer.writeMessage(5, value) }
    if docString != "" { writer.writeString(6, docString) }
    if domain != "" { writer.writeString(7, domain) }
    if overload != "" { writer.writeString(8, overload) }
    for value in metadataProps { writer.writeMessage(9, value) }
  }
}

/// `onnx.AttributeProto` (16 of its fields; the others are skipped when read).
public struct AttributeProto: ProtoMessage, Sendable, Equatable {
  public var name: String = ""
  public var f: Float = 0
  public var i: Int64 = 0
  public var s: [UInt8] = []
  public var t: TensorProto? {
    get { _t?.value }
    set { _t = newValue.map(ProtoBox.init) }
  }
  private var _t: ProtoBox<TensorProto>?
  public var g: GraphProto? {
    get { _g?.value }
    set { _g = newValue.map(ProtoBox.init) }
  }
  private var _g: ProtoBox<GraphProto>?
  public var floats: [Float] = []
  public var ints: [Int64] = []
  public var strings: [[UInt8]] = []
  public var tensors: [TensorProto] = []
  public var graphs: [GraphProto] = []
  public var docString: String = ""
  public var tp: TypeProto? {
    get { _tp?.value }
    set { _tp = newValue.map(ProtoBox.init) }
  }
  private var _tp: ProtoBox<TypeProto>?
  public var typeProtos: [TypeProto] = []
  public var type: Int32 = 0
  public var refAttrName: String = ""

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: name = try reader.readString(wire)
      case 2: f = try reader.readFloat(wire)
      case 3: i = try reader.readInt64(wire)
      case 4: s = try reader.readBytes(wire)
      case 5: t = try reader.readMessage(wire, as: TensorProto.self)
      case 6: g = try reader.readMessage(wire, as: GraphProto.self)
      case 7: try reader.readRepeated(wire, into: &floats, element: .fixed32) { r, w throws(ProtobufError) in try r.readFloat(w) }
      case 8: try reader.readRepeated(wire, into: &ints, element: .varint) { r, w throws(ProtobufError) in try r.readInt64(w) }
      case 9: strings.append(try reader.readBytes(wire))
      case 10: tensors.append(try reader.readMessage(wire, as: TensorProto.self))
      case 11: graphs.append(try reader.readMessage(wire, as: GraphProto.self))
      case 13: docString = try reader.readString(wire)
      case 14: tp = try reader.readMessage(wire, as: TypeProto.self)
      case 15: typeProtos.append(try reader.readMessage(wire, as: TypeProto.self))
      case 20: type = try reader.readInt32(wire)
      case 21: refAttrName = try reader.readString(wire)
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if name != "" { writer.writeString(1, name) }
    if f != 0 { writer.writeFloat(2, f) }
    if i != 0 { writer.writeInt64(3, i) }
    if s != [] { writer.writeBytes(4, s) }
    if let t { writer.writeMessage(5, t) }
    if let g { writer.writeMessage(6, g) }
    for value in floats { writer.writeFloat(7, value) }
    for value in ints { writer.writeInt64(8, value) }
    for value in strings { writer.writeBytes(9, value) }
    for value in tensors { writer.writeMessage(10, value) }
    for value in graphs { writer.writeMessage(11, value) }
    if docString != "" { writer.writeString(13, docString) }
    if let tp { writer.writeMessage(14, tp) }
    for value in typeProtos { writer.writeMessage(15, value) }
    if type != 0 { writer.writeInt32(20, type) }
    if refAttrName != "" { writer.writeString(21, refAttrName) }
  }
}

/// `onnx.TensorProto` (15 of its fields; the others are skipped when read).
public struct TensorProto: ProtoMessage, Sendable, Equatable {
  public var dims: [Int64] = []
  public var dataType: Int32 = 0
  public var segment: TensorProto.Segment? {
    get { _segment?.value }
    set { _segment = newValue.map(ProtoBox.init) }
  }
  private var _segment: ProtoBox<TensorProto.Segment>?
  public var floatData: [Float] = []
  public var int32Data: [Int32] = []
  public var stringData: [[UInt8]] = []
  public var int64Data: [Int64] = []
  public var name: String = ""
  public var rawData: [UInt8] = []
  public var doubleData: [Double] = []
  public var uint64Data: [UInt64] = []
  public var docString: String = ""
  public var externalData: [StringStringEntryProto] = []
  public var dataLocation: Int32 = 0
  public var metadataProps: [StringStringEntryProto] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: try reader.readRepeated(wire, into: &dims, element: .varint) { r, w throws(ProtobufError) in try r.readInt64(w) }
      case 2: dataType = try reader.readInt32(wire)
      case 3: segment = try reader.readMessage(wire, as: TensorProto.Segment.self)
      case 4: try reader.readRepeated(wire, into: &floatData, element: .fixed32) { r, w throws(ProtobufError) in try r.readFloat(w) }
      case 5: try reader.readRepeated(wire, into: &int32Data, element: .varint) { r, w throws(ProtobufError) in try r.readInt32(w) }
      case 6: stringData.append(try reader.readBytes(wire))
      case 7: try reader.readRepeated(wire, into: &int64Data, element: .varint) { r, w throws(ProtobufError) in try r.readInt64(w) }
      case 8: name = try reader.readString(wire)
      case 9: rawData = try reader.readBytes(wire)
      case 10: try reader.readRepeated(wire, into: &doubleData, element: .fixed64) { r, w throws(ProtobufError) in try r.readDouble(w) }
      case 11: try reader.readRepeated(wire, into: &uint64Data, element: .varint) { r, w throws(ProtobufError) in try r.readUInt64(w) }
      case 12: docString = try reader.readString(wire)
      case 13: externalData.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      case 14: dataLocation = try reader.readInt32(wire)
      case 16: metadataProps.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    for value in dims { writer.writeInt64(1, value) }
    if dataType != 0 { writer.writeInt32(2, dataType) }
    if let segment { writer.writeMessage(3, segment) }
    writer.writePacked(4, floatData) { $0.writeFixedValue($1) }
    writer.writePacked(5, int32Data) { $0.writeVarintValue($1) }
    for value in stringData { writer.writeBytes(6, value) }
    writer.writePacked(7, int64Data) { $0.writeVarintValue($1) }
    if name != "" { writer.writeString(8, name) }
    if rawData != [] { writer.writeBytes(9, rawData) }
    writer.writePacked(10, doubleData) { $0.writeFixedValue($1) }
    writer.writePacked(11, uint64Data) { $0.writeVarintValue($1) }
    if docString != "" { writer.writeString(12, docString) }
    for value in externalData { writer.writeMessage(13, value) }
    if dataLocation != 0 { writer.writeInt32(14, dataLocation) }
    for value in metadataProps { writer.writeMessage(16, value) }
  }
}

extension TensorProto {
  /// `onnx.TensorProto.Segment` (2 of its fields; the others are skipped when read).
  public struct Segment: ProtoMessage, Sendable, Equatable {
    public var begin: Int64 = 0
    public var end: Int64 = 0

    public init() {}

    public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
      while let (field, wire) = try reader.nextTag() {
        switch field {
        case 1: begin = try reader.readInt64(wire)
        case 2: end = try reader.readInt64(wire)
        default: try reader.skip(wire)
        }
      }
    }

    public func encode(to writer: inout ProtoWriter) {
      if begin != 0 { writer.writeInt64(1, begin) }
      if end != 0 { writer.writeInt64(2, end) }
    }
  }
}

/// `onnx.ValueInfoProto` (4 of its fields; the others are skipped when read).
public struct ValueInfoProto: ProtoMessage, Sendable, Equatable {
  public var name: String = ""
  public var type: TypeProto? {
    get { _type?.value }
    set { _type = newValue.map(ProtoBox.init) }
  }
  private var _type: ProtoBox<TypeProto>?
  public var docString: String = ""
  public var metadataProps: [StringStringEntryProto] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: name = try reader.readString(wire)
      case 2: type = try reader.readMessage(wire, as: TypeProto.self)
      case 3: docString = try reader.readString(wire)
      case 4: metadataProps.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if name != "" { writer.writeString(1, name) }
    if let type { writer.writeMessage(2, type) }
    if docString != "" { writer.writeString(3, docString) }
    for value in metadataProps { writer.writeMessage(4, value) }
  }
}

/// `onnx.TypeProto` (2 of its fields; the others are skipped when read).
public struct TypeProto: ProtoMessage, Sendable, Equatable {
  public var tensorType: TypeProto.Tensor? {
    get { _tensorType?.value }
    set { _tensorType = newValue.map(ProtoBox.init) }
  }
  private var _tensorType: ProtoBox<TypeProto.Tensor>?
  public var denotation: String = ""

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: tensorType = try reader.readMessage(wire, as: TypeProto.Tensor.self)
      case 6: denotation = try reader.readString(wire)
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if let tensorType { writer.writeMessage(1, tensorType) }
    if denotation != "" { writer.writeString(6, denotation) }
  }
}

extension TypeProto {
  /// `onnx.TypeProto.Tensor` (2 of its fields; the others are skipped when read).
  public struct Tensor: ProtoMessage, Sendable, Equatable {
    public var elemType: Int32 = 0
    public var shape: TensorShapeProto? {
    get { _shape?.value }
    set { _shape = newValue.map(ProtoBox.init) }
  }
    private var _shape: ProtoBox<TensorShapeProto>?

    public init() {}

    public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
      while let (field, wire) = try reader.nextTag() {
        switch field {
        case 1: elemType = try reader.readInt32(wire)
        case 2: shape = try reader.readMessage(wire, as: TensorShapeProto.self)
        default: try reader.skip(wire)
        }
      }
    }

    public func encode(to writer: inout ProtoWriter) {
      if elemType != 0 { writer.writeInt32(1, elemType) }
      if let shape { writer.writeMessage(2, shape) }
    }
  }
}

/// `onnx.TensorShapeProto` (1 of its fields; the others are skipped when read).
public struct TensorShapeProto: ProtoMessage, Sendable, Equatable {
  public var dim: [TensorShapeProto.Dimension] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: dim.append(try reader.readMessage(wire, as: TensorShapeProto.Dimension.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    for value in dim { writer.writeMessage(1, value) }
  }
}

extension TensorShapeProto {
  /// `onnx.TensorShapeProto.Dimension` (3 of its fields; the others are skipped when read).
  public struct Dimension: ProtoMessage, Sendable, Equatable {
    public var dimValue: Int64?
    public var dimParam: String?
    public var denotation: String = ""

    public init() {}

    public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
      while let (field, wire) = try reader.nextTag() {
        switch field {
        case 1: dimValue = try reader.readInt64(wire)
        case 2: dimParam = try reader.readString(wire)
        case 3: denotation = try reader.readString(wire)
        default: try reader.skip(wire)
        }
      }
    }

    public func encode(to writer: inout ProtoWriter) {
      if let dimValue { writer.writeInt64(1, dimValue) }
      if let dimParam { writer.writeString(2, dimParam) }
      if denotation != "" { writer.writeString(3, denotation) }
    }
  }
}

/// `onnx.OperatorSetIdProto` (2 of its fields; the others are skipped when read).
public struct OperatorSetIdProto: ProtoMessage, Sendable, Equatable {
  public var domain: String = ""
  public var version: Int64 = 0

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: domain = try reader.readString(wire)
      case 2: version = try reader.readInt64(wire)
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if domain != "" { writer.writeString(1, domain) }
    if version != 0 { writer.writeInt64(2, version) }
  }
}

/// `onnx.StringStringEntryProto` (2 of its fields; the others are skipped when read).
public struct StringStringEntryProto: ProtoMessage, Sendable, Equatable {
  public var key: String = ""
  public var value: String = ""

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: key = try reader.readString(wire)
      case 2: value = try reader.readString(wire)
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if key != "" { writer.writeString(1, key) }
    if value != "" { writer.writeString(2, value) }
  }
}

/// `onnx.FunctionProto` (12 of its fields; the others are skipped when read).
public struct FunctionProto: ProtoMessage, Sendable, Equatable {
  public var name: String = ""
  public var input: [String] = []
  public var output: [String] = []
  public var attribute: [String] = []
  public var node: [NodeProto] = []
  public var docString: String = ""
  public var opsetImport: [OperatorSetIdProto] = []
  public var domain: String = ""
  public var attributeProto: [AttributeProto] = []
  public var valueInfo: [ValueInfoProto] = []
  public var overload: String = ""
  public var metadataProps: [StringStringEntryProto] = []

  public init() {}

  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {
    while let (field, wire) = try reader.nextTag() {
      switch field {
      case 1: name = try reader.readString(wire)
      case 4: input.append(try reader.readString(wire))
      case 5: output.append(try reader.readString(wire))
      case 6: attribute.append(try reader.readString(wire))
      case 7: node.append(try reader.readMessage(wire, as: NodeProto.self))
      case 8: docString = try reader.readString(wire)
      case 9: opsetImport.append(try reader.readMessage(wire, as: OperatorSetIdProto.self))
      case 10: domain = try reader.readString(wire)
      case 11: attributeProto.append(try reader.readMessage(wire, as: AttributeProto.self))
      case 12: valueInfo.append(try reader.readMessage(wire, as: ValueInfoProto.self))
      case 13: overload = try reader.readString(wire)
      case 14: metadataProps.append(try reader.readMessage(wire, as: StringStringEntryProto.self))
      default: try reader.skip(wire)
      }
    }
  }

  public func encode(to writer: inout ProtoWriter) {
    if name != "" { writer.writeString(1, name) }
    for value in input { writer.writeString(4, value) }
    for value in output { writer.writeString(5, value) }
    for value in attribute { writer.writeString(6, value) }
    for value in node { writer.writeMessage(7, value) }
    if docString != "" { writer.writeString(8, docString) }
    for value in opsetImport { writer.writeMessage(9, value) }
    if domain != "" { writer.writeString(10, domain) }
    for value in attributeProto { writer.writeMessage(11, value) }
    for value in valueInfo { writer.writeMessage(12, value) }
    if overload != "" { writer.writeString(13, overload) }
    for value in metadataProps { writer.writeMessage(14, value) }
  }
}

extension TensorProto {
  /// `onnx.TensorProto.DataType`; fields keep the raw `Int32` so unknown values survive a round trip.
  public enum DataType: Int32, Sendable, CaseIterable {
    case undefined = 0
    case `float` = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case `string` = 8
    case `bool` = 9
    case float16 = 10
    case `double` = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26
    case float6e2m3 = 27
    case float6e3m2 = 28
  }
}

extension TensorProto {
  /// `onnx.TensorProto.DataLocation`; fields keep the raw `Int32` so unknown values survive a round trip.
  public enum DataLocation: Int32, Sendable, CaseIterable {
    case `default` = 0
    case external = 1
  }
}

extension AttributeProto {
  /// `onnx.AttributeProto.AttributeType`; fields keep the raw `Int32` so unknown values survive a round trip.
  public enum AttributeType: Int32, Sendable, CaseIterable {
    case undefined = 0
    case `float` = 1
    case int = 2
    case `string` = 3
    case tensor = 4
    case graph = 5
    case sparseTensor = 11
    case typeProto = 13
    case floats = 6
    case ints = 7
    case strings = 8
    case tensors = 9
    case graphs = 10
    case sparseTensors = 12
    case typeProtos = 14
  }
}
