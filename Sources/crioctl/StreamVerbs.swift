import ArgumentParser
import CCRIOSys
import CRIAPI
import CRIClient
@preconcurrency import Dispatch
import Foundation
import Glibc
import NIOCore

struct ExecVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "exec",
    abstract: "Run a command in a running container (streaming; --sync uses ExecSync).")
  @ParentCommand var root: Crioctl
  @Flag(name: [.customShort("s"), .customLong("sync")], help: "Run through ExecSync instead of streaming.")
  var sync = false
  @Flag(name: [.customShort("i"), .customLong("interactive")], help: "Keep stdin open and send it.")
  var interactive = false
  @Flag(name: [.customShort("t"), .customLong("tty")], help: "Allocate a terminal.") var tty = false
  @Option(help: "Streaming transport: spdy or websocket.") var transport: StreamTransport = .spdy
  @Option(help: "With --sync: seconds before the command is killed (0: none).") var timeout: Int64 = 0
  @Argument(help: "Container ID.") var id: String
  @Argument(parsing: .captureForPassthrough, help: "The command.") var command: [String]

  func run() async throws {
    let cmd = command.first == "--" ? Array(command.dropFirst()) : command
    let global = root.global
    if sync {
      var request = Runtime_V1_ExecSyncRequest()
      request.containerID = id
      request.cmd = cmd
      request.timeout = timeout
      let response = try await global.call(try global.runtime(), minimumTimeout: timeout > 0 ? Double(timeout) + 5 : 3600) {
        try await $0.runtime.execSync(request, options: $0.options)
      }
      FileHandle.standardOutput.write(response.stdout)
      FileHandle.standardError.write(response.stderr)
      if response.exitCode != 0 { throw ExitCode(response.exitCode) }
      return
    }
    var request = Runtime_V1_ExecRequest()
    request.containerID = id
    request.cmd = cmd
    request.tty = tty
    request.stdin = interactive
    request.stdout = true
    request.stderr = !tty
    let response = try await global.call(try global.runtime()) { try await $0.runtime.exec(request, options: $0.options) }
    let code = try await LocalStreams.run(url: response.url, transport: transport, stdin: interactive, tty: tty)
    if code != 0 { throw ExitCode(code) }
  }
}

struct AttachVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attach", abstract: "Attach to a running container's stdio.")
  @ParentCommand var root: Crioctl
  @Flag(name: [.customShort("i"), .customLong("stdin")], help: "Send stdin.") var interactive = false
  @Flag(name: [.customShort("t"), .customLong("tty")], help: "The container has a terminal.") var tty = false
  @Option(help: "Streaming transport: spdy or websocket.") var transport: StreamTransport = .spdy
  @Argument(help: "Container ID.") var id: String

  func run() async throws {
    var request = Runtime_V1_AttachRequest()
    request.containerID = id
    request.stdin = interactive
    request.stdout = true
    request.stderr = !tty
    request.tty = tty
    let global = root.global
    let response = try await global.call(try global.runtime()) { try await $0.runtime.attach(request, options: $0.options) }
    let code = try await LocalStreams.run(url: response.url, transport: transport, stdin: interactive, tty: tty)
    if code != 0 { throw ExitCode(code) }
  }
}

struct PortForwardVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "port-forward", abstract: "Forward a local port to a port inside a pod.")
  @ParentCommand var root: Crioctl
  @Option(help: "Streaming transport: spdy or websocket.") var transport: StreamTransport = .spdy
  @Option(help: "Local address to listen on.") var address = "127.0.0.1"
  @Argument(help: "Pod sandbox ID.") var id: String
  @Argument(help: "[LOCAL_PORT:]REMOTE_PORT (LOCAL_PORT 0 or empty: any free port).") var ports: String

  func run() async throws {
    let parts = ports.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count <= 2, let remote = Int32(parts.last ?? ""), (1...65535).contains(remote),
          let local = parts.count == 2 ? (parts[0].isEmpty ? 0 : Int(parts[0])) : Int(remote)
    else { throw ValidationError("ports must be [LOCAL:]REMOTE, got \(ports)") }
    var request = Runtime_V1_PortForwardRequest()
    request.podSandboxID = id
    request.port = [remote]
    let global = root.global
    let response = try await global.call(try global.runtime()) { try await $0.runtime.portForward(request, options: $0.options) }
    let host = address
    try await PortForwardClient.run(
      url: response.url, transport: transport, localHost: address, localPort: local, remotePort: remote,
      ready: { port in
        FileHandle.standardOutput.write(Data("Forwarding from \(host):\(port) -> \(remote)\n".utf8))
      },
      onError: { message in FileHandle.standardError.write(Data("crioctl: port-forward: \(message)\n".utf8)) })
  }
}

extension StreamTransport: ExpressibleByArgument {}

/// This process's stdio as the local end of an exec or attach.
enum LocalStreams {
  static func run(url: String, transport: StreamTransport, stdin: Bool, tty: Bool) async throws -> Int32 {
    let terminal = tty && isatty(0) == 1 ? RawTerminal(fd: 0) : nil
    defer { terminal?.restore() }
    let io = RemoteCommandIO(
      stdin: stdin ? readStdin() : nil,
      stdout: { @Sendable chunk in FileHandle.standardOutput.write(Data(chunk.readableBytesView)) },
      stderr: tty ? nil : { @Sendable chunk in FileHandle.standardError.write(Data(chunk.readableBytesView)) },
      resize: tty ? terminalSizes() : nil, tty: tty)
    do {
      return try await RemoteCommandClient.run(url: url, transport: transport, io: io)
    } catch let error as StreamClientError {
      terminal?.restore()
      FileHandle.standardError.write(Data("crioctl: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }

  /// Standard input, read on a thread of its own.
  static func readStdin() -> AsyncStream<ByteBuffer> {
    AsyncStream { continuation in
      Thread.detachNewThread {
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
          let n = read(0, &buffer, buffer.count)
          if n < 0 && errno == EINTR { continue }
          if n <= 0 { break }
          continuation.yield(ByteBuffer(bytes: buffer[0..<n]))
        }
        continuation.finish()
      }
    }
  }

  /// The local terminal's size now and after every SIGWINCH.
  static func terminalSizes() -> AsyncStream<StreamTerminalSize> {
    AsyncStream { continuation in
      func current() -> StreamTerminalSize? {
        var rows: UInt16 = 0
        var cols: UInt16 = 0
        guard crio_get_winsize(1, &rows, &cols) == 0 || crio_get_winsize(0, &rows, &cols) == 0 else { return nil }
        return StreamTerminalSize(width: cols, height: rows)
      }
      if let size = current() { continuation.yield(size) }
      signal(SIGWINCH, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: SIGWINCH)
      source.setEventHandler { if let size = current() { continuation.yield(size) } }
      source.resume()
      continuation.onTermination = { _ in source.cancel() }
    }
  }
}

/// The local terminal in raw mode for the session, restored afterwards.
final class RawTerminal: @unchecked Sendable {
  private let fd: Int32
  private var saved = termios()
  private var active = false

  init?(fd: Int32) {
    self.fd = fd
    guard tcgetattr(fd, &saved) == 0 else { return nil }
    var raw = saved
    cfmakeraw(&raw)
    guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
    active = true
  }

  func restore() {
    guard active else { return }
    active = false
    tcsetattr(fd, TCSANOW, &saved)
  }
}
