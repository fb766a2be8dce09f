import CRIAPI
import CRIOConfig
import CRIORuntime
import CRIOSystem
import Foundation
import Synchronization

/// One cAdvisor-compatible metric crio can report: its name, help, the
/// label keys after the base ones (`id`, `name`, `image`), its kind, and
/// the `included_pod_metrics` family that turns it on ("" = always).
struct PodMetric: Sendable {
  let name: String
  let help: String
  let labels: [String]
  let type: Runtime_V1_MetricType
  let family: String
  /// Only cgroup v2 reports it (pressure stall information).
  let unifiedOnly: Bool
  /// Only cgroup v1 reports it (the hugetlb peak).
  let legacyOnly: Bool
  /// Only a hierarchy with the hugetlb controller reports it.
  let hugetlbOnly: Bool

  init(_ name: String, _ help: String, labels: [String] = [], _ type: Runtime_V1_MetricType, family: String,
       unifiedOnly: Bool = false, legacyOnly: Bool = false, hugetlbOnly: Bool = false) {
    self.name = name
    self.help = help
    self.labels = labels
    self.type = type
    self.family = family
    self.unifiedOnly = unifiedOnly
    self.legacyOnly = legacyOnly
    self.hugetlbOnly = hugetlbOnly
  }

  var descriptor: Runtime_V1_MetricDescriptor {
    var descriptor = Runtime_V1_MetricDescriptor()
    descriptor.name = name
    descriptor.help = help
    descriptor.labelKeys = PodMetrics.baseLabels + labels
    return descriptor
  }
}

/// The metrics of `ListMetricDescriptors` and `ListPodSandboxMetrics`, named
/// and labelled as cAdvisor (and so the kubelet's `/metrics/cadvisor`) has
/// them. Values are unsigned integers, as the CRI carries them: `_seconds`
/// metrics are whole seconds.
enum PodMetrics {
  static let baseLabels = ["id", "name", "image"]

  // Always reported.
  static let lastSeen = PodMetric("container_last_seen", "Last time the runtime saw the container, seconds since the epoch.", .gauge, family: "")
  static let startTime = PodMetric("container_start_time_seconds", "Start time of the container, seconds since the epoch.", .gauge, family: "")

  // cpu
  static let cpuUser = PodMetric("container_cpu_user_seconds_total", "Cumulative user CPU time consumed, in seconds.", .counter, family: "cpu")
  static let cpuSystem = PodMetric("container_cpu_system_seconds_total", "Cumulative system CPU time consumed, in seconds.", .counter, family: "cpu")
  static let cpuUsage = PodMetric("container_cpu_usage_seconds_total", "Cumulative CPU time consumed, in seconds.", labels: ["cpu"], .counter, family: "cpu")
  static let cfsPeriods = PodMetric("container_cpu_cfs_periods_total", "Number of elapsed CFS enforcement periods.", .counter, family: "cpu")
  static let cfsThrottledPeriods = PodMetric("container_cpu_cfs_throttled_periods_total", "Number of throttled CFS periods.", .counter, family: "cpu")
  static let cfsThrottledSeconds = PodMetric("container_cpu_cfs_throttled_seconds_total", "Total time the container has been throttled, in seconds.", .counter, family: "cpu")
  static let cpuWaiting = PodMetric("container_pressure_cpu_waiting_seconds_total", "Total time some tasks waited for CPU, in seconds.", .counter, family: "cpu", unifiedOnly: true)
  static let cpuStalled = PodMetric("container_pressure_cpu_stalled_seconds_total", "Total time all tasks stalled on CPU, in seconds.", .counter, family: "cpu", unifiedOnly: true)

