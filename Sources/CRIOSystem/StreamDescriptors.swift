import CCRIOSys
import Foundation
import Glibc

/// A failed system call, with the errno text.
public struct SystemCallError: Error, CustomStringConvertible, Equatable {
  public let operation: String
  public let code: Int32

  public init(_ operation: String, code: Int32) {
    self.operation = operation
    self.code = code
  }

  public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// A pseudo-terminal pair (both ends close-on-exec).
public struct Pseudoterminal: Sendable {
  public let master: Int32
  public let slave: Int32

  public static func open() throws -> Pseudoterminal {
    var master: Int32 = -1
    var slave: Int32 = -1
    let rc = crio_openpty(&master, &slave)
    guard rc == 0 else { throw SystemCallError("openpty", code: -rc) }
    return Pseudoterminal(master: master, slave: slave)
  }

  /// Sets the window size; the kernel signals SIGWINCH to the terminal's
  /// foreground process group.
  public static func resize(_ fd: Int32, width: UInt16, height: UInt16) throws {
    let rc = crio_set_winsize(fd, height, width)
    guard rc == 0 else { throw SystemCallError("TIOCSWINSZ", code: -rc) }
  }
}

extension ProcessSpawner {
  /// Starts `argv[0]` in a new session with `stdin`, `stdout` and `stderr`
  /// as its descriptors 0–2 and nothing else open. With `controllingTerminal`
  /// `stdin` (a terminal slave) becomes its controlling terminal.
  public static func spawn(
    _ argv: [String], environment: [String], stdin: Int32, stdout: Int32, stderr: Int32,
    controllingTerminal: Bool
  ) throws -> pid_t {
    var cArgs = argv.map { strdup($0) } + [nil]
    var cEnv = environment.map { strdup($0) } + [nil]
    defer {
      cArgs.forEach { free($0) }
      cEnv.forEach { free($0) }
    }
    let pid = crio_spawn_stdio(argv[0], &cArgs, &cEnv, stdin, stdout, stderr, controllingTerminal ? 1 : 0)
    guard pid > 0 else { throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(-pid)))") }
    return pid
  }
}

/// Connections the streaming server hands to its clients.
public enum LocalDial {
  /// A TCP connection to localhost:`port` inside the network namespace
  /// pinned at `networkNamespace` (nil: the host's). Blocking: call it off
  /// the cooperative pool.
  public static func tcp(port: Int32, networkNamespace: String?) throws -> Int32 {
    let fd = crio_netns_connect(networkNamespace, port)
    guard fd >= 0 else { throw SystemCallError("connect to localhost:\(port)", code: -fd) }
    return fd
  }

  /// A SOCK_SEQPACKET connection to the socket `name` in `directory`.
  public static func seqpacket(directory: String, name: String) throws -> Int32 {
    let fd = crio_seqpacket_connect(directory, name)
    guard fd >= 0 else { throw SystemCallError("connect to \(directory)/\(name)", code: -fd) }
    return fd
  }
}
