/// What one cgroup reports about the processes in it, in units that do not
/// depend on the cgroup version: nanoseconds, bytes, counts. A field is nil
/// when the hierarchy does not report it (a controller that is not mounted,
/// a file an older kernel lacks), never a made-up zero.
public struct CgroupStats: Sendable, Equatable {
  public struct CPU: Sendable, Equatable {
    /// Total CPU time consumed, nanoseconds.
    public var usageNanos: UInt64
    public var userNanos: UInt64?
    public var systemNanos: UInt64?
    /// CFS enforcement periods elapsed, periods throttled, time throttled.
    public var periods: UInt64?
    public var throttledPeriods: UInt64?
    public var throttledNanos: UInt64?
    /// The CPU settings: relative weight as v1 shares (v2's weight
    /// converted), CFS quota (nil when unlimited) and period, microseconds.
    public var shares: UInt64?
    public var quotaMicros: UInt64?
    public var periodMicros: UInt64?

    public init(
      usageNanos: UInt64, userNanos: UInt64? = nil, systemNanos: UInt64? = nil, periods: UInt64? = nil,
      throttledPeriods: UInt64? = nil, throttledNanos: UInt64? = nil
    ) {
      self.usageNanos = usageNanos
      self.userNanos = userNanos
      self.systemNanos = systemNanos
      self.periods = periods
      self.throttledPeriods = throttledPeriods
      self.throttledNanos = throttledNanos
    }
  }

  public struct Memory: Sendable, Equatable {
    /// All memory charged to the cgroup, page cache included.
    public var usage: UInt64
    /// The hard limit; nil when unlimited.
    public var limit: UInt64?
    /// The highest usage recorded (v1 `max_usage_in_bytes`, v2 `memory.peak`).
    public var maxUsage: UInt64?
    /// Page cache (v1 `total_cache`, v2 `file`).
    public var cache: UInt64?
    /// Anonymous memory (v1 `total_rss`, v2 `anon`).
    public var rss: UInt64?
    public var mappedFile: UInt64?
    /// Kernel memory charged to the cgroup.
    public var kernel: UInt64?
    /// Inactive page cache: reclaimable, so not part of the working set.
    public var inactiveFile: UInt64
    /// Page faults of this cgroup alone, and of it with its descendants
    /// (v2 reports only the second; both are then the same).
    public var pageFaults: UInt64?
    public var majorPageFaults: UInt64?
    public var hierarchyPageFaults: UInt64?
    public var hierarchyMajorPageFaults: UInt64?
    /// Times usage hit the limit (v1 `failcnt`, v2 `memory.events` `max`).
    public var failcnt: UInt64?
    /// Processes the OOM killer killed in the cgroup.
    public var oomKills: UInt64?
    /// The soft limit / protection (v1 `soft_limit_in_bytes`, v2 `memory.low`); nil when unlimited.
    public var reservation: UInt64?
    /// Swap in use, and its limit (nil when unlimited or not accounted).
    public var swapUsage: UInt64?
    public var swapLimit: UInt64?

    public init(usage: UInt64, inactiveFile: UInt64 = 0) {
      self.usage = usage
      self.inactiveFile = inactiveFile
    }

    /// Usage minus inactive page cache, as cAdvisor and the kubelet count it.
    public var workingSet: UInt64 { usage > inactiveFile ? usage - inactiveFile : 0 }

    /// What is left below the limit, when there is one.
    public var available: UInt64? { limit.map { $0 > workingSet ? $0 - workingSet : 0 } }
  }

  public struct Pids: Sendable, Equatable {
    /// Tasks (threads included) in the cgroup and its descendants.
    public var current: UInt64
    /// nil when unlimited.
    public var limit: UInt64?

    public init(current: UInt64, limit: UInt64? = nil) {
      self.current = current
      self.limit = limit
    }
  }

  /// Block I/O of one device.
  public struct IODevice: Sendable, Equatable {
    public var major: UInt32
    public var minor: UInt32
    public var readBytes: UInt64
    public var writeBytes: UInt64
    public var reads: UInt64
    public var writes: UInt64

    public init(major: UInt32, minor: UInt32, readBytes: UInt64 = 0, writeBytes: UInt64 = 0, reads: UInt64 = 0, writes: UInt64 = 0) {
      self.major = major
      self.minor = minor
      self.readBytes = readBytes
      self.writeBytes = writeBytes
      self.reads = reads
      self.writes = writes
    }
  }

  /// Pressure stall information (cgroup v2 `*.pressure`).
  public struct Pressure: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
      /// Total stall time, microseconds.
      public var totalMicros: UInt64
      public var avg10: Double
      public var avg60: Double
      public var avg300: Double