  // memory
  static let memoryCache = PodMetric("container_memory_cache", "Page cache memory, in bytes.", .gauge, family: "memory")
  static let memoryRSS = PodMetric("container_memory_rss", "Anonymous memory (RSS), in bytes.", .gauge, family: "memory")
  static let memoryKernel = PodMetric("container_memory_kernel_usage", "Kernel memory charged to the container, in bytes.", .gauge, family: "memory")
  static let memoryMapped = PodMetric("container_memory_mapped_file", "Memory-mapped file pages, in bytes.", .gauge, family: "memory")
  static let memorySwap = PodMetric("container_memory_swap", "Swap in use by the container, in bytes.", .gauge, family: "memory")
  static let memoryFailcnt = PodMetric("container_memory_failcnt", "Number of times memory usage hit the limit.", .counter, family: "memory")
  static let memoryUsage = PodMetric("container_memory_usage_bytes", "Current memory usage, page cache included, in bytes.", .gauge, family: "memory")
  static let memoryMaxUsage = PodMetric("container_memory_max_usage_bytes", "Highest memory usage recorded, in bytes.", .gauge, family: "memory")
  static let memoryWorkingSet = PodMetric("container_memory_working_set_bytes", "Current working set (usage minus inactive page cache), in bytes.", .gauge, family: "memory")
  static let memoryFailures = PodMetric("container_memory_failures_total", "Cumulative count of page faults, by type and scope.", labels: ["failure_type", "scope"], .counter, family: "memory")
  static let memoryWaiting = PodMetric("container_pressure_memory_waiting_seconds_total", "Total time some tasks waited for memory, in seconds.", .counter, family: "memory", unifiedOnly: true)
  static let memoryStalled = PodMetric("container_pressure_memory_stalled_seconds_total", "Total time all tasks stalled on memory, in seconds.", .counter, family: "memory", unifiedOnly: true)

  // disk
  static let fsInodesFree = PodMetric("container_fs_inodes_free", "Free inodes of the filesystem holding the writable layer.", .gauge, family: "disk")
  static let fsInodesTotal = PodMetric("container_fs_inodes_total", "Inodes of the filesystem holding the writable layer.", .gauge, family: "disk")
  static let fsLimit = PodMetric("container_fs_limit_bytes", "Size of the filesystem holding the writable layer, in bytes.", .gauge, family: "disk")
  static let fsUsage = PodMetric("container_fs_usage_bytes", "Bytes used by the container's writable layer.", .gauge, family: "disk")
  static let fsReadsBytes = PodMetric("container_fs_reads_bytes_total", "Cumulative bytes read, by device.", labels: ["device"], .counter, family: "disk")
  static let fsReads = PodMetric("container_fs_reads_total", "Cumulative reads completed, by device.", labels: ["device"], .counter, family: "disk")
  static let fsWritesBytes = PodMetric("container_fs_writes_bytes_total", "Cumulative bytes written, by device.", labels: ["device"], .counter, family: "disk")
  static let fsWrites = PodMetric("container_fs_writes_total", "Cumulative writes completed, by device.", labels: ["device"], .counter, family: "disk")
  static let blkioUsage = PodMetric("container_blkio_device_usage_total", "Block I/O bytes, by device and operation.", labels: ["device", "major", "minor", "operation"], .counter, family: "disk")
  static let ioWaiting = PodMetric("container_pressure_io_waiting_seconds_total", "Total time some tasks waited for I/O, in seconds.", .counter, family: "disk", unifiedOnly: true)
  static let ioStalled = PodMetric("container_pressure_io_stalled_seconds_total", "Total time all tasks stalled on I/O, in seconds.", .counter, family: "disk", unifiedOnly: true)

  // network (pod level: the pod's interfaces, loopback excluded)
  static let rxBytes = PodMetric("container_network_receive_bytes_total", "Cumulative bytes received.", labels: ["interface"], .counter, family: "network")
  static let rxPackets = PodMetric("container_network_receive_packets_total", "Cumulative packets received.", labels: ["interface"], .counter, family: "network")
  static let rxDropped = PodMetric("container_network_receive_packets_dropped_total", "Cumulative packets dropped while receiving.", labels: ["interface"], .counter, family: "network")
  static let rxErrors = PodMetric("container_network_receive_errors_total", "Cumulative errors while receiving.", labels: ["interface"], .counter, family: "network")
  static let txBytes = PodMetric("container_network_transmit_bytes_total", "Cumulative bytes transmitted.", labels: ["interface"], .counter, family: "network")
  static let txPackets = PodMetric("container_network_transmit_packets_total", "Cumulative packets transmitted.", labels: ["interface"], .counter, family: "network")
  static let txDropped = PodMetric("container_network_transmit_packets_dropped_total", "Cumulative packets dropped while transmitting.", labels: ["interface"], .counter, family: "network")
  static let txErrors = PodMetric("container_network_transmit_errors_total", "Cumulative errors while transmitting.", labels: ["interface"], .counter, family: "network")

