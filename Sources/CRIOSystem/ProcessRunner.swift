import Foundation
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
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let stdout = Pipe()
    let stderr = Pipe()
    let stdin = input == nil ? nil : Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin ?? FileHandle.nullDevice
    let exit = ExitSignal()
    process.terminationHandler = { _ in exit.signal() }
    do {
      try process.run()
    } catch {
      throw Failure.cannotStart(path: path, reason: error.localizedDescription)
    }
    if let input, let stdin {
      let writer = stdin.fileHandleForWriting
      try? writer.write(contentsOf: input)
      try? writer.close()
    }
    // Blocking reads run on Dispatch threads, never on the cooperative pool.
    let outReader = Task { await BlockingRead.toEnd(stdout.fileHandleForReading) }
    let errReader = Task { await BlockingRead.toEnd(stderr.fileHandleForReading) }
    let pid = process.processIdentifier
    let watchdog = Task {
      try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
      onTimeout?()
      kill(pid, SIGKILL)
    }
    await withTaskCancellationHandler {
      await exit.wait()
    } onCancel: {
      if killOnCancel {
        onTimeout?()
        kill(pid, SIGKILL)
      }
    }
    watchdog.cancel()
    let out = await outReader.value
    let err = await errReader.value
    // Closed explicitly: left to deallocation, the read ends leaked (one
    // descriptor per run, until the daemon ran out).
    try? stdout.fileHandleForReading.close()
    try? stderr.fileHandleForReading.close()
    // The watchdog's sleep only completes (rather than being cancelled) when it fired.
    if case .success = await watchdog.result {
      throw Failure.timedOut(path: path, seconds: timeout)
    }
    return Result(exitCode: process.terminationStatus, stdout: out, stderr: err)
  }
}

/// Resumes one waiter when a child exits, whether the exit comes before or
/// after the wait starts. Deliberately blind to cancellation.
final class ExitSignal: Sendable {
  private let state = Mutex<(exited: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

  func signal() {
    let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
      state.exited = true
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume()
  }

  func wait() async {
    await withCheckedContinuation { continuation in
      let resumeNow = state.withLock { state -> Bool in
        if state.exited { return true }
        state.waiter = continuation
        return false
      }
      if resumeNow { continuation.resume() }
    }
  }
}
