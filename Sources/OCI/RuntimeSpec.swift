/// The parts of the OCI runtime spec (config.json) that crio writes.
public struct RuntimeSpec: Sendable, Codable, Equatable {
  public var ociVersion = "1.0.2"
  public var process: Process
  public var root: Root
  public var hostname: String?
  public var mounts: [Mount]
  public var linux: Linux
  public var annotations: [String: String]?

  public init(process: Process, root: Root, hostname: String?, mounts: [Mount], linux: Linux) {
    self.process = process
    self.root = root
    self.hostname = hostname
    self.mounts = mounts
    self.linux = linux
  }

  public struct Process: Sendable, Codable, Equatable {
    public var terminal: Bool
    public var user: User
    public var args: [String]
    public var env: [String]
    public var cwd: String
    public var capabilities: Capabilities?
    public var noNewPrivileges: Bool
    public var rlimits: [Rlimit]?
    public var oomScoreAdj: Int?

    public init(terminal: Bool, user: User, args: [String], env: [String], cwd: String,
                capabilities: Capabilities?, noNewPrivileges: Bool) {
      self.terminal = terminal
      self.user = user
      self.args = args
      self.env = env
      self.cwd = cwd
      self.capabilities = capabilities
      self.noNewPrivileges = noNewPrivileges
    }
  }

