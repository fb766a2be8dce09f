import CCRIOSys
import CRIOSystem
import Glibc

/// runc's exec fifo (`<runc root>/<id>/exec.fifo`): `runc create` leaves the
/// container's init blocked opening it for writing; `runc start` opens it for
/// reading, reads the byte the init writes just before it execs the
/// container's process, and removes it (runc reports a container whose init
/// lives and whose fifo is gone as running). Doing the same here saves
/// starting runc, a Go program, on every StartContainer.
struct RuncExecFifo: Sendable {
  enum Outcome: Sendable, Equatable {
    case started
    /// No fifo: not runc's layout, or no longer created; ask the runtime.
    case noFifo
    case failed(String)
  }

  let path: String

  /// The fifo of `id` under runc's state directory `runtimeRoot`, when `id`
  /// has runc's state there.
  init?(runtimeRoot: String, id: String) {
    guard !id.isEmpty, !id.contains("/"), id != ".", id != ".." else { return nil }
    guard access("\(runtimeRoot)/\(id)/state.json", F_OK) == 0 else { return nil }
    path = "\(runtimeRoot)/\(id)/exec.fifo"
  }

  init(path: String) { self.path = path }

  /// Releases the init process `pid` and waits until it has exec'd (its
  /// end of the fifo closes), at most `timeoutMilliseconds`.
  func start(pid: Int32, timeoutMilliseconds: Int32 = 10_000) async -> Outcome {
    let path = self.path
    let result = await OffPool.run { crio_runc_exec_fifo_start(path, pid, timeoutMilliseconds) }
    switch result {
    case 0: return .started
    case -ENOENT: return .noFifo
    case -EALREADY: return .failed("the container was already started")
    case -ESRCH: return .failed("the container process is already dead")
    case -ETIMEDOUT: return .failed("the container process did not take the start signal within \(timeoutMilliseconds) ms")
    default: return .failed("runc's exec fifo \(path): \(String(cString: strerror(-result)))")
    }
  }
}
