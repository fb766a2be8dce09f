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
  /// The pod's addresses from CNI, primary first (none for host-network pods).
  public var ips: [String] = []

  enum CodingKeys: String, CodingKey {
    case id, spec, state, createdAt, pins, runDirectory, shmPath, hostname, ips
  }

  public init(
    id: String, spec: SandboxSpec, state: State, createdAt: Int64, pins: NamespacePins, runDirectory: String,
    shmPath: String?, hostname: String, ips: [String] = []
  ) {
    self.id = id
    self.spec = spec
    self.state = state
    self.createdAt = createdAt
    self.pins = pins
    self.runDirectory = runDirectory
    self.shmPath = shmPath
    self.hostname = hostname
    self.ips = ips
  }

  /// Decodes records written by any earlier version (later fields default).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    id = try c.decode(String.self, forKey: .id)
    spec = try c.decode(SandboxSpec.self, forKey: .spec)
    state = try c.decodeIfPresent(State.self, forKey: .state) ?? .notReady
    createdAt = try c.decodeIfPresent(Int64.self, forKey: .createdAt) ?? 0
    pins = try c.decodeIfPresent(NamespacePins.self, forKey: .pins) ?? NamespacePins()
    runDirectory = try c.decode(String.self, forKey: .runDirectory)
    shmPath = try c.decodeIfPresent(String.self, forKey: .shmPath)
    hostname = try c.decodeIfPresent(String.self, forKey: .hostname) ?? ""
    ips = try c.decodeIfPresent([String].self, forKey: .ips) ?? []
  }

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
  case networkFailed(String)

  public var description: String {
    switch self {
    case .invalid(let detail): detail
    case .nameInUse(let name, let id): "pod sandbox name \(name) is reserved by \(id)"
    case .notFound(let id): "pod sandbox \(id) not found"
    case .ambiguous(let prefix): "pod sandbox id prefix \(prefix) matches more than one sandbox"
    case .setupFailed(let detail): "cannot set up the pod sandbox: \(detail)"
    case .networkFailed(let detail): "cannot set up the pod network: \(detail)"
    }
  }
}
