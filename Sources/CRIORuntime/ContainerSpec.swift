/// What a container is asked to be, in crio's own terms (the CRI server
/// translates `ContainerConfig` into this).
public struct ContainerSpec: Sendable, Equatable, Codable {
  public struct Mount: Sendable, Equatable, Codable {
    public var containerPath: String
    public var hostPath: String
    public var readonly: Bool

    public init(containerPath: String, hostPath: String, readonly: Bool) {
      self.containerPath = containerPath
      self.hostPath = hostPath
      self.readonly = readonly
    }
  }

  public var name: String
  public var attempt: UInt32
  public var command: [String]
  public var args: [String]
  public var workingDir: String
  /// `KEY=value` entries, in order.
  public var env: [String]
  public var labels: [String: String]
  public var annotations: [String: String]
  /// Relative to the sandbox's log directory.
  public var logPath: String
  public var tty: Bool
  public var stdin: Bool
  /// Close stdin when the first attached client detaches (nil in records
  /// written before crio knew the field: false).
  public var stdinOnce: Bool?
  public var mounts: [Mount]
  public var runAsUser: Int64?
  public var runAsGroup: Int64?
  public var runAsUsername: String
  public var readonlyRootfs: Bool
  public var memoryLimit: Int64
  public var cpuShares: Int64
  public var cpuQuota: Int64
  public var cpuPeriod: Int64
  public var cpusetCpus: String

  public init(
    name: String, attempt: UInt32 = 0, command: [String] = [], args: [String] = [], workingDir: String = "",
    env: [String] = [], labels: [String: String] = [:], annotations: [String: String] = [:], logPath: String = "",
    tty: Bool = false, stdin: Bool = false, mounts: [Mount] = [], runAsUser: Int64? = nil, runAsGroup: Int64? = nil,
    runAsUsername: String = "", readonlyRootfs: Bool = false, memoryLimit: Int64 = 0, cpuShares: Int64 = 0,
    cpuQuota: Int64 = 0, cpuPeriod: Int64 = 0, cpusetCpus: String = ""
  ) {
    self.name = name
    self.attempt = attempt
    self.command = command
    self.args = args
    self.workingDir = workingDir
    self.env = env
    self.labels = labels
    self.annotations = annotations
    self.logPath = logPath
    self.tty = tty
    self.stdin = stdin
    self.mounts = mounts
    self.runAsUser = runAsUser
    self.runAsGroup = runAsGroup
    self.runAsUsername = runAsUsername
    self.readonlyRootfs = readonlyRootfs
    self.memoryLimit = memoryLimit
    self.cpuShares = cpuShares
    self.cpuQuota = cpuQuota
    self.cpuPeriod = cpuPeriod
    self.cpusetCpus = cpusetCpus
  }
}

/// The image a container runs, resolved by the CRI server from the image store.
public struct ContainerImage: Sendable, Equatable, Codable {
  public var id: String
  /// The name the container was created with (CRI `image.image`).
  public var name: String
  /// `name@digest`, or the ID.
  public var ref: String
  /// Unpacked layer directories, bottom first.
  public var layers: [String]
  public var env: [String]
  public var entrypoint: [String]
  public var cmd: [String]
  public var workingDir: String
  public var user: String
  public var stopSignal: String

  public init(
    id: String, name: String, ref: String, layers: [String], env: [String], entrypoint: [String], cmd: [String],
    workingDir: String, user: String, stopSignal: String
  ) {
    self.id = id
    self.name = name
    self.ref = ref
    self.layers = layers
    self.env = env
    self.entrypoint = entrypoint
    self.cmd = cmd
    self.workingDir = workingDir
    self.user = user
    self.stopSignal = stopSignal
  }
}

/// A container as crio keeps it.
public struct ContainerRecord: Sendable, Equatable, Codable {
  public enum State: String, Sendable, Codable {
    case created, running, exited
  }

  public var id: String
  public var sandboxID: String
  /// The sandbox's runtime handler ("" for the default).
  public var runtimeHandler: String
  public var spec: ContainerSpec
  public var image: ContainerImage
  public var state: State
  public var createdAt: Int64
  public var startedAt: Int64
  public var finishedAt: Int64
  public var exitCode: Int32
  public var reason: String
  public var message: String
  public var pid: Int32
  public var logPath: String
  public var bundle: String
  public var layerDirectory: String
  public var uid: UInt32
  public var gid: UInt32

  public var rootfs: String { "\(layerDirectory)/merged" }
}

public enum ContainerError: Error, Equatable, CustomStringConvertible {
  case invalid(String)
  case nameInUse(name: String, id: String)
  case notFound(String)
  case sandboxNotReady(String)
  case failedPrecondition(String)
  case runtimeFailed(String)
  case timedOut(String)

  public var description: String {
    switch self {
    case .invalid(let detail): detail
    case .nameInUse(let name, let id): "container name \(name) is reserved by \(id)"
    case .notFound(let id): "container \(id) not found"
    case .sandboxNotReady(let id): "pod sandbox \(id) is not ready"
    case .failedPrecondition(let detail): detail
    case .runtimeFailed(let detail): detail
    case .timedOut(let detail): detail
    }
  }
}
