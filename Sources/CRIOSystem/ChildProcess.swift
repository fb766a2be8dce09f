import CCRIOSys
import Dispatch
import Glibc
import Synchronization

/// A helper process crio started with its standard descriptors on pipes:
/// spawned with an empty signal mask and default signal dispositions (the
/// daemon's threads block signals and ignore SIGPIPE, and a child would
/// inherit both, and pass them on: through `runc exec` to a container's
/// process), waited for off the cooperative pool, and never signalled once
/// reaped (its pid could name another process by then).
public final class ChildProcess: Sendable {
  public let pid: pid_t
  /// Set, under the lock, just before the child is reaped.
  private let reaped = Mutex(false)

  public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
  }

  /// Starts `path` with `argv` (argv[0] included) and `environment`
  /// (`KEY=value`), with `stdin`, `stdout` and `stderr` as its descriptors
  /// 0 to 2 and no other. The caller keeps (and closes) its descriptors.
  public init(path: String, argv: [String], environment: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws {
    var cArgs = argv.map { strdup($0) } + [nil]
    var cEnv = environment.map { strdup($0) } + [nil]
    defer {
      cArgs.forEach { free($0) }
      cEnv.forEach { free($0) }
    }
    let pid = crio_spawn_piped(path, &cArgs, &cEnv, stdin, stdout, stderr)
    guard pid > 0 else { throw SpawnError(description: String(cString: strerror(-pid))) }
    self.pid = pid
  }

  /// Sends `signal` unless the child has been reaped.
  public func kill(_ signal: Int32) {
    reaped.withLock { reaped in
      if !reaped { _ = Glibc.kill(pid, signal) }
    }
  }

  /// Waits for the child to exit (on a Dispatch thread) and reaps it;
  /// returns its wait status. Call once.
  public func wait() async -> Int32 {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async { [self] in
        // Wait without reaping, so `kill` can never reach a recycled pid.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        let status = reaped.withLock { reaped -> Int32 in
          reaped = true
          var status: Int32 = 0
          while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
          return status
        }
        continuation.resume(returning: status)
      }
    }
  }

  /// A wait status as an exit code: the code of a normal exit, else the
  /// number of the signal that ended the child (as Foundation's `Process`).
  public static func exitCode(_ status: Int32) -> Int32 {
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : signal
  }
}

/// A pipe's two descriptors, both close-on-exec.
public func makePipe() throws -> (read: Int32, write: Int32) {
  var fds: [Int32] = [-1, -1]
  let rc = crio_pipe_cloexec(&fds)
  guard rc == 0 else { throw ChildProcess.SpawnError(description: "pipe: \(String(cString: strerror(-rc)))") }
  return (fds[0], fds[1])
}
