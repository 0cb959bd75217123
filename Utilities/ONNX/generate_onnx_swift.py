#!/usr/bin/env python3
"""Generates Sources/WinnowFormats/Protobuf/ONNXProto.generated.swift from onnx.proto.

Pinned: onnx==1.23.2 (pip install onnx==1.23.2). Reads the message descriptors compiled into the
wheel (onnx.onnx_ml_pb2.DESCRIPTOR), so no protoc and no swift-protobuf plugin are needed: the
generated structs decode and encode through the hand-written wire format in ProtobufWire.swift.

    /work/venv/bin/python Utilities/ONNX/generate_onnx_swift.py \
        > Sources/WinnowFormats/Protobuf/ONNXProto.generated.swift

Only the messages Winnow reads or writes are generated (MESSAGES below); fields whose message
type is not generated (training info, sharding, sparse and non-tensor types) are skipped on
decode like unknown fields and not written on encode.
"""
import re
import sys

import onnx
from onnx import onnx_ml_pb2

MESSAGES = [
    "ModelProto", "GraphProto", "NodeProto", "AttributeProto", "TensorProto", "TensorProto.Segment",
    "ValueInfoProto", "TypeProto", "TypeProto.Tensor", "TensorShapeProto", "TensorShapeProto.Dimension",
    "OperatorSetIdProto", "StringStringEntryProto", "FunctionProto",
]
ENUMS = ["TensorProto.DataType", "TensorProto.DataLocation", "AttributeProto.AttributeType"]

# descriptor type -> (Swift type, reader method, writer method, default, wire kind)
SCALARS = {
    1: ("Double", "readDouble", "writeDouble", "0", "fixed64"),
    2: ("Float", "readFloat", "writeFloat", "0", "fixed32"),
    3: ("Int64", "readInt64", "writeInt64", "0", "varint"),
    4: ("UInt64", "readUInt64", "writeUInt64", "0", "varint"),
    5: ("Int32", "readInt32", "writeInt32", "0", "varint"),
    8: ("Bool", "readBool", "writeBool", "false", "varint"),
    9: ("String", "readString", "writeString", '""', "len"),
    12: ("[UInt8]", "readBytes", "writeBytes", "[]", "len"),
    14: ("Int32", "readInt32", "writeInt32", "0", "varint"),  # enums stay raw: unknown values survive
}
MESSAGE_TYPE = 11


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def swift_name(full_name):
    return full_name.removeprefix("onnx.")


def case_name(name):
    words = name.lower().split("_")
    result = words[0] + "".join(w.capitalize() for w in words[1:])
    return "`%s`" % result if result in {"default", "string", "float", "double", "bool"} else result


def descriptor(path):
    parts = path.split(".")
    d = onnx_ml_pb2.DESCRIPTOR.message_types_by_name[parts[0]]
    for part in parts[1:]:
        d = d.nested_types_by_name[part]
    return d


