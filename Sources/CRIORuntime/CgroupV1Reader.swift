/// cgroup v1: one hierarchy per controller, each mounted under `root`
/// (`/sys/fs/cgroup/cpu`, `/sys/fs/cgroup/cpuacct`, `/sys/fs/cgroup/memory`,
/// `/sys/fs/cgroup/pids`, `/sys/fs/cgroup/blkio`; co-mounted controllers
/// such as `cpu,cpuacct` are reached through the usual symlinks).
public struct CgroupV1Reader: CgroupReader {
  public let root: String

  public init(root: String = "/sys/fs/cgroup") {
    self.root = root
  }

  func directory(_ controller: String, _ path: String) -> String {
    CgroupFiles.join("\(root)/\(controller)", path)
  }

  public func stats(path: String) -> CgroupStats? {
    var stats = CgroupStats()
    var found = false
    if let cpu = cpu(path) {
      stats.cpu = cpu
      found = true
    }
    if let memory = memory(path) {
      stats.memory = memory
      found = true
    }
    let pidsDir = directory("pids", path)
    if let current = CgroupFiles.number("\(pidsDir)/pids.current") {
      stats.pids = .init(current: current, limit: CgroupFiles.limit("\(pidsDir)/pids.max").value)
      found = true
    }
    guard found else { return nil }
    stats.io = io(path)
    stats.hugetlb = hugetlb(path)
    // Any mounted controller lists the members; memory and cpu are always there for crio's containers.
    for controller in ["memory", "cpu", "pids"] {
      let dir = directory(controller, path)
      if let procs = CgroupFiles.idsRecursively(dir, file: "cgroup.procs") {
        stats.processes = procs
        if let tasks = CgroupFiles.idsRecursively(dir, file: "tasks") {
          stats.threadIDs = tasks
          stats.threads = UInt64(tasks.count)
        }
        break
      }
    }
    return stats
  }

  /// The hugetlb controller is mounted (its root cgroup has the files).
  public var hasHugeTLB: Bool { !CgroupFiles.hugePageSizes("\(root)/hugetlb", suffix: "usage_in_bytes").isEmpty }

  /// `hugetlb.<size>.usage_in_bytes` and `max_usage_in_bytes` of each page size.
  func hugetlb(_ path: String) -> [CgroupStats.HugeTLB] {
    let dir = directory("hugetlb", path)
    return CgroupFiles.hugePageSizes(dir, suffix: "usage_in_bytes").compactMap { size in
      guard let usage = CgroupFiles.number("\(dir)/hugetlb.\(size).usage_in_bytes") else { return nil }
      return .init(pageSize: size, usage: usage, maxUsage: CgroupFiles.number("\(dir)/hugetlb.\(size).max_usage_in_bytes"))
    }
  }

  func cpu(_ path: String) -> CgroupStats.CPU? {
    let acct = directory("cpuacct", path)
    guard let usage = CgroupFiles.number("\(acct)/cpuacct.usage") else { return nil }
    var cpu = CgroupStats.CPU(usageNanos: usage)
    if let user = CgroupFiles.number("\(acct)/cpuacct.usage_user"),
       let system = CgroupFiles.number("\(acct)/cpuacct.usage_sys")
    {
      cpu.userNanos = user
      cpu.systemNanos = system
    } else if let ticks = CgroupFiles.keyValues("\(acct)/cpuacct.stat") {
      // USER_HZ is 100 on every Linux ABI: a tick is 10 ms.
      cpu.userNanos = ticks["user"].map { $0 &* 10_000_000 }
      cpu.systemNanos = ticks["system"].map { $0 &* 10_000_000 }
    }
    let cpuDir = directory("cpu", path)
    if let stat = CgroupFiles.keyValues("\(cpuDir)/cpu.stat") {
      cpu.periods = stat["nr_periods"]
      cpu.throttledPeriods = stat["nr_throttled"]
      cpu.throttledNanos = stat["throttled_time"]
    }
    cpu.shares = CgroupFiles.number("\(cpuDir)/cpu.shares")
    cpu.quotaMicros = CgroupFiles.limit("\(cpuDir)/cpu.cfs_quota_us").value
    cpu.periodMicros = CgroupFiles.number("\(cpuDir)/cpu.cfs_period_us")
    return cpu
  }

