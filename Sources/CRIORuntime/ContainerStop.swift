import CRIOSystem
import Foundation
import Glibc

/// Stopping containers. A running container whose process crio can still
/// name (its pid and start time, recorded at creation) is signalled
/// through a pidfd and its exit waited for on that pidfd: no `runc kill`
/// process, no polling while it runs. Anything less certain (an older
/// record, a signal name crio does not know) goes through `runc kill`.
extension ContainerManager {
  /// Stops the container: its stop signal, then SIGKILL after `timeout`
  /// seconds. Unknown and already stopped containers are fine.
  public func stop(_ idOrPrefix: String, timeout: Int64) async throws {
    guard let record = try find(idOrPrefix), record.state != .exited else { return }
    let handler = try runtimeHandler(handlerName(record))
    let runtime = OCIRuntimeCommand(path: handler.path, root: handler.root)
    let process = record.state == .running ? ProcessHandle(pid: record.pid, startTime: record.pidStartTime) : nil
    if record.state == .running && timeout > 0 {
      let signal = record.image.stopSignal.isEmpty ? "TERM" : record.image.stopSignal
      await Self.send(signal, to: record.id, process: process, runtime: runtime)
      Failpoint.containerStopAfterSignal.hit()
      if await waitForExit(process: process, seconds: Double(timeout), exited: { hasExited(record.id) }) { return }
    }
    await Self.send("KILL", to: record.id, process: process, runtime: runtime)
    if !(await waitForExit(process: process, seconds: 10, exited: { hasExited(record.id) })) && record.state == .created {
      // A created container that never started has no conmon exit to wait for.
      var updated = record
      updated.state = .exited
      updated.exitCode = 137
      updated.reason = "Error"
      updated.finishedAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
      containers[record.id] = updated
      try save(updated)
    }
  }

  /// Signals the container's process through its pidfd when crio has one
  /// and knows the signal, else through the OCI runtime.
  static func send(_ signal: String, to id: String, process: ProcessHandle?, runtime: OCIRuntimeCommand) async {
    if let process, let number = SignalNumber.parse(signal) {
      // False only when the process has exited: nothing left to signal.
      process.signal(number)
      return
    }
    await runtime.kill(id, signal: signal)
  }

  /// Waits until `exited` (conmon's exit file says so), up to `seconds`:
  /// on the process's pidfd while it runs (off the cooperative pool), then
  /// briefly for conmon, which writes the file right after reaping it.
  /// Without a pidfd, the exit file is polled.
  func waitForExit(process: ProcessHandle?, seconds: Double, exited: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    var interval = Duration.milliseconds(10)
    if let process {
      guard await process.waitForExit(timeout: deadline - .now) else { return exited() }
      interval = .milliseconds(1)
    }
    while ContinuousClock.now < deadline {
      if exited() { return true }
      try? await Task.sleep(for: interval)
    }
    return exited()
  }

  /// Whether the exit file says so (a container crio no longer knows has).
  func hasExited(_ id: String) -> Bool {
    guard let record = containers[id] else { return true }
    return refreshed(record).state == .exited
  }
}
