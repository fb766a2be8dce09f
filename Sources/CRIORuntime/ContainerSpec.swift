/// What a container is asked to be, in crio's own terms (the CRI server
/// translates `ContainerConfig` into this).
public struct ContainerSpec: Sendable, Equatable, Codable {
  public struct Mount: Sendable, Equatable, Codable {
    /// How mounts below the mount point travel between the host and the container.
    public enum Propagation: String, Sendable, Equatable, Codable {
      /// Neither way (`rprivate`).
      case `private`
      /// Host to container (`rslave`): the host side must be shared or a slave.
      case hostToContainer
      /// Both ways (`rshared`): the host side must be shared.
      case bidirectional
    }

    public var containerPath: String
    public var hostPath: String
    public var readonly: Bool
    public var propagation: Propagation
    /// Read-only all the way down, submounts included (needs `readonly` and private propagation).
    public var recursiveReadOnly: Bool
    /// Asked for, not applied: this host has no SELinux.
    public var selinuxRelabel: Bool
    /// An image volume (CRI `Mount.image`): the image's layers are mounted
    /// read-only under the container's layer directory and bound in; then
    /// `hostPath` is that mount (plus the sub path), set by `ContainerManager`.
    public var image: ImageVolume?

    public init(
      containerPath: String, hostPath: String, readonly: Bool, propagation: Propagation = .private,
      recursiveReadOnly: Bool = false, selinuxRelabel: Bool = false, image: ImageVolume? = nil
    ) {
      self.containerPath = containerPath
      self.hostPath = hostPath
      self.readonly = readonly
      self.propagation = propagation
      self.recursiveReadOnly = recursiveReadOnly
      self.selinuxRelabel = selinuxRelabel
      self.image = image
    }

    enum CodingKeys: String, CodingKey {
      case containerPath, hostPath, readonly, propagation, recursiveReadOnly, selinuxRelabel, image
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      containerPath = try c.decode(String.self, forKey: .containerPath)
      hostPath = try c.decode(String.self, forKey: .hostPath)
      readonly = try c.decodeIfPresent(Bool.self, forKey: .readonly) ?? false
      propagation = try c.decodeIfPresent(Propagation.self, forKey: .propagation) ?? .private
      recursiveReadOnly = try c.decodeIfPresent(Bool.self, forKey: .recursiveReadOnly) ?? false
      selinuxRelabel = try c.decodeIfPresent(Bool.self, forKey: .selinuxRelabel) ?? false
      image = try c.decodeIfPresent(ImageVolume.self, forKey: .image)
    }
  }

  /// The image a mount's source is (KEP-4639 image volumes), as the store resolved it.
  public struct ImageVolume: Sendable, Equatable, Codable {
    /// The name the mount asked for (CRI `Mount.image.image`).
    public var name: String
    /// The image ID (what `RemoveImage` checks against, and what `ContainerStatus` reports).
    public var id: String
    /// Unpacked layer directories, bottom first.
    public var layers: [String]
    /// A relative path inside the image to mount instead of its root (CRI `image_sub_path`).
    public var subPath: String

    public init(name: String, id: String, layers: [String], subPath: String = "") {
      self.name = name
      self.id = id
      self.layers = layers
      self.subPath = subPath
    }
  }

  /// A hugetlb limit: page size as the kernel names it (`2MB`, `1GB`) and bytes.
  public struct HugepageLimit: Sendable, Equatable, Codable {
    public var pageSize: String
    public var limit: UInt64