  // oom
  static let oomEvents = PodMetric("container_oom_events_total", "Count of out-of-memory kills in the container.", .counter, family: "oom")

  // process
  static let fileDescriptors = PodMetric("container_file_descriptors", "Open file descriptors of the container's processes.", .gauge, family: "process")
  static let processes = PodMetric("container_processes", "Processes running in the container.", .gauge, family: "process")
  static let sockets = PodMetric("container_sockets", "Open sockets of the container's processes.", .gauge, family: "process")
  static let threads = PodMetric("container_threads", "Threads running in the container.", .gauge, family: "process")
  static let threadsMax = PodMetric("container_threads_max", "Maximum number of threads (pids limit) in the container; 0 means unlimited.", .gauge, family: "process")
  static let ulimitsSoft = PodMetric("container_ulimits_soft", "Soft limits of the container's first process; -1 (as the largest value) means unlimited.", labels: ["ulimit"], .gauge, family: "process")

  static let tasksState = PodMetric("container_tasks_state", "Number of tasks in the given state.", labels: ["state"], .gauge, family: "process")

  // hugetlb
  static let hugetlbUsage = PodMetric("container_hugetlb_usage_bytes", "Current hugepage usage, in bytes.", labels: ["pagesize"], .gauge, family: "hugetlb", hugetlbOnly: true)
  static let hugetlbMaxUsage = PodMetric("container_hugetlb_max_usage_bytes", "Maximum hugepage usage recorded, in bytes.", labels: ["pagesize"], .gauge, family: "hugetlb", legacyOnly: true, hugetlbOnly: true)

  // spec
  static let specCPUPeriod = PodMetric("container_spec_cpu_period", "CFS period of the container, in microseconds.", .gauge, family: "spec")
  static let specCPUShares = PodMetric("container_spec_cpu_shares", "CPU shares of the container.", .gauge, family: "spec")
  static let specCPUQuota = PodMetric("container_spec_cpu_quota", "CFS quota of the container, in microseconds (absent when unlimited).", .gauge, family: "spec")
  static let specMemoryLimit = PodMetric("container_spec_memory_limit_bytes", "Memory limit of the container, in bytes; 0 means unlimited.", .gauge, family: "spec")
  static let specMemoryReservation = PodMetric("container_spec_memory_reservation_limit_bytes", "Memory reservation (soft limit) of the container, in bytes; 0 means none.", .gauge, family: "spec")
  static let specSwapLimit = PodMetric("container_spec_memory_swap_limit_bytes", "Swap limit of the container, in bytes; 0 means unlimited.", .gauge, family: "spec")

  static let all: [PodMetric] = [
    lastSeen, startTime,
    cpuUser, cpuSystem, cpuUsage, cfsPeriods, cfsThrottledPeriods, cfsThrottledSeconds, cpuWaiting, cpuStalled,
    memoryCache, memoryRSS, memoryKernel, memoryMapped, memorySwap, memoryFailcnt, memoryUsage, memoryMaxUsage,
    memoryWorkingSet, memoryFailures, memoryWaiting, memoryStalled,
    fsInodesFree, fsInodesTotal, fsLimit, fsUsage, fsReadsBytes, fsReads, fsWritesBytes, fsWrites, blkioUsage,
    ioWaiting, ioStalled,
    rxBytes, rxPackets, rxDropped, rxErrors, txBytes, txPackets, txDropped, txErrors,
    oomEvents,
    fileDescriptors, processes, sockets, threads, threadsMax, ulimitsSoft, tasksState,
    hugetlbUsage, hugetlbMaxUsage,
    specCPUPeriod, specCPUShares, specCPUQuota, specMemoryLimit, specMemoryReservation, specSwapLimit,
  ]

  /// The families `included_pod_metrics` turns on ("all" means every one).
  static func families(_ configured: [String]) -> Set<String> {
    configured.contains("all") ? Set(CRIOConfiguration.Stats.metricFamilies) : Set(configured)
  }

  /// The metrics reported with these families on a host with (or without)
  /// the unified hierarchy and the hugetlb controller.
  static func enabled(families: Set<String>, unified: Bool, hugetlb: Bool) -> [PodMetric] {
    all.filter {
      ($0.family.isEmpty || families.contains($0.family)) && (unified ? !$0.legacyOnly : !$0.unifiedOnly)
        && (hugetlb || !$0.hugetlbOnly)
    }
  }

