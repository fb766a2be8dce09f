import NIOConcurrencyHelpers

/// Waits for work that ignores cancellation (a channel's close future, say)
/// in a way that does: the wait ends when the work ends or when the waiting
/// task is cancelled, whichever comes first. The work itself goes on.
enum CancellableWait {
  static func run(_ work: @escaping @Sendable () async -> Void) async {
    let state = NIOLockedValueBox<(done: Bool, continuation: CheckedContinuation<Void, Never>?)>((false, nil))
    let finish: @Sendable () -> Void = {
      let continuation = state.withLockedValue { value -> CheckedContinuation<Void, Never>? in
        guard !value.done else { return nil }
        value.done = true
        defer { value.continuation = nil }
        return value.continuation
      }
      continuation?.resume()
    }
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let alreadyDone = state.withLockedValue { value -> Bool in
          if value.done { return true }
          value.continuation = continuation
          return false
        }
        if alreadyDone {
          continuation.resume()
          return
        }
        Task {
          await work()
          finish()
        }
      }
    } onCancel: {
      finish()
    }
  }
}