    public init(pageSize: String, limit: UInt64) {
      self.pageSize = pageSize
      self.limit = limit
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
  /// The CRI's `oom_score_adj` (limited to what the host allows when applied).
  public var oomScoreAdj: Int64
  public var security: ContainerSecurity
  /// Memory plus swap; 0: as much as `memoryLimit` (no swap), where the host accounts swap.
  public var memorySwapLimit: Int64 = 0
  public var cpusetMems: String = ""
  public var hugepageLimits: [HugepageLimit] = []
  /// cgroup v2 keys and values (applied on a cgroup v2 host only).
  public var unified: [String: String] = [:]

  public init(
    name: String, attempt: UInt32 = 0, command: [String] = [], args: [String] = [], workingDir: String = "",
    env: [String] = [], labels: [String: String] = [:], annotations: [String: String] = [:], logPath: String = "",
    tty: Bool = false, stdin: Bool = false, mounts: [Mount] = [], runAsUser: Int64? = nil, runAsGroup: Int64? = nil,
    runAsUsername: String = "", readonlyRootfs: Bool = false, memoryLimit: Int64 = 0, cpuShares: Int64 = 0,
    cpuQuota: Int64 = 0, cpuPeriod: Int64 = 0, cpusetCpus: String = "", oomScoreAdj: Int64 = 0,
    security: ContainerSecurity = ContainerSecurity()
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
    self.oomScoreAdj = oomScoreAdj
    self.security = security
  }

  enum CodingKeys: String, CodingKey {
    case name, attempt, command, args, workingDir, env, labels, annotations, logPath, tty, stdin, mounts
    case runAsUser, runAsGroup, runAsUsername, readonlyRootfs, memoryLimit, cpuShares, cpuQuota, cpuPeriod
    case cpusetCpus, oomScoreAdj, security, memorySwapLimit, cpusetMems, hugepageLimits, unified
  }

  /// Decodes records written by any earlier version: fields added later
  /// take their defaults when absent.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    attempt = try c.decodeIfPresent(UInt32.self, forKey: .attempt) ?? 0
    command = try c.decodeIfPresent([String].self, forKey: .command) ?? []
    args = try c.decodeIfPresent([String].self, forKey: .args) ?? []
    workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir) ?? ""
    env = try c.decodeIfPresent([String].self, forKey: .env) ?? []
    labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
    logPath = try c.decodeIfPresent(String.self, forKey: .logPath) ?? ""
    tty = try c.decodeIfPresent(Bool.self, forKey: .tty) ?? false
    stdin = try c.decodeIfPresent(Bool.self, forKey: .stdin) ?? false
    mounts = try c.decodeIfPresent([Mount].self, forKey: .mounts) ?? []
    runAsUser = try c.decodeIfPresent(Int64.self, forKey: .runAsUser)
    runAsGroup = try c.decodeIfPresent(Int64.self, forKey: .runAsGroup)
    runAsUsername = try c.decodeIfPresent(String.self, forKey: .runAsUsername) ?? ""
    readonlyRootfs = try c.decodeIfPresent(Bool.self, forKey: .readonlyRootfs) ?? false
    memoryLimit = try c.decodeIfPresent(Int64.self, forKey: .memoryLimit) ?? 0
    cpuShares = try c.decodeIfPresent(Int64.self, forKey: .cpuShares) ?? 0
    cpuQuota = try c.decodeIfPresent(Int64.self, forKey: .cpuQuota) ?? 0
    cpuPeriod = try c.decodeIfPresent(Int64.self, forKey: .cpuPeriod) ?? 0
    cpusetCpus = try c.decodeIfPresent(String.self, forKey: .cpusetCpus) ?? ""
    oomScoreAdj = try c.decodeIfPresent(Int64.self, forKey: .oomScoreAdj) ?? 0
    security = try c.decodeIfPresent(ContainerSecurity.self, forKey: .security) ?? ContainerSecurity()
    memorySwapLimit = try c.decodeIfPresent(Int64.self, forKey: .memorySwapLimit) ?? 0
    cpusetMems = try c.decodeIfPresent(String.self, forKey: .cpusetMems) ?? ""
    hugepageLimits = try c.decodeIfPresent([HugepageLimit].self, forKey: .hugepageLimits) ?? []
    unified = try c.decodeIfPresent([String: String].self, forKey: .unified) ?? [:]
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
  /// Supplementary groups, the primary group first.
  public var additionalGids: [UInt32] = []
  /// The kernel's OOM killer killed a process of the container (conmon's
  /// `oom` file, or the cgroup's `oom_kill` counter): reason `OOMKilled`.
  public var oomKilled = false
  /// The name CRI-O gives the container, `k8s_<container>_<pod>_<namespace>_<pod uid>_<attempt>`
  /// (`crio status containers`, the OOM metrics' `name` label). Records of
  /// earlier versions have none: see `displayName`.
  public var fullName = ""
  /// The start time of `pid` (`/proc/<pid>/stat` field 22), to tell the
  /// container's process from a later one with the same pid; 0 if unknown
  /// (then the OCI runtime signals it).
  public var pidStartTime: UInt64 = 0

  public var rootfs: String { "\(layerDirectory)/merged" }
}

extension ContainerRecord {
  enum CodingKeys: String, CodingKey {
    case id, sandboxID, runtimeHandler, spec, image, state, createdAt, startedAt, finishedAt, exitCode, reason
    case message, pid, logPath, bundle, layerDirectory, uid, gid, additionalGids, oomKilled, fullName, pidStartTime
  }

  /// CRI-O's name of the container when the record has it, else the name crio reserves for it.
  public var displayName: String {
    fullName.isEmpty ? "k8s_\(spec.name)_\(sandboxID)_\(spec.attempt)" : fullName
  }

  /// CRI-O's container name: `k8s_<container>_<pod>_<namespace>_<pod uid>_<attempt>`.
  static func fullName(_ spec: ContainerSpec, pod: SandboxSpec) -> String {
    ["k8s", spec.name, pod.name, pod.namespace, pod.uid, String(spec.attempt)].joined(separator: "_")
  }

  /// Decodes records written by any earlier version (later fields default).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    id = try c.decode(String.self, forKey: .id)
    sandboxID = try c.decode(String.self, forKey: .sandboxID)
    runtimeHandler = try c.decodeIfPresent(String.self, forKey: .runtimeHandler) ?? ""
    spec = try c.decode(ContainerSpec.self, forKey: .spec)
    image = try c.decode(ContainerImage.self, forKey: .image)
    state = try c.decode(State.self, forKey: .state)
    createdAt = try c.decodeIfPresent(Int64.self, forKey: .createdAt) ?? 0
    startedAt = try c.decodeIfPresent(Int64.self, forKey: .startedAt) ?? 0
    finishedAt = try c.decodeIfPresent(Int64.self, forKey: .finishedAt) ?? 0
    exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode) ?? 0
    reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
    message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
    pid = try c.decodeIfPresent(Int32.self, forKey: .pid) ?? 0
    logPath = try c.decodeIfPresent(String.self, forKey: .logPath) ?? ""
    bundle = try c.decode(String.self, forKey: .bundle)
    layerDirectory = try c.decode(String.self, forKey: .layerDirectory)
    uid = try c.decodeIfPresent(UInt32.self, forKey: .uid) ?? 0
    gid = try c.decodeIfPresent(UInt32.self, forKey: .gid) ?? 0
    additionalGids = try c.decodeIfPresent([UInt32].self, forKey: .additionalGids) ?? []
    oomKilled = try c.decodeIfPresent(Bool.self, forKey: .oomKilled) ?? false
    fullName = try c.decodeIfPresent(String.self, forKey: .fullName) ?? ""
    pidStartTime = try c.decodeIfPresent(UInt64.self, forKey: .pidStartTime) ?? 0
  }
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
