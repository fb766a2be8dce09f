import Foundation
import Glibc
import Synchronization

/// Runs a helper program (a `--version` probe, a CNI plugin, `runc exec`) to
/// completion, with a deadline, collecting what it writes.
public enum ProcessRunner {
  public struct Result: Sendable, Equatable {
    public var exitCode: Int32
    public var stdout: Data
    public var stderr: Data

    /// stdout then stderr, as text.
    public var output: String { String(decoding: stdout + stderr, as: UTF8.self) }
  }

  public enum Failure: Error, Equatable, CustomStringConvertible {
    case cannotStart(path: String, reason: String)
    case timedOut(path: String, seconds: Double)

    public var description: String {
      switch self {
      case .cannotStart(let path, let reason): "cannot run \(path): \(reason)"
      case .timedOut(let path, let seconds): "\(path) did not finish within \(seconds)s"
      }
    }
  }

  /// Runs `path` with `arguments` (and `environment`, when given, instead of
  /// crio's), writing `input` to its stdin. When it outlives `timeout`
  /// seconds, `onTimeout` runs (to kill what it started elsewhere), the
  /// child is killed, and `Failure.timedOut` is thrown. With `killOnCancel`,
  /// a cancelled caller (a client that gave up) does the same; either way
  /// the child is waited for, never abandoned.
  public static func run(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil,
    timeout: Double = 10, killOnCancel: Bool = false, onTimeout: (@Sendable () -> Void)? = nil
  ) async throws -> Result {
    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    let child: ChildProcess
    let stdout: (read: Int32, write: Int32)
    let stderr: (read: Int32, write: Int32)
    var stdinWrite: Int32 = -1
    do {
      stdout = try makePipe()
      defer { close(stdout.write) }
      do {
        stderr = try makePipe()
      } catch {
        close(stdout.read)
        throw error
      }
      defer { close(stderr.write) }
      let stdin = input == nil ? (read: open("/dev/null", O_RDONLY | O_CLOEXEC), write: Int32(-1)) : try makePipe()
      defer { close(stdin.read) }
      do {
        child = try ChildProcess(
          path: path, argv: [path] + arguments, environment: env, stdin: stdin.read, stdout: stdout.write,
          stderr: stderr.write)
      } catch {
        for fd in [stdout.read, stderr.read, stdin.write] where fd >= 0 { close(fd) }
        throw error
      }
      stdinWrite = stdin.write
    } catch {
      throw Failure.cannotStart(path: path, reason: "\(error)")
    }
    // Blocking reads and writes run on Dispatch threads, never on the cooperative pool.
    if let input, stdinWrite >= 0 { BlockingIO.writeAll(input, to: stdinWrite) }
    async let out = BlockingIO.readToEnd(stdout.read)
    async let err = BlockingIO.readToEnd(stderr.read)
    let watchdog = Task {
      try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
      onTimeout?()
      child.kill(SIGKILL)
    }
    let status = await withTaskCancellationHandler {
      await child.wait()
    } onCancel: {
      if killOnCancel {
        onTimeout?()
        child.kill(SIGKILL)
      }
    }
    watchdog.cancel()
    let (stdoutData, stderrData) = await (out, err)
    // The watchdog's sleep only completes (rather than being cancelled) when it fired.
    if case .success = await watchdog.result {
      throw Failure.timedOut(path: path, seconds: timeout)
    }
    return Result(exitCode: ChildProcess.exitCode(status), stdout: stdoutData, stderr: stderrData)
  }
}
