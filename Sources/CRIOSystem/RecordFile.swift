import Foundation
import Glibc

/// Small state files (records, journal entries) replaced so that a crash
/// leaves the old file or the new one, and at most `<path>.tmp` beside it:
/// the data goes to `<path>.tmp` with plain system calls, which is then
/// renamed over `path`. (Foundation's atomic writes make hidden temporary
/// files of their own, `.dat.nosync*`, which a process killed mid-write
/// leaves behind.) Loaders remove the leftovers (`removeLeftovers(in:)`).
public enum RecordFile {
  public struct WriteError: Error, CustomStringConvertible {
    public let description: String
  }

  public static func write(_ data: Data, to path: String) throws(WriteError) {
    let temp = path + ".tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw WriteError(description: "cannot write \(temp): \(String(cString: strerror(errno)))") }
    let written = data.withUnsafeBytes { bytes -> Int in
      var offset = 0
      while offset < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return -1 }
        offset += n
      }
      return offset
    }
    let writeErrno = errno
    close(fd)
    guard written == data.count else {
      unlink(temp)
      throw WriteError(description: "cannot write \(temp): \(String(cString: strerror(writeErrno)))")
    }
    guard rename(temp, path) == 0 else {
      let err = errno
      unlink(temp)
      throw WriteError(description: "cannot rename \(temp) to \(path): \(String(cString: strerror(err)))")
    }
  }

  /// Removes what interrupted writes left in `directory`: `*.tmp` files, and
  /// Foundation's `.dat.nosync*` files from versions that used its writes.
  public static func removeLeftovers(in directory: String) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    where name.hasSuffix(".tmp") || name.hasPrefix(".dat.nosync") {
      unlink("\(directory)/\(name)")
    }
  }
}
