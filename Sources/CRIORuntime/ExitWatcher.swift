import Foundation
import Glibc

/// Watches conmon's exit directory with inotify, so a container's exit is
/// known when it happens, not when someone next asks for its status. conmon
/// writes `<exit dir>/<id>` through a temporary file and a rename (GLib's
/// `g_file_set_contents`), so a finished file arrives as IN_MOVED_TO; a
/// direct write shows as IN_CLOSE_WRITE.
///
/// The blocking `poll`/`read` loop runs on a thread of its own, never on
/// the Swift concurrency pool. Names are reported as they come (temporary
/// files included): the consumer ignores what is not a container it knows.
public final class ExitWatcher: @unchecked Sendable {
  public let directory: String
  private let onExit: @Sendable (String) -> Void
  private let onOverflow: @Sendable () -> Void
  private let lock = NSLock()
  private var inotifyFD: Int32 = -1
  private var wakeRead: Int32 = -1
  private var wakeWrite: Int32 = -1
  private var thread: Thread?
  private let finished = DispatchSemaphore(value: 0)

  public struct WatchError: Error, CustomStringConvertible {
    public let description: String
  }

  /// `onExit` gets the name of each file that appears; `onOverflow` is
  /// called when the kernel's queue overflowed and names were lost (the
  /// consumer then checks every running container).
  public init(
    directory: String, onExit: @escaping @Sendable (String) -> Void, onOverflow: @escaping @Sendable () -> Void
  ) {
    self.directory = directory
    self.onExit = onExit
    self.onOverflow = onOverflow
  }

  deinit { stop() }

  public func start() throws {
    let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
    guard fd >= 0 else { throw WatchError(description: "inotify_init1: \(String(cString: strerror(errno)))") }
    guard inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 else {
      let message = String(cString: strerror(errno))
      close(fd)
      throw WatchError(description: "cannot watch \(directory): \(message)")
    }
    var pipeFDs: [Int32] = [-1, -1]
    guard pipe(&pipeFDs) == 0 else {
      close(fd)
      throw WatchError(description: "pipe: \(String(cString: strerror(errno)))")
    }
    for end in pipeFDs {
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
      _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
    }
    let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
    lock.withLock {
      inotifyFD = fd
      wakeRead = readEnd
      wakeWrite = writeEnd
    }
    let thread = Thread { [self] in
      loop(fd: fd, wake: readEnd)
      finished.signal()
    }
    thread.name = "crio-exit-watcher"
    lock.withLock { self.thread = thread }
    thread.start()
  }

  /// Stops the thread and closes the descriptors. Idempotent.
  public func stop() {
    let (running, write) = lock.withLock { () -> (Bool, Int32) in
      let running = thread != nil
      thread = nil
      return (running, wakeWrite)
    }
    guard running else { return }
    var byte: UInt8 = 1
    _ = Glibc.write(write, &byte, 1)
    finished.wait()
    lock.withLock {
      for fd in [inotifyFD, wakeRead, wakeWrite] where fd >= 0 { close(fd) }
      inotifyFD = -1
      wakeRead = -1
      wakeWrite = -1
    }
  }

  private func loop(fd: Int32, wake: Int32) {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
      let ready = poll(&fds, 2, -1)
      if ready < 0 {
        if errno == EINTR { continue }
        return
      }
      if fds[1].revents != 0 { return }
      guard fds[0].revents != 0 else { continue }
      let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      guard count > 0 else { continue }
      let (names, overflowed) = Self.parse(buffer[0..<count])
      if overflowed { onOverflow() }
      for name in names { onExit(name) }
    }
  }

  /// Splits a read of inotify events (`struct inotify_event`: wd, mask,
  /// cookie, len, then `len` bytes of NUL-padded name) into file names.
  static func parse(_ bytes: ArraySlice<UInt8>) -> (names: [String], overflowed: Bool) {
    var names: [String] = []
    var overflowed = false
    var offset = bytes.startIndex
    let header = 16
    // Host byte order, as the kernel writes it.
    func word(_ at: Int) -> UInt32 {
      bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at - bytes.startIndex, as: UInt32.self) }
    }
    while offset + header <= bytes.endIndex {
      let mask = word(offset + 4)
      let length = Int(word(offset + 12))
      let nameStart = offset + header
      let nameEnd = min(nameStart + length, bytes.endIndex)
      if mask & UInt32(IN_Q_OVERFLOW) != 0 { overflowed = true }
      let raw = bytes[nameStart..<nameEnd].prefix { $0 != 0 }
      if !raw.isEmpty { names.append(String(decoding: raw, as: UTF8.self)) }
      offset = nameStart + length
    }
    return (names, overflowed)
  }
}
