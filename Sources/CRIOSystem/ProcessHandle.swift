import CCRIOSys
import Dispatch
import Glibc

/// A process that is not crio's child (a container's init), named by a
/// pidfd so that a recycled pid can never be signalled by mistake.
public final class ProcessHandle: Sendable {
  public let pid: Int32
  private let fd: Int32

  /// The process `pid` names now, if its start time (field 22 of
  /// `/proc/<pid>/stat`, in clock ticks since boot) is `startTime`: nil when
  /// it has gone, or the pid names another process. The pidfd is opened
  /// first and the start time checked after, so the handle cannot name a
  /// process that took the pid in between.
  public init?(pid: Int32, startTime: UInt64, proc: String = "/proc") {
    guard pid > 0, startTime > 0 else { return nil }
    let fd = crio_pidfd_open(pid)
    guard fd >= 0 else { return nil }
    guard Self.startTime(of: pid, proc: proc) == startTime else {
      close(fd)
      return nil
    }
    self.pid = pid
    self.fd = fd
  }

  deinit { close(fd) }

  /// Sends `signal`. False when the process has exited.
  @discardableResult
  public func signal(_ signal: Int32) -> Bool {
    crio_pidfd_send_signal(fd, signal) == 0
  }

  /// Waits (on a Dispatch thread) until the process has exited or
  /// `timeout` has passed; true when it has exited.
  public func waitForExit(timeout: Duration) async -> Bool {
    let milliseconds = max(0, Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000))
    return await withCheckedContinuation { continuation in
      DispatchQueue.global().async { [self] in
        continuation.resume(returning: crio_wait_readable(fd, Int32(clamping: milliseconds)) == 1)
      }
    }
  }

  /// The start time of `pid` (field 22 of its stat line; the command name
  /// in parentheses may itself hold spaces and parentheses, so fields are
  /// counted from the last `)`). Nil when there is no such process.
  public static func startTime(of pid: Int32, proc: String = "/proc") -> UInt64? {
    guard let file = fopen("\(proc)/\(pid)/stat", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 1024)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    return parseStartTime(String(cString: buffer))
  }

  static func parseStartTime(_ stat: String) -> UInt64? {
    guard let close = stat.lastIndex(of: ")") else { return nil }
    // After the name: field 3 (state) onwards; the start time is field 22.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 19 else { return nil }
    return UInt64(fields[19])
  }
}
