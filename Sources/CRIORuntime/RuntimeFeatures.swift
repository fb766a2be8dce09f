import CRIOSystem
import Foundation
import Synchronization

/// What an OCI runtime says it can do (`<runtime> features`, runc 1.1+),
/// asked once per runtime binary.
enum RuntimeFeatures {
  private static let cache = Mutex<[String: Set<String>]>([:])

  /// The mount options the runtime at `path` knows; empty when it cannot tell.
  static func mountOptions(runtime path: String) async -> Set<String> {
    if let known = cache.withLock({ $0[path] }) { return known }
    var options: Set<String> = []
    if let result = try? await ProcessRunner.run(path, ["features"], timeout: 10), result.exitCode == 0 {
      options = parseMountOptions(result.stdout)
    }
    cache.withLock { $0[path] = options }
    return options
  }

  static func parseMountOptions(_ json: Data) -> Set<String> {
    guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
          let options = object["mountOptions"] as? [String]
    else { return [] }
    return Set(options)
  }
}

extension ContainerManager {
  /// Whether the runtime of `handler` makes recursive read-only mounts
  /// (`rro`, which it applies with mount_setattr).
  public func supportsRecursiveReadOnly(handler: String) async -> Bool {
    guard let runtime = try? runtimeHandler(handler) else { return false }
    return await RuntimeFeatures.mountOptions(runtime: runtime.path).contains("rro")
  }

  /// Whether the runtime of `handler` is configured and found.
  public func hasRuntime(handler: String) -> Bool {
    (try? runtimeHandler(handler)) != nil
  }
}
