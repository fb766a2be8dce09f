import CRIOSystem
import Dispatch
import Foundation
import Glibc

/// A container's resource usage at one moment, in crio's terms (the CRI
/// server turns it into `ContainerStats` and cAdvisor-style metrics).
public struct ContainerUsage: Sendable {
  public var id: String
  /// Nanoseconds since the epoch.
  public var timestamp: Int64
  /// The container's cgroup; nil when it has none (removed, or never made).
  public var cgroup: CgroupStats?
  /// Average CPU use since the previous sample, in billionths of a core.
  public var cpuNanoCores: UInt64?
  /// The overlay upper directory: everything the container wrote.
  public var writableLayer: DiskUsage
  /// The filesystem holding the writable layers.
  public var filesystem: FilesystemFacts?
  /// Open descriptors and sockets of the container's processes (detailed samples only).
  public var fileDescriptors: UInt64?
  public var sockets: UInt64?
  /// Soft limits of the container's first process (detailed samples only).
  public var softLimits: [String: Int64] = [:]
  /// Scheduler states of the container's threads (detailed samples only).
  public var taskStates: TaskStates?
}

/// A pod's resource usage: its cgroup (or the sum of its containers'),
/// its network interfaces, and each container's usage.
public struct PodUsage: Sendable {
  public var id: String
  public var timestamp: Int64
  public var cgroup: CgroupStats?
  public var cpuNanoCores: UInt64?
  /// Interfaces of the pod's network namespace; nil for host-network pods
  /// and pods whose namespace is gone.
  public var network: [NetworkCounters]?
  public var containers: [ContainerUsage]
}

/// Size and free space of a filesystem (statvfs).
public struct FilesystemFacts: Sendable, Equatable {
  public var mountpoint: String
  public var capacityBytes: UInt64
  public var availableBytes: UInt64
  public var inodes: UInt64
  public var inodesFree: UInt64

  public static func of(_ path: String) -> FilesystemFacts? {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return nil }
    let block = UInt64(info.f_frsize)
    return FilesystemFacts(
      mountpoint: path, capacityBytes: UInt64(info.f_blocks) &* block, availableBytes: UInt64(info.f_bavail) &* block,
      inodes: UInt64(info.f_files), inodesFree: UInt64(info.f_ffree))
  }
}

