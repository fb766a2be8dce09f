import CRIOSystem

/// A pod sandbox as crio keeps it (in memory and as JSON on disk).
public struct SandboxRecord: Sendable, Equatable, Codable {
  public enum State: String, Sendable, Codable {
    case ready
    case notReady
  }

  public var id: String
  public var spec: SandboxSpec
  public var state: State
  /// Nanoseconds since the epoch.
  public var createdAt: Int64
  /// The namespaces crio made for the pod (none for host namespaces).
  public var pins: NamespacePins
  /// Where the pod's hostname, hosts, resolv.conf and shm live.
  public var runDirectory: String
  /// The pod's /dev/shm tmpfs, when it has its own IPC namespace.
  public var shmPath: String?
  public var hostname: String

  public var hostnamePath: String { "\(runDirectory)/hostname" }
  public var hostsPath: String { "\(runDirectory)/hosts" }
  public var resolvConfPath: String { "\(runDirectory)/resolv.conf" }
}

/// Why a sandbox operation failed.
public enum SandboxError: Error, Equatable, CustomStringConvertible {
  case invalid(String)
  case nameInUse(name: String, id: String)
  case notFound(String)
  case ambiguous(String)
  case setupFailed(String)

  public var description: String {
    switch self {
    case .invalid(let detail): detail
    case .nameInUse(let name, let id): "pod sandbox name \(name) is reserved by \(id)"
    case .notFound(let id): "pod sandbox \(id) not found"
    case .ambiguous(let prefix): "pod sandbox id prefix \(prefix) matches more than one sandbox"
    case .setupFailed(let detail): "cannot set up the pod sandbox: \(detail)"
    }
  }
}