      public init(totalMicros: UInt64, avg10: Double, avg60: Double, avg300: Double) {
        self.totalMicros = totalMicros
        self.avg10 = avg10
        self.avg60 = avg60
        self.avg300 = avg300
      }
    }

    /// Some tasks waiting, and all tasks stalled.
    public var some: Line
    public var full: Line?

    public init(some: Line, full: Line? = nil) {
      self.some = some
      self.full = full
    }
  }

  /// Huge page usage of one page size (the hugetlb controller).
  public struct HugeTLB: Sendable, Equatable {
    /// The size as the kernel names its files: `2MB`, `1GB`.
    public var pageSize: String
    public var usage: UInt64
    /// The highest usage recorded (cgroup v1 only: v2 keeps no peak).
    public var maxUsage: UInt64?

    public init(pageSize: String, usage: UInt64, maxUsage: UInt64? = nil) {
      self.pageSize = pageSize
      self.usage = usage
      self.maxUsage = maxUsage
    }
  }

  public var cpu: CPU?
  public var memory: Memory?
  public var pids: Pids?
  public var io: [IODevice] = []
  public var cpuPressure: Pressure?
  public var memoryPressure: Pressure?
  public var ioPressure: Pressure?
  /// Processes in the cgroup and its descendants (`cgroup.procs`).
  public var processes: [Int32] = []
  /// Threads in the cgroup and its descendants (v1 `tasks`, v2 `cgroup.threads`).
  public var threads: UInt64?
  /// The IDs of those threads (for their scheduler states).
  public var threadIDs: [Int32] = []
  /// Huge page usage by page size, sorted by size; empty without the hugetlb controller.
  public var hugetlb: [HugeTLB] = []

  public init() {}

  /// The sum of several cgroups' figures, for a pod whose containers have no
  /// common cgroup of their own. Limits and peaks do not add up: they are left out.
  public static func sum(_ all: [CgroupStats]) -> CgroupStats? {
    guard !all.isEmpty else { return nil }
    var total = CgroupStats()
    let cpus = all.compactMap(\.cpu)
    if !cpus.isEmpty {
      var cpu = CPU(usageNanos: cpus.reduce(0) { $0 &+ $1.usageNanos })
      cpu.userNanos = sumOptional(cpus.map(\.userNanos))
      cpu.systemNanos = sumOptional(cpus.map(\.systemNanos))
      cpu.periods = sumOptional(cpus.map(\.periods))
      cpu.throttledPeriods = sumOptional(cpus.map(\.throttledPeriods))
      cpu.throttledNanos = sumOptional(cpus.map(\.throttledNanos))
      total.cpu = cpu
    }
    let memories = all.compactMap(\.memory)
    if !memories.isEmpty {
      var memory = Memory(
        usage: memories.reduce(0) { $0 &+ $1.usage }, inactiveFile: memories.reduce(0) { $0 &+ $1.inactiveFile })
      memory.cache = sumOptional(memories.map(\.cache))
      memory.rss = sumOptional(memories.map(\.rss))
      memory.mappedFile = sumOptional(memories.map(\.mappedFile))
      memory.kernel = sumOptional(memories.map(\.kernel))
      memory.pageFaults = sumOptional(memories.map(\.pageFaults))
      memory.majorPageFaults = sumOptional(memories.map(\.majorPageFaults))
      memory.hierarchyPageFaults = sumOptional(memories.map(\.hierarchyPageFaults))
      memory.hierarchyMajorPageFaults = sumOptional(memories.map(\.hierarchyMajorPageFaults))
      memory.failcnt = sumOptional(memories.map(\.failcnt))
      memory.oomKills = sumOptional(memories.map(\.oomKills))
      memory.swapUsage = sumOptional(memories.map(\.swapUsage))
      total.memory = memory
    }
    let pids = all.compactMap(\.pids)
    if !pids.isEmpty { total.pids = Pids(current: pids.reduce(0) { $0 &+ $1.current }) }
    var devices: [String: IODevice] = [:]
    for device in all.flatMap(\.io) {
      let key = "\(device.major):\(device.minor)"
      var sum = devices[key] ?? IODevice(major: device.major, minor: device.minor)
      sum.readBytes &+= device.readBytes
      sum.writeBytes &+= device.writeBytes
      sum.reads &+= device.reads
      sum.writes &+= device.writes
      devices[key] = sum
    }
    total.io = devices.values.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
    total.processes = all.flatMap(\.processes)
    total.threads = sumOptional(all.map(\.threads))
    return total
  }

  private static func sumOptional(_ values: [UInt64?]) -> UInt64? {
    let present = values.compactMap { $0 }
    return present.isEmpty ? nil : present.reduce(0, &+)
  }
}

/// Reads one cgroup hierarchy. `path` is a cgroup path as the OCI spec's
/// `cgroupsPath` names it with the cgroupfs driver (`/crio/crio-<id>`).
public protocol CgroupReader: Sendable {
  /// Whether the host's hierarchy has the hugetlb controller (else no cgroup reports huge pages).
  var hasHugeTLB: Bool { get }

  /// The cgroup's figures, or nil when it does not exist (a container that
  /// has not been created yet, or has been removed).
  func stats(path: String) -> CgroupStats?
}