/// Samples container and pod usage on demand. Reading cgroupfs, /proc and
/// walking writable layers is blocking I/O: it runs on Dispatch threads,
/// never on the cooperative pool. The last two CPU samples of every
/// container and pod are kept, so `usage_nano_cores` is the average rate
/// between the previous call and this one.
public actor ContainerStatsCollector {
  let reader: any CgroupReader
  /// Where container writable layers live (`<root>/overlay-containers`).
  let layersDirectory: String
  private var samples: [String: [CPUSample]] = [:]

  struct CPUSample: Equatable {
    var timestamp: Int64
    var usage: UInt64
  }

  /// A rate over less time than this is mostly noise; an older sample is used instead.
  static let minimumWindow: Int64 = 100_000_000

  /// Whether the host runs the unified hierarchy (cgroup v2), which alone
  /// reports pressure stall information per cgroup.
  public nonisolated var unifiedHierarchy: Bool { reader is CgroupV2Reader }

  /// Whether the host's hierarchy has the hugetlb controller, decided at start.
  public nonisolated let hasHugeTLB: Bool

  public init(reader: any CgroupReader = CgroupHierarchy.reader(), layersDirectory: String) {
    self.reader = reader
    self.layersDirectory = layersDirectory
    hasHugeTLB = reader.hasHugeTLB
  }

  /// Usage of each container (of its sandbox, for the cgroup path).
  /// `detailed` also counts descriptors and reads limits (for metrics).
  public func containers(
    _ records: [(container: ContainerRecord, sandbox: SandboxRecord?)], detailed: Bool = false
  ) async -> [ContainerUsage] {
    let reader = self.reader
    let layers = layersDirectory
    var measured = await Self.offPool {
      records.map { Self.measure($0.container, sandbox: $0.sandbox, reader: reader, layers: layers, detailed: detailed) }
    }
    for index in measured.indices {
      let record = records[index].container
      measured[index].cpuNanoCores = rate(
        id: record.id, timestamp: measured[index].timestamp, usage: measured[index].cgroup?.cpu?.usageNanos,
        since: record.startedAt)
    }
    return measured
  }

  /// Usage of a pod: its own cgroup when it has a cgroup parent (the
  /// kubelet's per-pod cgroup), else the sum of its containers' cgroups
  /// (infra container included); its network counters read inside its
  /// network namespace; and its containers' usage.
  public func pod(
    _ sandbox: SandboxRecord, containers: [ContainerRecord], infra: ContainerRecord?, detailed: Bool = false
  ) async -> PodUsage {
    let usages = await self.containers(containers.map { ($0, sandbox) }, detailed: detailed)
    let reader = self.reader
    let (cgroup, network, timestamp) = await Self.offPool { () -> (CgroupStats?, [NetworkCounters]?, Int64) in
      let now = Self.now()
      var cgroup: CgroupStats?
      if !sandbox.spec.cgroupParent.isEmpty {
        cgroup = reader.stats(path: sandbox.spec.cgroupParent)
      } else {
        var parts = usages.compactMap(\.cgroup)
        if let infra, let stats = reader.stats(path: ContainerManager.cgroupPath(sandbox: sandbox, id: infra.id)) {
          parts.append(stats)
        }
        cgroup = CgroupStats.sum(parts)
      }
      var network: [NetworkCounters]?
      if let netns = sandbox.pins.network, sandbox.state == .ready {
        network = try? NetworkCounters.read(netns: netns)
      }
      return (cgroup, network, now)
    }
    let nanoCores = rate(id: sandbox.id, timestamp: timestamp, usage: cgroup?.cpu?.usageNanos, since: sandbox.createdAt)
    return PodUsage(
      id: sandbox.id, timestamp: timestamp, cgroup: cgroup, cpuNanoCores: nanoCores, network: network,
      containers: usages)
  }

  /// Forgets the samples of containers and pods that are gone.
  public func forget(keeping ids: Set<String>) {
    samples = samples.filter { ids.contains($0.key) }
  }

  /// The average CPU rate from the latest sample at least `minimumWindow`
  /// old to this one; with no such sample, since `since` (the start) at zero
  /// usage. Records this sample.
  func rate(id: String, timestamp: Int64, usage: UInt64?, since start: Int64) -> UInt64? {
    guard let usage else { return nil }
    var kept = samples[id] ?? []
    let previous = kept.last { timestamp - $0.timestamp >= Self.minimumWindow }
      ?? (start > 0 && timestamp - start >= Self.minimumWindow ? CPUSample(timestamp: start, usage: 0) : nil)
    kept.append(CPUSample(timestamp: timestamp, usage: usage))
    samples[id] = Array(kept.suffix(2))
    guard let previous, usage >= previous.usage else { return nil }
    let elapsed = Double(timestamp - previous.timestamp)
    return UInt64((Double(usage - previous.usage) / elapsed * 1_000_000_000).rounded())
  }

  static func measure(
    _ record: ContainerRecord, sandbox: SandboxRecord?, reader: any CgroupReader, layers: String, detailed: Bool
  ) -> ContainerUsage {
    let parent = sandbox?.spec.cgroupParent ?? ""
    let cgroup = reader.stats(path: ContainerManager.cgroupPath(cgroupParent: parent, id: record.id))
    let timestamp = now()
    var usage = ContainerUsage(
      id: record.id, timestamp: timestamp, cgroup: cgroup, cpuNanoCores: nil,
      writableLayer: DiskUsage.measure("\(record.layerDirectory)/upper"), filesystem: FilesystemFacts.of(layers))
    if detailed, let processes = cgroup?.processes {
      let descriptors = ProcessFacts.descriptors(of: processes)
      usage.fileDescriptors = descriptors.files
      usage.sockets = descriptors.sockets
      if record.state == .running && record.pid > 0 { usage.softLimits = ProcessFacts.softLimits(of: record.pid) }
      if let threads = cgroup?.threadIDs { usage.taskStates = TaskStates.of(tasks: threads) }
    }
    return usage
  }

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000_000) }

  /// Runs blocking work on a Dispatch thread.
  static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
  }
}