  func memory(_ path: String) -> CgroupStats.Memory? {
    let dir = directory("memory", path)
    guard let usage = CgroupFiles.number("\(dir)/memory.usage_in_bytes") else { return nil }
    let stat = CgroupFiles.keyValues("\(dir)/memory.stat") ?? [:]
    var memory = CgroupStats.Memory(usage: usage, inactiveFile: stat["total_inactive_file"] ?? stat["inactive_file"] ?? 0)
    let limit = CgroupFiles.limit("\(dir)/memory.limit_in_bytes")
    memory.limit = limit.value
    memory.maxUsage = CgroupFiles.number("\(dir)/memory.max_usage_in_bytes")
    memory.cache = stat["total_cache"] ?? stat["cache"]
    memory.rss = stat["total_rss"] ?? stat["rss"]
    memory.mappedFile = stat["total_mapped_file"] ?? stat["mapped_file"]
    memory.kernel = CgroupFiles.number("\(dir)/memory.kmem.usage_in_bytes")
    memory.pageFaults = stat["pgfault"]
    memory.majorPageFaults = stat["pgmajfault"]
    memory.hierarchyPageFaults = stat["total_pgfault"] ?? stat["pgfault"]
    memory.hierarchyMajorPageFaults = stat["total_pgmajfault"] ?? stat["pgmajfault"]
    memory.failcnt = CgroupFiles.number("\(dir)/memory.failcnt")
    memory.oomKills = CgroupFiles.keyValues("\(dir)/memory.oom_control")?["oom_kill"]
    memory.reservation = CgroupFiles.limit("\(dir)/memory.soft_limit_in_bytes").value
    // With swap accounting, memsw counts memory + swap.
    if let memsw = CgroupFiles.number("\(dir)/memory.memsw.usage_in_bytes") {
      memory.swapUsage = memsw > usage ? memsw - usage : 0
      if case .value(let memswLimit) = CgroupFiles.limit("\(dir)/memory.memsw.limit_in_bytes"),
         case .value(let memoryLimit) = limit
      {
        memory.swapLimit = memswLimit > memoryLimit ? memswLimit - memoryLimit : 0
      }
    }
    return memory
  }

  /// blkio's throttle files count every I/O whatever the scheduler; lines
  /// are `<major>:<minor> <Read|Write|Sync|Async|Discard|Total> <value>`.
  func io(_ path: String) -> [CgroupStats.IODevice] {
    let dir = directory("blkio", path)
    let bytes = CgroupFiles.read("\(dir)/blkio.throttle.io_service_bytes_recursive")
      ?? CgroupFiles.read("\(dir)/blkio.throttle.io_service_bytes")
    let ops = CgroupFiles.read("\(dir)/blkio.throttle.io_serviced_recursive")
      ?? CgroupFiles.read("\(dir)/blkio.throttle.io_serviced")
    return Self.parseIO(bytes: bytes ?? "", operations: ops ?? "")
  }

  static func parseIO(bytes: String, operations: String) -> [CgroupStats.IODevice] {
    var devices: [String: CgroupStats.IODevice] = [:]
    func apply(_ text: String, _ update: (inout CgroupStats.IODevice, String, UInt64) -> Void) {
      for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let value = UInt64(fields[2]) else { continue }
        let numbers = fields[0].split(separator: ":")
        guard numbers.count == 2, let major = UInt32(numbers[0]), let minor = UInt32(numbers[1]) else { continue }
        var device = devices[String(fields[0])] ?? .init(major: major, minor: minor)
        update(&device, String(fields[1]), value)
        devices[String(fields[0])] = device
      }
    }
    apply(bytes) { device, operation, value in
      if operation == "Read" { device.readBytes = value }
      if operation == "Write" { device.writeBytes = value }
    }
    apply(operations) { device, operation, value in
      if operation == "Read" { device.reads = value }
      if operation == "Write" { device.writes = value }
    }
    return devices.values.sorted { ($0.major, $0.minor) < ($1.major, $1.minor) }
  }
}
