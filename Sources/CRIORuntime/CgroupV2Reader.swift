/// cgroup v2: one unified hierarchy mounted at `root` (`/sys/fs/cgroup`),
/// every controller's files in the cgroup's own directory.
public struct CgroupV2Reader: CgroupReader {
  public let root: String

  public init(root: String = "/sys/fs/cgroup") {
    self.root = root
  }

  public func stats(path: String) -> CgroupStats? {
    let dir = CgroupFiles.join(root, path)
    guard CgroupFiles.exists("\(dir)/cgroup.procs") else { return nil }
    var stats = CgroupStats()
    stats.cpu = cpu(dir)
    stats.memory = memory(dir)
    if let current = CgroupFiles.number("\(dir)/pids.current") {
      stats.pids = .init(current: current, limit: CgroupFiles.limit("\(dir)/pids.max").value)
    }
    stats.io = CgroupFiles.read("\(dir)/io.stat").map(Self.parseIOStat) ?? []
    stats.cpuPressure = CgroupFiles.pressure("\(dir)/cpu.pressure")
    stats.memoryPressure = CgroupFiles.pressure("\(dir)/memory.pressure")
    stats.ioPressure = CgroupFiles.pressure("\(dir)/io.pressure")
    stats.processes = CgroupFiles.idsRecursively(dir, file: "cgroup.procs") ?? []
    if let threads = CgroupFiles.idsRecursively(dir, file: "cgroup.threads") {
      stats.threadIDs = threads
      stats.threads = UInt64(threads.count)
    }
    stats.hugetlb = hugetlb(dir)
    return stats
  }

  /// The root lists every controller the kernel offers.
  public var hasHugeTLB: Bool {
    (CgroupFiles.read("\(root)/cgroup.controllers") ?? "").split(whereSeparator: \.isWhitespace).contains("hugetlb")
  }

  /// `hugetlb.<size>.current` of each page size (v2 keeps no peak).
  func hugetlb(_ dir: String) -> [CgroupStats.HugeTLB] {
    CgroupFiles.hugePageSizes(dir, suffix: "current").compactMap { size in
      CgroupFiles.number("\(dir)/hugetlb.\(size).current").map { .init(pageSize: size, usage: $0) }
    }
  }

  /// cpu.stat is there even without the cpu controller enabled (usage only).
  func cpu(_ dir: String) -> CgroupStats.CPU? {
    guard let stat = CgroupFiles.keyValues("\(dir)/cpu.stat"), let usage = stat["usage_usec"] else { return nil }
    var cpu = CgroupStats.CPU(usageNanos: usage &* 1000)
    cpu.userNanos = stat["user_usec"].map { $0 &* 1000 }
    cpu.systemNanos = stat["system_usec"].map { $0 &* 1000 }
    cpu.periods = stat["nr_periods"]
    cpu.throttledPeriods = stat["nr_throttled"]
    cpu.throttledNanos = stat["throttled_usec"].map { $0 &* 1000 }
    if let weight = CgroupFiles.number("\(dir)/cpu.weight") { cpu.shares = Self.shares(fromWeight: weight) }
    if let max = CgroupFiles.read("\(dir)/cpu.max") {
      let fields = max.split(separator: " ").map { $0.trimmingWhitespace }
      if fields.count == 2 {
        cpu.quotaMicros = UInt64(fields[0])
        cpu.periodMicros = UInt64(fields[1])
      }
    }
    return cpu
  }

  func memory(_ dir: String) -> CgroupStats.Memory? {
    guard let usage = CgroupFiles.number("\(dir)/memory.current") else { return nil }
    let stat = CgroupFiles.keyValues("\(dir)/memory.stat") ?? [:]
    var memory = CgroupStats.Memory(usage: usage, inactiveFile: stat["inactive_file"] ?? 0)
    memory.limit = CgroupFiles.limit("\(dir)/memory.max").value
    memory.maxUsage = CgroupFiles.number("\(dir)/memory.peak")
    memory.cache = stat["file"]
    memory.rss = stat["anon"]
    memory.mappedFile = stat["file_mapped"]
    // `kernel` appeared in 5.18; before it, its main parts.
    memory.kernel = stat["kernel"] ?? {
      let parts = ["kernel_stack", "pagetables", "slab"].compactMap { stat[$0] }
      return parts.isEmpty ? nil : parts.reduce(0, &+)
    }()
    // v2 counts faults hierarchically only.
    memory.pageFaults = stat["pgfault"]
    memory.majorPageFaults = stat["pgmajfault"]
    memory.hierarchyPageFaults = stat["pgfault"]
    memory.hierarchyMajorPageFaults = stat["pgmajfault"]
    if let events = CgroupFiles.keyValues("\(dir)/memory.events") {
      memory.failcnt = events["max"]
      memory.oomKills = events["oom_kill"]
    }
    memory.reservation = CgroupFiles.limit("\(dir)/memory.low").value.flatMap { $0 == 0 ? nil : $0 }
    memory.swapUsage = CgroupFiles.number("\(dir)/memory.swap.current")
    memory.swapLimit = CgroupFiles.limit("\(dir)/memory.swap.max").value
    return memory
  }

  /// The v1 shares a v2 weight stands for: the inverse of the mapping
  /// runc and the kubelet use (shares [2, 262144] onto weight [1, 10000]).
  static func shares(fromWeight weight: UInt64) -> UInt64 {
    guard weight >= 1 else { return 2 }
    return 2 + ((weight - 1) * 262_142) / 9_999
  }

  /// io.stat: `<major>:<minor> rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`.
  static func parseIOStat(_ text: String) -> [CgroupStats.IODevice] {
    var devices: [CgroupStats.IODevice] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard let first = fields.first else { continue }
      let numbers = first.split(separator: ":")
      guard numbers.count == 2, let major = UInt32(numbers[0]), let minor = UInt32(numbers[1]) else { continue }
      var device = CgroupStats.IODevice(major: major, minor: minor)
      for field in fields.dropFirst() {
        let pair = field.split(separator: "=", maxSplits: 1)
        guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
        switch pair[0] {
        case "rbytes": device.readBytes = value
        case "wbytes": device.writeBytes = value
        case "rios": device.reads = value
        case "wios": device.writes = value
        default: break
        }
      }
      devices.append(device)
    }
    return devices.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
  }
}

/// Which hierarchy the host runs, decided once.
public enum CgroupHierarchy {
  /// cgroup v2 when the root is the unified hierarchy (it then has
  /// `cgroup.controllers`); otherwise v1 controllers, as on hybrid hosts
  /// whose v2 hierarchy (`/sys/fs/cgroup/unified`) holds no controllers.
  public static func reader(root: String = "/sys/fs/cgroup") -> any CgroupReader {
    CgroupFiles.exists("\(root)/cgroup.controllers") ? CgroupV2Reader(root: root) : CgroupV1Reader(root: root)
  }
}
