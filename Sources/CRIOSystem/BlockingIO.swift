import CCRIOSys
import Dispatch
import Foundation
import Glibc

/// Blocking reads and writes of raw descriptors, run on Dispatch threads:
/// a blocking call on one of the (few, one per core) cooperative threads
/// would stall every task.
public enum BlockingIO {
  /// Reads `fd` to its end (the writer closed its side), then closes it.
  public static func readToEnd(_ fd: Int32) async -> Data {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
          let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
          if n < 0 && errno == EINTR { continue }
          if n <= 0 { break }
          data.append(contentsOf: buffer[0..<n])
        }
        close(fd)
        continuation.resume(returning: data)
      }
    }
  }

  /// Writes `data` to `fd` and closes it, in the background. A reader that
  /// is gone is not an error (and raises no SIGPIPE).
  public static func writeAll(_ data: Data, to fd: Int32) {
    DispatchQueue.global().async {
      data.withUnsafeBytes { bytes in
        _ = crio_write_all_nosigpipe(fd, bytes.baseAddress, UInt(bytes.count))
      }
      close(fd)
    }
  }
}