  /// Collects metric values with one set of base labels.
  struct Sink {
    let base: [String]
    let timestamp: Int64
    let enabled: Set<String>
    var metrics: [Runtime_V1_Metric] = []

    init(base: [String], timestamp: Int64, enabled: [PodMetric]) {
      self.base = base
      self.timestamp = timestamp
      self.enabled = Set(enabled.map(\.name))
    }

    mutating func add(_ metric: PodMetric, _ value: UInt64?, labels: [String] = []) {
      guard let value, enabled.contains(metric.name) else { return }
      precondition(labels.count == metric.labels.count, "\(metric.name) takes labels \(metric.labels)")
      var entry = Runtime_V1_Metric()
      entry.name = metric.name
      entry.timestamp = timestamp
      entry.metricType = metric.type
      entry.labelValues = base + labels
      var wrapped = Runtime_V1_UInt64Value()
      wrapped.value = value
      entry.value = wrapped
      metrics.append(entry)
    }
  }

  static func seconds(_ nanos: UInt64?) -> UInt64? { nanos.map { $0 / 1_000_000_000 } }
  static func secondsFromMicros(_ micros: UInt64?) -> UInt64? { micros.map { $0 / 1_000_000 } }

  /// A container's metrics. Label values: its ID, its CRI name, its image.
  static func container(
    _ record: ContainerRecord, _ usage: ContainerUsage, enabled: [PodMetric]
  ) -> [Runtime_V1_Metric] {
    var sink = Sink(base: [record.id, record.spec.name, record.image.name], timestamp: usage.timestamp, enabled: enabled)
    sink.add(lastSeen, UInt64(max(0, usage.timestamp / 1_000_000_000)))
    let start = record.startedAt > 0 ? record.startedAt : record.createdAt
    sink.add(startTime, UInt64(max(0, start / 1_000_000_000)))
    let cgroup = usage.cgroup
    if let cpu = cgroup?.cpu {
      sink.add(cpuUser, seconds(cpu.userNanos))
      sink.add(cpuSystem, seconds(cpu.systemNanos))
      sink.add(cpuUsage, seconds(cpu.usageNanos), labels: ["total"])
      sink.add(cfsPeriods, cpu.periods)
      sink.add(cfsThrottledPeriods, cpu.throttledPeriods)
      sink.add(cfsThrottledSeconds, seconds(cpu.throttledNanos))
      sink.add(specCPUPeriod, cpu.periodMicros)
      sink.add(specCPUShares, cpu.shares)
      sink.add(specCPUQuota, cpu.quotaMicros)
    }
    if let pressure = cgroup?.cpuPressure {
      sink.add(cpuWaiting, secondsFromMicros(pressure.some.totalMicros))
      sink.add(cpuStalled, secondsFromMicros(pressure.full?.totalMicros))
    }
    if let memory = cgroup?.memory {
      sink.add(memoryCache, memory.cache)
      sink.add(memoryRSS, memory.rss)
      sink.add(memoryKernel, memory.kernel)
      sink.add(memoryMapped, memory.mappedFile)
      sink.add(memorySwap, memory.swapUsage)
      sink.add(memoryFailcnt, memory.failcnt)
      sink.add(memoryUsage, memory.usage)
      sink.add(memoryMaxUsage, memory.maxUsage)
      sink.add(memoryWorkingSet, memory.workingSet)
      sink.add(memoryFailures, memory.pageFaults, labels: ["pgfault", "container"])
      sink.add(memoryFailures, memory.majorPageFaults, labels: ["pgmajfault", "container"])
      sink.add(memoryFailures, memory.hierarchyPageFaults, labels: ["pgfault", "hierarchy"])
      sink.add(memoryFailures, memory.hierarchyMajorPageFaults, labels: ["pgmajfault", "hierarchy"])
      sink.add(oomEvents, memory.oomKills)
      sink.add(specMemoryLimit, memory.limit ?? 0)
      sink.add(specMemoryReservation, memory.reservation ?? 0)
      sink.add(specSwapLimit, memory.swapLimit ?? 0)
    }
    if let pressure = cgroup?.memoryPressure {
      sink.add(memoryWaiting, secondsFromMicros(pressure.some.totalMicros))
      sink.add(memoryStalled, secondsFromMicros(pressure.full?.totalMicros))
    }
    if let filesystem = usage.filesystem {
      sink.add(fsInodesFree, filesystem.inodesFree)
      sink.add(fsInodesTotal, filesystem.inodes)
      sink.add(fsLimit, filesystem.capacityBytes)
    }
    sink.add(fsUsage, usage.writableLayer.bytes)
    for device in cgroup?.io ?? [] {
      let name = BlockDeviceNames.name(major: device.major, minor: device.minor)
      sink.add(fsReadsBytes, device.readBytes, labels: [name])
      sink.add(fsReads, device.reads, labels: [name])
      sink.add(fsWritesBytes, device.writeBytes, labels: [name])
      sink.add(fsWrites, device.writes, labels: [name])
      let numbers = [name, String(device.major), String(device.minor)]
      sink.add(blkioUsage, device.readBytes, labels: numbers + ["Read"])
      sink.add(blkioUsage, device.writeBytes, labels: numbers + ["Write"])
    }
    if let pressure = cgroup?.ioPressure {
      sink.add(ioWaiting, secondsFromMicros(pressure.some.totalMicros))
      sink.add(ioStalled, secondsFromMicros(pressure.full?.totalMicros))
    }
    if let cgroup {
      sink.add(processes, UInt64(cgroup.processes.count))
      sink.add(threads, cgroup.threads)
      sink.add(threadsMax, cgroup.pids.map { $0.limit ?? 0 })
    }
    if let states = usage.taskStates {
      for (state, count) in [
        ("sleeping", states.sleeping), ("running", states.running), ("stopped", states.stopped),
        ("uninterruptible", states.uninterruptible),
      ] {
        sink.add(tasksState, count, labels: [state])
      }
    }
    for pages in cgroup?.hugetlb ?? [] {
      sink.add(hugetlbUsage, pages.usage, labels: [pages.pageSize])
      sink.add(hugetlbMaxUsage, pages.maxUsage, labels: [pages.pageSize])
    }
    sink.add(fileDescriptors, usage.fileDescriptors)
    sink.add(sockets, usage.sockets)
    for (limit, value) in usage.softLimits.sorted(by: { $0.key < $1.key }) where limit == "max_open_files" {
      sink.add(ulimitsSoft, value < 0 ? UInt64.max : UInt64(value), labels: [limit])
    }
    return sink.metrics
  }

