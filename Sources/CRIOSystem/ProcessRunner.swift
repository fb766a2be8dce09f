import Foundation

/// Runs a short helper program (a `--version` probe and the like) to completion.
public enum ProcessRunner {
  public struct Result: Sendable, Equatable {
    public var exitCode: Int32
    public var output: String
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

  /// Runs `path` with `arguments`, collecting stdout and stderr together.
  /// The child is killed when it outlives `timeout` seconds.
  public static func run(_ path: String, _ arguments: [String], timeout: Double = 10) async throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    let (exited, exit) = AsyncStream<Void>.makeStream()
    process.terminationHandler = { _ in exit.yield(); exit.finish() }
    do {
      try process.run()
    } catch {
      throw Failure.cannotStart(path: path, reason: error.localizedDescription)
    }
    let reader = Task { await BlockingRead.toEnd(pipe.fileHandleForReading) }
    let pid = process.processIdentifier
    let watchdog = Task {
      try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
      kill(pid, SIGKILL)
    }
    for await _ in exited {}
    watchdog.cancel()
    // The watchdog's sleep only completes (rather than being cancelled) when it fired.
    if case .success = await watchdog.result, process.terminationReason == .uncaughtSignal {
      _ = await reader.value
      throw Failure.timedOut(path: path, seconds: timeout)
    }
    let data = await reader.value
    return Result(exitCode: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
  }
}
