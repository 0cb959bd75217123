import WinnowCore

/// Typed arrays to and from the raw tensors of a packed model file (little-endian, as on
/// every platform Winnow runs on: x86-64 and arm64).
extension RawTensor {
  init<T: FixedWidthInteger>(integers values: [T], dtype: String) {
    self.init(dtype: dtype, shape: [values.count], bytes: values.withUnsafeBytes { Array($0) })
  }

  init(floats values: [Float]) {
    self.init(dtype: "F32", shape: [values.count], bytes: values.withUnsafeBytes { Array($0) })
  }

  /// The elements as `T`, after checking the dtype.
  func elements<T>(_ type: T.Type, dtype expected: String, name: String, reader r: JSONFields) throws -> [T] {
    guard dtype == expected else { throw r.error("tensor '\(name)' is \(dtype), expected \(expected)") }
    let count = bytes.count / MemoryLayout<T>.size
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
      bytes.withUnsafeBytes { raw in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * MemoryLayout<T>.size)]))
      }
      initialized = count
    }
  }
}

/// The raw tensors of one packed model file, read by name with errors that say which.
struct RawTensorReader {
  let tensors: [String: RawTensor]
  let reader: JSONFields

  func tensor(_ name: String) throws -> RawTensor {
    guard let t = tensors[name] else { throw reader.error("missing tensor '\(name)'") }
    return t
  }
  func floats(_ name: String) throws -> [Float] { try tensor(name).elements(Float.self, dtype: "F32", name: name, reader: reader) }
  func int32s(_ name: String) throws -> [Int32] { try tensor(name).elements(Int32.self, dtype: "I32", name: name, reader: reader) }
  /// Column indices stored as I16 (when every index fits) or I32.
  func indices(_ name: String) throws -> [Int32] {
    let t = try tensor(name)
    if t.dtype == "I16" { return try t.elements(Int16.self, dtype: "I16", name: name, reader: reader).map(Int32.init) }
    return try t.elements(Int32.self, dtype: "I32", name: name, reader: reader)
  }
}

/// Column indices as I16 when they all fit (halving their bytes), else I32.
func indexTensor(_ indices: [Int32], columns: Int) -> RawTensor {
  columns <= Int(Int16.max) ? RawTensor(integers: indices.map { Int16(truncatingIfNeeded: $0) }, dtype: "I16")
    : RawTensor(integers: indices, dtype: "I32")
}