  /// A pod's own metrics: its network interfaces. Label values: the pod's
  /// ID, `POD`, and no image (as CRI-O).
  static func pod(_ sandbox: SandboxRecord, _ usage: PodUsage, enabled: [PodMetric]) -> [Runtime_V1_Metric] {
    var sink = Sink(base: [sandbox.id, "POD", ""], timestamp: usage.timestamp, enabled: enabled)
    for interface in usage.network ?? [] where interface.name != "lo" {
      let labels = [interface.name]
      sink.add(rxBytes, interface.rxBytes, labels: labels)
      sink.add(rxPackets, interface.rxPackets, labels: labels)
      sink.add(rxDropped, interface.rxDropped, labels: labels)
      sink.add(rxErrors, interface.rxErrors, labels: labels)
      sink.add(txBytes, interface.txBytes, labels: labels)
      sink.add(txPackets, interface.txPackets, labels: labels)
      sink.add(txDropped, interface.txDropped, labels: labels)
      sink.add(txErrors, interface.txErrors, labels: labels)
    }
    return sink.metrics
  }
}

/// Block device names for I/O metrics (`/dev/sda`), from sysfs; `8:0` when
/// the device is unknown. Cached: device numbers do not change names while
/// they exist.
enum BlockDeviceNames {
  private static let cache = Mutex<[String: String]>([:])

  static func name(major: UInt32, minor: UInt32, sysfs: String = "/sys/dev/block") -> String {
    let key = "\(major):\(minor)"
    if let known = cache.withLock({ $0[key] }) { return known }
    var name = key
    if let uevent = try? String(contentsOfFile: "\(sysfs)/\(key)/uevent", encoding: .utf8),
       let line = uevent.split(separator: "\n").first(where: { $0.hasPrefix("DEVNAME=") })
    {
      name = "/dev/" + line.dropFirst("DEVNAME=".count)
    }
    cache.withLock { $0[key] = name }
    return name
  }
}
