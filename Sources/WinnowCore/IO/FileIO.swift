#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The whole contents of the file at `path`.
///
/// Uses POSIX calls rather than `FileManager` so that a failure says *why* (the `errno`
/// text, e.g. "No such file or directory" or "Permission denied").
///
/// - Throws: ``FormatError/io(file:reason:)`` naming `path`.
public func readFileBytes(_ path: String) throws(FormatError) -> [UInt8] {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { throw systemError(path, "cannot open for reading") }
  defer { close(fd) }
  var info = stat()
  guard fstat(fd, &info) == 0 else { throw systemError(path, "cannot inspect") }
  if info.st_mode & S_IFMT == S_IFDIR { throw .io(file: path, reason: "is a directory, not a file") }
  // One spare byte lets the common case (size unchanged) see end-of-file without regrowing.
  var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0) + 1)
  var count = 0
  while true {
    if count == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
    let n = bytes.withUnsafeMutableBytes { buffer in
      buffer.baseAddress.map { read(fd, $0 + count, buffer.count - count) } ?? 0
    }
    if n == 0 { break }
    if n < 0 {
      if errno == EINTR { continue }
      throw systemError(path, "cannot read")
    }
    count += n
  }
  bytes.removeLast(bytes.count - count)
  return bytes
}

/// Replaces the file at `path` with `bytes` so that readers, and the file after a crash or
/// power loss, see either the old contents or the new ones, never a mix.
///
/// Writes a temporary file in the same directory (a rename is only atomic within one file
/// system), flushes it to disk with `fsync`, then `rename(2)`s it over `path`, then flushes
/// the directory so the rename itself is durable. A new file gets mode 0644; an existing
/// file keeps its mode.
///
/// - Throws: ``FormatError/io(file:reason:)`` naming `path`; the temporary file is removed.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(FormatError) {
  var template = Array((path + ".tmp-XXXXXX").utf8CString)
  let fd = template.withUnsafeMutableBufferPointer { buffer in
    buffer.baseAddress.map { mkstemp($0) } ?? -1
  }
  guard fd >= 0 else { throw systemError(path, "cannot create a temporary file next to it") }
  let temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
  var renamed = false
  defer { if !renamed { unlink(temporaryPath) } }

  var existing = stat()
  let mode: mode_t = stat(path, &existing) == 0 ? existing.st_mode & 0o7777 : 0o644
  let written = writeAll(bytes, to: fd) && fchmod(fd, mode) == 0 && fsync(fd) == 0
  let failure = written ? nil : systemError(path, "cannot write")
  if close(fd) != 0, failure == nil { throw systemError(path, "cannot finish writing") }
  if let failure { throw failure }

  guard rename(temporaryPath, path) == 0 else { throw systemError(path, "cannot replace") }
  renamed = true
  syncDirectory(containing: path)
}

/// Writes every byte, retrying short writes and interrupted calls; false on a real error.
private func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
  var offset = 0
  while offset < bytes.count {
    let n = bytes.withUnsafeBytes { buffer in
      buffer.baseAddress.map { write(fd, $0 + offset, buffer.count - offset) } ?? 0
    }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { return false }
    offset += n
  }
  return true
}

/// Flushes the directory entry of `path` after a rename. Best effort: some file systems
/// cannot `fsync` a directory, and the new contents are already in place by then.
private func syncDirectory(containing path: String) {
  let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
  let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return }
  _ = fsync(fd)
  close(fd)
}

/// An ``FormatError/io(file:reason:)`` carrying the current `errno` text.
private func systemError(_ path: String, _ action: String) -> FormatError {
  let code = errno
  return .io(file: path, reason: "\(action): \(String(cString: strerror(code)))")
}
