import CCRIOSys
import CRIOSystem
import Foundation
import Glibc
import OCI
import Synchronization

/// A process started in a running container for a streaming exec: the OCI
/// runtime's `exec` in the foreground, under a pseudo-terminal of crio's
/// when a tty is asked for (the runtime resizes its own terminal from it),
/// with pipes otherwise.
public struct ExecProcess: Sendable {
  /// The runtime process (its exit code is the exec'd process's).
  public let pid: pid_t
  /// With a tty: the terminal master (read output, write input).
  public let terminal: Int32?
  /// Without a tty: the write end of stdin, the read ends of stdout/stderr
  /// (nil where the request did not ask for the stream).
  public let stdin: Int32?
  public let stdout: Int32?
  public let stderr: Int32?
  let pidFile: String
  let processFile: String
  /// Set once the runtime process is reaped (its pid may be reused after).
  private let reaped = Reaped()

  private final class Reaped: Sendable {
    let done = Mutex(false)
  }

  init(
    pid: pid_t, terminal: Int32?, stdin: Int32?, stdout: Int32?, stderr: Int32?, pidFile: String, processFile: String
  ) {
    self.pid = pid
    self.terminal = terminal
    self.stdin = stdin
    self.stdout = stdout
    self.stderr = stderr
    self.pidFile = pidFile
    self.processFile = processFile
  }

  /// Waits for the exec to end and returns its exit code (128 + signal when
  /// killed), then removes its files.
  public func wait() async -> Int32 {
    let status = await ProcessSpawner.wait(pid)
    reaped.done.withLock { $0 = true }
    unlink(processFile)
    unlink(pidFile)
    if status & 0x7f == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
  }

  /// Resizes the terminal (a no-op without one).
  public func resize(width: UInt16, height: UInt16) {
    guard let terminal else { return }
    try? Pseudoterminal.resize(terminal, width: width, height: height)
  }

  /// Kills the exec'd process: the client is gone. The runtime process is
  /// left a moment to reap it and exit (killing it first would orphan the
  /// process, and an init that does not reap keeps it as a zombie), then
  /// killed too if it is still there. The runtime writes the pid file just
  /// after starting the process: it is waited for (up to 5 s on a loaded host).
  public func kill() {
    let (runtimePID, reaped, pidFile) = (pid, reaped, pidFile)
    DispatchQueue.global().async {
      func execPID() -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let value = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0
        else { return nil }
        return value
      }
      var target = execPID()
      for _ in 0..<100 where target == nil && !reaped.done.withLock({ $0 }) {
        usleep(50_000)
        target = execPID()
      }
      if let target { Glibc.kill(target, SIGKILL) }
      for _ in 0..<20 where !reaped.done.withLock({ $0 }) { usleep(50_000) }
      reaped.done.withLock { done in if !done { _ = Glibc.kill(runtimePID, SIGKILL) } }
    }
  }

}

/// Where to attach to a running container: conmon's attach socket and
/// control fifo, both in the container's bundle.
public struct AttachEndpoint: Sendable {
  public let containerID: String
  public let directory: String
  public let socketName: String
  public let controlFifo: String
  public let tty: Bool
  public let stdin: Bool
  /// The container's stdin closes when the first client's stdin ends.
  public let stdinOnce: Bool

  /// Asks conmon to resize the container's terminal.
  public func resize(width: UInt16, height: UInt16) {
    let fd = open(controlFifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let line = Array("1 \(height) \(width)\n".utf8)
    _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  }
}

extension ContainerManager {
  /// Starts `command` in the running container for a streaming client.
  public func startExec(
    _ idOrPrefix: String, command: [String], tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool
  ) throws -> ExecProcess {
    guard let record = try find(idOrPrefix) else { throw ContainerError.notFound(idOrPrefix) }
    guard record.state == .running else {
      throw ContainerError.failedPrecondition("container \(record.id) is not running")
    }
    guard !command.isEmpty else { throw ContainerError.invalid("Exec needs a command") }
    let handler = try runtimeHandler(handlerName(record))
    let specData = try Data(contentsOf: URL(fileURLWithPath: "\(record.bundle)/config.json"))
    var process = try JSONDecoder().decode(RuntimeSpec.self, from: specData).process
    process.args = command
    process.terminal = tty
    let execID = UUID().uuidString.prefix(8)
    let processFile = "\(record.bundle)/exec-\(execID).json"
    let pidFile = "\(record.bundle)/exec-\(execID).pid"
    try JSONEncoder().encode(process).write(to: URL(fileURLWithPath: processFile))
    let argv = [handler.path, "--root", handler.root, "exec", "--process", processFile, "--pid-file", pidFile, record.id]
    let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    var opened: [Int32] = []
    func closeAll() { opened.forEach { close($0) } }
    do {
      if tty {
        let pty = try Pseudoterminal.open()
        opened += [pty.master, pty.slave]
        let pid = try ProcessSpawner.spawn(
          argv, environment: environment, stdin: pty.slave, stdout: pty.slave, stderr: pty.slave,
          controllingTerminal: true)
        close(pty.slave)
        return ExecProcess(
          pid: pid, terminal: pty.master, stdin: nil, stdout: nil, stderr: nil, pidFile: pidFile,
          processFile: processFile)
      }
      let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
      guard devNull >= 0 else { throw SystemCallError("open /dev/null", code: errno) }
      opened.append(devNull)
      func pipePair() throws -> (read: Int32, write: Int32) {
        var fds: (Int32, Int32) = (-1, -1)
        let rc = withUnsafeMutableBytes(of: &fds) { crio_pipe_cloexec($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
        guard rc == 0 else { throw SystemCallError("pipe", code: -rc) }
        opened += [fds.0, fds.1]
        return (fds.0, fds.1)
      }
      let inPipe = stdin ? try pipePair() : nil
      let outPipe = stdout ? try pipePair() : nil
      let errPipe = stderr ? try pipePair() : nil
      let pid = try ProcessSpawner.spawn(
        argv, environment: environment, stdin: inPipe?.read ?? devNull, stdout: outPipe?.write ?? devNull,
        stderr: errPipe?.write ?? devNull, controllingTerminal: false)
      for fd in [devNull, inPipe?.read, outPipe?.write, errPipe?.write].compactMap({ $0 }) { close(fd) }
      return ExecProcess(
        pid: pid, terminal: nil, stdin: inPipe?.write, stdout: outPipe?.read, stderr: errPipe?.read,
        pidFile: pidFile, processFile: processFile)
    } catch {
      closeAll()
      unlink(processFile)
      throw error
    }
  }

  /// conmon's attach socket and control fifo for a running container.
  public func attachEndpoint(_ idOrPrefix: String) throws -> AttachEndpoint {
    guard let record = try find(idOrPrefix) else { throw ContainerError.notFound(idOrPrefix) }
    guard record.state == .running else {
      throw ContainerError.failedPrecondition("container \(record.id) is not running")
    }
    return AttachEndpoint(
      containerID: record.id, directory: record.bundle, socketName: "attach", controlFifo: "\(record.bundle)/ctl",
      tty: record.spec.tty, stdin: record.spec.stdin, stdinOnce: record.spec.stdinOnce ?? false)
  }
}

extension SandboxManager {
  /// The pinned network namespace port-forward connects from; nil for a
  /// host-network pod.
  public func portForwardNamespace(_ idOrPrefix: String) throws -> String? {
    guard let record = try find(idOrPrefix) else { throw SandboxError.notFound(idOrPrefix) }
    guard record.state == .ready else { throw ContainerError.sandboxNotReady(record.id) }
    return record.pins.network
  }
}
