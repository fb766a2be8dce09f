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

    public init(namespaces: [Namespace], cgroupsPath: String?, resources: Resources?, maskedPaths: [String]?,
                readonlyPaths: [String]?) {
      self.namespaces = namespaces
      self.cgroupsPath = cgroupsPath
      self.resources = resources
      self.maskedPaths = maskedPaths
      self.readonlyPaths = readonlyPaths
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

    public init(memory: Memory? = nil, cpu: CPU? = nil, pids: Pids? = nil) {
      self.memory = memory
      self.cpu = cpu
      self.pids = pids
    }
  }

  public struct Memory: Sendable, Codable, Equatable {
    public var limit: Int64?
    public init(limit: Int64?) { self.limit = limit }
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
