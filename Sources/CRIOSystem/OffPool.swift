import Dispatch

/// Runs blocking work (file removal, unmounts) on a Dispatch thread, so it
/// never holds one of the cooperative pool's few threads.
public enum OffPool {
  public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
  }
}
