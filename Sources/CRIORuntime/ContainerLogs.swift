import CRIOSystem
import Foundation
import Glibc

extension ContainerManager {
  /// Asks conmon to reopen the container's log (`ReopenContainerLog`, after
  /// the kubelet renamed it): `2 0 0` on the `ctl` fifo, then waits until
  /// conmon has put a new file at the log path. crio never creates the file
  /// itself, so on an error there is no new file.
  public func reopenLog(_ idOrPrefix: String, timeout: Duration = .seconds(10)) async throws {
    guard let record = try find(idOrPrefix) else { throw ContainerError.notFound(idOrPrefix) }
    guard record.state == .running else {
      throw ContainerError.failedPrecondition("container \(record.id) is not running")
    }
    let before = FileIdentity(path: record.logPath)
    try ConmonControl.send(.reopenLog, bundle: record.bundle)
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if let now = FileIdentity(path: record.logPath), now.inode != before?.inode || now.device != before?.device {
        return
      }
      try await Task.sleep(for: .milliseconds(5))
    }
    throw ContainerError.runtimeFailed("conmon did not reopen the log of container \(record.id) at \(record.logPath)")
  }
}

/// Messages to conmon's control fifo (`<bundle>/ctl`): `<type> <height> <width>\n`.
enum ConmonControl {
  enum Message {
    case resize(width: UInt16, height: UInt16)
    case reopenLog

    var line: String {
      switch self {
      case .resize(let width, let height): "1 \(height) \(width)\n"
      case .reopenLog: "2 0 0\n"
      }
    }
  }

  /// Writes `message` without blocking: a fifo nobody reads (conmon is
  /// gone) is an error, not a hang.
  static func send(_ message: Message, bundle: String) throws {
    let path = "\(bundle)/ctl"
    let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      throw ContainerError.runtimeFailed(
        code == ENXIO ? "conmon is not running (nobody reads \(path))" : "cannot open \(path): \(String(cString: strerror(code)))")
    }
    defer { close(fd) }
    let bytes = Array(message.line.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      throw ContainerError.runtimeFailed("cannot write to \(path): \(String(cString: strerror(errno)))")
    }
  }
}