  public struct User: Sendable, Codable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]?

    public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32]? = nil) {
      self.uid = uid
      self.gid = gid
      self.additionalGids = additionalGids
    }
  }

  public struct Capabilities: Sendable, Codable, Equatable {
    public var bounding: [String]
    public var effective: [String]
    public var permitted: [String]

    public init(_ capabilities: [String]) {
      bounding = capabilities
      effective = capabilities
      permitted = capabilities
    }
  }

  public struct Rlimit: Sendable, Codable, Equatable {
    public var type: String
    public var hard: UInt64
    public var soft: UInt64
  }

  public struct Root: Sendable, Codable, Equatable {
    public var path: String
    public var readonly: Bool

    public init(path: String, readonly: Bool) {
      self.path = path
      self.readonly = readonly
    }
  }

  public struct Mount: Sendable, Codable, Equatable {
    public var destination: String
    public var type: String?
    public var source: String?
    public var options: [String]?

    public init(destination: String, type: String?, source: String?, options: [String]?) {
      self.destination = destination
      self.type = type
      self.source = source
      self.options = options
    }
  }

  public struct Linux: Sendable, Codable, Equatable {
    public var namespaces: [Namespace]
    public var cgroupsPath: String?
    public var resources: Resources?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var devices: [Device]?
    public var seccomp: Seccomp?
    /// Propagation of the rootfs mount (`rprivate`, `rslave`, `rshared`); nil: the runtime's default.
    public var rootfsPropagation: String?
    /// The user namespace's mappings (with a `user` namespace).
    public var uidMappings: [IDMapping]?
    public var gidMappings: [IDMapping]?

    public init(namespaces: [Namespace], cgroupsPath: String?, resources: Resources?, maskedPaths: [String]?,
                readonlyPaths: [String]?) {
      self.namespaces = namespaces
      self.cgroupsPath = cgroupsPath
      self.resources = resources
      self.maskedPaths = maskedPaths
      self.readonlyPaths = readonlyPaths
    }
  }

  /// One range of a user namespace mapping (`linux.uidMappings[]`).
  public struct IDMapping: Sendable, Codable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
      self.containerID = containerID
      self.hostID = hostID
      self.size = size
    }
  }

  public struct Namespace: Sendable, Codable, Equatable {
    public var type: String
    public var path: String?

    public init(type: String, path: String? = nil) {
      self.type = type
      self.path = path
    }
  }

  public struct Resources: Sendable, Codable, Equatable {
    public var memory: Memory?
    public var cpu: CPU?
    public var pids: Pids?
    /// Device cgroup rules, applied in order (the runtime appends its default allowed devices).
    public var devices: [DeviceRule]?
    public var hugepageLimits: [HugepageLimit]?
    /// cgroup v2 files and values, as runc writes them.
    public var unified: [String: String]?

    public init(
      memory: Memory? = nil, cpu: CPU? = nil, pids: Pids? = nil, devices: [DeviceRule]? = nil,
      hugepageLimits: [HugepageLimit]? = nil, unified: [String: String]? = nil
    ) {
      self.memory = memory
      self.cpu = cpu
      self.pids = pids
      self.devices = devices
      self.hugepageLimits = hugepageLimits
      self.unified = unified
    }
  }

  public struct HugepageLimit: Sendable, Codable, Equatable {
    /// `2MB`, `1GB`, ...
    public var pageSize: String
    public var limit: UInt64

    public init(pageSize: String, limit: UInt64) {
      self.pageSize = pageSize
      self.limit = limit
    }
  }

  /// A device node the runtime creates in the container's /dev.
  public struct Device: Sendable, Codable, Equatable {
    public var path: String
    /// `c`, `b`, `u` or `p`.
    public var type: String
    public var major: Int64
    public var minor: Int64
    public var fileMode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?

    public init(path: String, type: String, major: Int64, minor: Int64, fileMode: UInt32?, uid: UInt32?, gid: UInt32?) {
      self.path = path
      self.type = type
      self.major = major
      self.minor = minor
      self.fileMode = fileMode
      self.uid = uid
      self.gid = gid
    }
  }

  /// A device cgroup rule; nil type, major or minor mean "all".
  public struct DeviceRule: Sendable, Codable, Equatable {
    public var allow: Bool
    public var type: String?
    public var major: Int64?
    public var minor: Int64?
    public var access: String?

    public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil) {
      self.allow = allow
      self.type = type
      self.major = major
      self.minor = minor
      self.access = access
    }
  }

  /// A seccomp filter, in the runtime spec's form (`SCMP_ACT_*`, `SCMP_ARCH_*`, `SCMP_CMP_*` names).
  public struct Seccomp: Sendable, Codable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    public var architectures: [String]?
    public var flags: [String]?
    public var syscalls: [Syscall]?

    public init(
      defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil, flags: [String]? = nil,
      syscalls: [Syscall]? = nil
    ) {
      self.defaultAction = defaultAction
      self.defaultErrnoRet = defaultErrnoRet
      self.architectures = architectures
      self.flags = flags
      self.syscalls = syscalls
    }
  }

  public struct Syscall: Sendable, Codable, Equatable {
    public var names: [String]
    public var action: String
    public var errnoRet: UInt32?
    public var args: [SyscallArg]?

    public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [SyscallArg]? = nil) {
      self.names = names
      self.action = action
      self.errnoRet = errnoRet
      self.args = args
    }
  }

  public struct SyscallArg: Sendable, Codable, Equatable {
    public var index: UInt32
    public var value: UInt64
    public var valueTwo: UInt64?
    public var op: String

    public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: String) {
      self.index = index
      self.value = value
      self.valueTwo = valueTwo
      self.op = op
    }
  }

  public struct Memory: Sendable, Codable, Equatable {
    public var limit: Int64?
    /// Memory plus swap (cgroup v1 `memsw`); equal to `limit` means no swap.
    public var swap: Int64?

    public init(limit: Int64?, swap: Int64? = nil) {
      self.limit = limit
      self.swap = swap
    }
  }

  public struct CPU: Sendable, Codable, Equatable {
    public var shares: UInt64?
    public var quota: Int64?
    public var period: UInt64?
    public var cpus: String?
    public var mems: String?

    public init(shares: UInt64? = nil, quota: Int64? = nil, period: UInt64? = nil, cpus: String? = nil, mems: String? = nil) {
      self.shares = shares
      self.quota = quota
      self.period = period
      self.cpus = cpus
      self.mems = mems
    }
  }

  public struct Pids: Sendable, Codable, Equatable {
    public var limit: Int64
    public init(limit: Int64) { self.limit = limit }
  }
}