def field_lines(d):
    """Stored properties, decode cases and encode statements for one message."""
    stored, decode, encode = [], [], []
    for f in sorted(d.fields, key=lambda f: f.number):
        name = camel(f.name)
        in_oneof = f.containing_oneof is not None
        if f.type == MESSAGE_TYPE:
            target = swift_name(f.message_type.full_name)
            if target not in MESSAGES:
                continue
            if f.is_repeated:
                stored.append("  public var %s: [%s] = []" % (name, target))
                decode.append("      case %d: %s.append(try reader.readMessage(wire, as: %s.self))" % (f.number, name, target))
                encode.append("    for value in %s { writer.writeMessage(%d, value) }" % (name, f.number))
            else:
                # Boxed: messages nest recursively (graph -> node -> attribute -> graph).
                stored.append("  public var %s: %s? {\n    get { _%s?.value }\n    set { _%s = newValue.map(ProtoBox.init) }\n  }" % (name, target, name, name))
                stored.append("  private var _%s: ProtoBox<%s>?" % (name, target))
                decode.append("      case %d: %s = try reader.readMessage(wire, as: %s.self)" % (f.number, name, target))
                encode.append("    if let %s { writer.writeMessage(%d, %s) }" % (name, f.number, name))
            continue
        swift_type, read, write, default, kind = SCALARS[f.type]
        if f.is_repeated:
            stored.append("  public var %s: [%s] = []" % (name, swift_type))
            if kind == "len":
                decode.append("      case %d: %s.append(try reader.%s(wire))" % (f.number, name, read))
                encode.append("    for value in %s { writer.%s(%d, value) }" % (name, write, f.number))
            else:
                element = {"varint": ".varint", "fixed32": ".fixed32", "fixed64": ".fixed64"}[kind]
                decode.append("      case %d: try reader.readRepeated(wire, into: &%s, element: %s) { r, w throws(ProtobufError) in try r.%s(w) }"
                              % (f.number, name, element, read))
                if f.is_packed:
                    bare = "writeVarintValue" if kind == "varint" else "writeFixedValue"
                    encode.append("    writer.writePacked(%d, %s) { $0.%s($1) }" % (f.number, name, bare))
                else:
                    encode.append("    for value in %s { writer.%s(%d, value) }" % (name, write, f.number))
        elif in_oneof:
            stored.append("  public var %s: %s?" % (name, swift_type))
            decode.append("      case %d: %s = try reader.%s(wire)" % (f.number, name, read))
            encode.append("    if let %s { writer.%s(%d, %s) }" % (name, write, f.number, name))
        else:
            stored.append("  public var %s: %s = %s" % (name, swift_type, default))
            decode.append("      case %d: %s = try reader.%s(wire)" % (f.number, name, read))
            encode.append("    if %s != %s { writer.%s(%d, %s) }" % (name, default, write, f.number, name))
    return stored, decode, encode


def emit_message(path, out):
    d = descriptor(path)
    stored, decode, encode = field_lines(d)
    name = path.split(".")[-1]
    out.append("/// `onnx.%s` (%d of its fields; the others are skipped when read)." % (path, len(decode)))
    out.append("public struct %s: ProtoMessage, Sendable, Equatable {" % name)
    out.extend(stored)
    out.append("")
    out.append("  public init() {}")
    out.append("")
    out.append("  public init(decoding reader: inout ProtoReader) throws(ProtobufError) {")
    out.append("    while let (field, wire) = try reader.nextTag() {")
    out.append("      switch field {")
    out.extend(decode)
    out.append("      default: try reader.skip(wire)")
    out.append("      }")
    out.append("    }")
    out.append("  }")
    out.append("")
    out.append("  public func encode(to writer: inout ProtoWriter) {")
    out.extend(encode)
    out.append("  }")
    out.append("}")
    out.append("")


def emit_enum(path, out):
    owner, enum_name = path.rsplit(".", 1)
    d = descriptor(owner).enum_types_by_name[enum_name]
    out.append("extension %s {" % owner)
    out.append("  /// `onnx.%s`; fields keep the raw `Int32` so unknown values survive a round trip." % path)
    out.append("  public enum %s: Int32, Sendable, CaseIterable {" % enum_name)
    for value in d.values:
        out.append("    case %s = %d" % (case_name(value.name), value.number))
    out.append("  }")
    out.append("}")
    out.append("")


def main():
    out = [
        "// GENERATED FILE: do not edit. Made from onnx==%s (onnx.onnx_ml_pb2) by" % onnx.__version__,
        "//   /work/venv/bin/python Utilities/ONNX/generate_onnx_swift.py > Sources/WinnowFormats/Protobuf/ONNXProto.generated.swift",
        "// swiftlint:disable all",
        "",
    ]
    nested = {}
    for path in MESSAGES:
        if "." in path:
            nested.setdefault(path.split(".")[0], []).append(path)
    for path in MESSAGES:
        if "." in path:
            continue
        emit_message(path, out)
        for child in nested.get(path, []):
            body = []
            emit_message(child, body)
            out.append("extension %s {" % path)
            out.extend("  " + line if line else line for line in body[:-1])
            out.append("}")
            out.append("")
    for path in ENUMS:
        emit_enum(path, out)
    sys.stdout.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
