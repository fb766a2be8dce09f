import CRIOSystem
import Foundation
import Glibc
import Synchronization

/// Runs `runc exec` for ExecSync with a deadline. On the deadline (or when
/// the caller gives up) the exec'd process is killed and `runc exec` is
/// left to reap it and exit by itself; only if it does not within a grace
/// period is it killed too. Killing `runc exec` first would orphan the
/// exec'd process: reparented to the host's init, which on some hosts never
/// reaps, it stays a zombie that `pgrep` in the container still finds.
enum ExecSyncRunner {
  static let grace: Duration = .seconds(5)

  static func run(runtime: String, arguments: [String], pidFile: String, timeout: Int64) async throws
    -> ProcessRunner.Result
  {
    let expired = Flag()
    let finished = Flag()
    let running = Task {
      defer { finished.set() }
      // runc exec cannot forward SIGKILL: the last resort kills it after the grace period.
      return try await ProcessRunner.run(
        runtime, arguments, timeout: Double(Int32.max), killOnCancel: true, onTimeout: { killExecd(pidFile) })
    }
    let watchdog = Task {
      if timeout > 0 {
        try await Task.sleep(for: .seconds(timeout))
        expired.set()
      } else {
        // Only a cancelled caller ends an exec without a timeout.
        try await Task.sleep(for: .seconds(Int64(Int32.max)))
      }
      try await stop(running, finished: finished, pidFile: pidFile)
    }
    let result: ProcessRunner.Result
    do {
      result = try await withTaskCancellationHandler {
        try await running.value
      } onCancel: {
        watchdog.cancel()
        Task { try? await stop(running, finished: finished, pidFile: pidFile) }
      }
    } catch {
      watchdog.cancel()
      throw ContainerError.runtimeFailed("cannot run \(runtime) exec: \(error)")
    }
    watchdog.cancel()
    if expired.isSet {
      throw ContainerError.timedOut("command timed out after \(timeout)s")
    }
    return result
  }

  /// Kills the exec'd process (again, until it is gone: the pid file may
  /// come late), then `runc exec` if it outlives the grace period.
  private static func stop(
    _ running: Task<ProcessRunner.Result, any Error>, finished: Flag, pidFile: String
  ) async throws {
    let deadline = ContinuousClock.now + grace
    while ContinuousClock.now < deadline && !finished.isSet {
      killExecd(pidFile)
      try? await Task.sleep(for: .milliseconds(20))
    }
    if !finished.isSet { running.cancel() }
  }

  static func killExecd(_ pidFile: String) {
    guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
          let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
    else { return }
    kill(pid, SIGKILL)
  }
}

/// A one-way switch shared between tasks.
final class Flag: Sendable {
  private let value = Mutex(false)

  func set() { value.withLock { $0 = true } }
  var isSet: Bool { value.withLock { $0 } }
}
