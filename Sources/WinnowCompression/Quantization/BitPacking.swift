/// Packs small signed integer codes (2 or 4 bits, or 8) into bytes, low bits first, each row
/// starting on a byte boundary (so a kernel can address row `r` at `r · bytesPerRow`).
///
/// Two's complement in `bits` bits; code `i` of a row goes to byte `i / (8/bits)` at shift
/// `(i mod (8/bits)) · bits`. Worked example, 4 bits, one row `[1, −2, 7, −8, 3]`:
///
///     byte 0 = 0xE1   (low nibble 0x1 = 1, high nibble 0xE = −2)
///     byte 1 = 0x87   (0x7 = 7, 0x8 = −8)
///     byte 2 = 0x03   (0x3 = 3, high nibble padding 0)
///
/// 2 bits holds −2…1 (symmetric 2-bit codes use −1…1).
public enum BitPacking {
  /// Bytes for one row of `rowLength` codes.
  public static func bytesPerRow(_ rowLength: Int, bits: Int) -> Int {
    (rowLength * bits + 7) / 8
  }

  /// Packs `codes` (rows of `rowLength`; `codes.count` a multiple of it). Codes must fit in
  /// `bits` as two's complement; `bits` must be 2, 4 or 8.
  public static func pack(_ codes: [Int8], bits: Int, rowLength: Int) -> [UInt8] {
    precondition([2, 4, 8].contains(bits), "pack supports 2, 4 or 8 bits, got \(bits)")
    precondition(rowLength > 0 && codes.count % rowLength == 0, "\(codes.count) codes do not form rows of \(rowLength)")
    let lowest = -(1 << (bits - 1)), highest = (1 << (bits - 1)) - 1
    let perByte = 8 / bits, rowBytes = bytesPerRow(rowLength, bits: bits), mask = UInt8((1 << bits) - 1)
    var out = [UInt8](repeating: 0, count: codes.count / rowLength * rowBytes)
    for row in 0..<(codes.count / rowLength) {
      for i in 0..<rowLength {
        let code = codes[row * rowLength + i]
        precondition(Int(code) >= lowest && Int(code) <= highest, "code \(code) does not fit in \(bits) bits")
        let field = UInt8(bitPattern: code) & mask
        out[row * rowBytes + i / perByte] |= field << UInt8((i % perByte) * bits)
      }
    }
    return out
  }

  /// The inverse of ``pack(_:bits:rowLength:)``: `rows × rowLength` codes, sign-extended.
  public static func unpack(_ bytes: [UInt8], bits: Int, rowLength: Int, rows: Int) -> [Int8] {
    precondition([2, 4, 8].contains(bits), "unpack supports 2, 4 or 8 bits, got \(bits)")
    let perByte = 8 / bits, rowBytes = bytesPerRow(rowLength, bits: bits), mask = (1 << bits) - 1
    precondition(bytes.count == rows * rowBytes, "\(bytes.count) bytes for \(rows) rows of \(rowBytes)")
    var out = [Int8](repeating: 0, count: rows * rowLength)
    for row in 0..<rows {
      for i in 0..<rowLength {
        let field = Int(bytes[row * rowBytes + i / perByte] >> UInt8((i % perByte) * bits)) & mask
        out[row * rowLength + i] = Int8(field >= 1 << (bits - 1) ? field - (1 << bits) : field)
      }
    }
    return out
  }
}
