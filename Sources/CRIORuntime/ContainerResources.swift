import CRIOConfig
import CRIOSystem
import Foundation
import Glibc
import OCI

/// What the host's cgroups can limit, for the resources that depend on it.
public struct CgroupSupport: Sendable, Equatable {
  /// `/sys/fs/cgroup` is a pure cgroup v2 hierarchy (not v1 or hybrid).
  public var unified: Bool
  /// Swap is accounted (v1 `memory.memsw.*`, v2 `memory.swap.max`).
  public var memorySwap: Bool
  /// The hugetlb controller is there.
  public var hugetlb: Bool

  public init(unified: Bool, memorySwap: Bool, hugetlb: Bool) {
    self.unified = unified
    self.memorySwap = memorySwap
    self.hugetlb = hugetlb
  }

  /// This host's, probed once.
  public static let current: CgroupSupport = probe(root: "/sys/fs/cgroup")

  static func probe(root: String) -> CgroupSupport {
    let files = FileManager.default
    if let controllers = try? String(contentsOfFile: "\(root)/cgroup.controllers", encoding: .utf8) {
      let names = Set(controllers.split(whereSeparator: \.isWhitespace).map(String.init))
      // The root has no memory.swap.max; a child of it does when swap is accounted.
      let children = (try? files.contentsOfDirectory(atPath: root)) ?? []
      let swap = children.contains { files.fileExists(atPath: "\(root)/\($0)/memory.swap.max") }
      return CgroupSupport(unified: true, memorySwap: names.contains("memory") && swap, hugetlb: names.contains("hugetlb"))
    }
    return CgroupSupport(
      unified: false, memorySwap: files.fileExists(atPath: "\(root)/memory/memory.memsw.limit_in_bytes"),
      hugetlb: files.fileExists(atPath: "\(root)/hugetlb"))
  }
}

/// The CRI's `LinuxContainerResources` for `UpdateContainerResources`, in
/// crio's terms. Zero and empty values mean "leave as it is", as `runc
/// update` and crictl read them.
public struct ResourceUpdate: Sendable, Equatable {
  public var cpuPeriod: Int64 = 0
  public var cpuQuota: Int64 = 0
  public var cpuShares: Int64 = 0
  public var memoryLimit: Int64 = 0
  public var memorySwapLimit: Int64 = 0
  public var cpusetCpus = ""
  public var cpusetMems = ""
  public var hugepageLimits: [ContainerSpec.HugepageLimit] = []
  public var unified: [String: String] = [:]

  public init() {}

  /// A spec holding only what this update sets (for the runtime's `update`).
  func changes() -> ContainerSpec {
    var spec = ContainerSpec(
      name: "", memoryLimit: memoryLimit, cpuShares: cpuShares, cpuQuota: cpuQuota, cpuPeriod: cpuPeriod,
      cpusetCpus: cpusetCpus)
    spec.memorySwapLimit = memoryLimit != 0 ? memorySwapLimit : 0
    spec.cpusetMems = cpusetMems
    spec.hugepageLimits = hugepageLimits
    spec.unified = unified
    return spec
  }

  /// `spec` with this update's values in place of its own.
  func applied(to spec: ContainerSpec) -> ContainerSpec {
    var spec = spec
    if cpuPeriod != 0 { spec.cpuPeriod = cpuPeriod }
    if cpuQuota != 0 { spec.cpuQuota = cpuQuota }
    if cpuShares != 0 { spec.cpuShares = cpuShares }
    if memoryLimit != 0 {
      spec.memoryLimit = memoryLimit
      spec.memorySwapLimit = memorySwapLimit
    }
    if !cpusetCpus.isEmpty { spec.cpusetCpus = cpusetCpus }
    if !cpusetMems.isEmpty { spec.cpusetMems = cpusetMems }
    for limit in hugepageLimits {
      spec.hugepageLimits.removeAll { $0.pageSize == limit.pageSize }
      spec.hugepageLimits.append(limit)
    }
    spec.unified.merge(unified) { _, new in new }
    return spec
  }
}

extension ContainerSpec {
  /// The spec with the swap limit the container really gets: where the host
  /// accounts swap and only a memory limit is set, memory + swap equals it
  /// (no swap), as CRI-O sets and reports it.
  func withEffectiveSwap(_ cgroups: CgroupSupport) -> ContainerSpec {
    var spec = self
    if cgroups.memorySwap && spec.memoryLimit != 0 && spec.memorySwapLimit == 0 {
      spec.memorySwapLimit = spec.memoryLimit
    } else if !cgroups.memorySwap {
      spec.memorySwapLimit = 0
    }
    return spec
  }
}

extension ContainerManager {
  /// The smallest memory limit a container may have (CRI-O's default `container_min_memory`).
  static let minimumMemory: Int64 = 12 * 1024 * 1024

  /// The cgroup resources of a container, as CRI-O sets them: CPU shares,
  /// quota, period and cpuset; memory, with swap (memory + swap, as runc
  /// takes it) where the host accounts swap; the configured pids limit;
  /// hugetlb limits where the controller exists; unified keys on cgroup v2
  /// only. What the host cannot apply is left out and named in `skipped`.
  static func resources(
    spec: ContainerSpec, pidsLimit: Int, cgroups: CgroupSupport
  ) throws -> (resources: RuntimeSpec.Resources, skipped: [String]) {
    var resources = RuntimeSpec.Resources()
    var skipped: [String] = []
    if spec.memoryLimit != 0 {
      if spec.memoryLimit > 0 && spec.memoryLimit < minimumMemory {
        throw ContainerError.invalid(
          "memory limit \(spec.memoryLimit) is too low: a container needs at least \(minimumMemory) bytes")
      }
      var memory = RuntimeSpec.Memory(limit: spec.memoryLimit)
      var swap = spec.memoryLimit
      if spec.memorySwapLimit != 0 {
        if spec.memorySwapLimit > 0 && spec.memoryLimit > 0 && spec.memorySwapLimit < spec.memoryLimit {
          throw ContainerError.invalid(
            "memory swap limit (\(spec.memorySwapLimit)) cannot be lower than the memory limit (\(spec.memoryLimit))")
        }
        swap = spec.memorySwapLimit
      }
      if cgroups.memorySwap {
        memory.swap = swap
      } else if spec.memorySwapLimit != 0 {
        skipped.append("memory_swap_limit_in_bytes (this host does not account swap)")
      }
      resources.memory = memory
    }
    if spec.cpuShares > 0 || spec.cpuQuota != 0 || spec.cpuPeriod > 0 || !spec.cpusetCpus.isEmpty
      || !spec.cpusetMems.isEmpty
    {
      resources.cpu = .init(
        shares: spec.cpuShares > 0 ? UInt64(spec.cpuShares) : nil, quota: spec.cpuQuota != 0 ? spec.cpuQuota : nil,
        period: spec.cpuPeriod > 0 ? UInt64(spec.cpuPeriod) : nil, cpus: spec.cpusetCpus.isEmpty ? nil : spec.cpusetCpus,
        mems: spec.cpusetMems.isEmpty ? nil : spec.cpusetMems)
    }
    if pidsLimit > 0 { resources.pids = .init(limit: Int64(pidsLimit)) }
    if !spec.hugepageLimits.isEmpty {
      if cgroups.hugetlb {
        resources.hugepageLimits = spec.hugepageLimits.map { .init(pageSize: $0.pageSize, limit: $0.limit) }
      } else {
        skipped.append("hugepage_limits (no hugetlb cgroup controller)")
      }
    }
    if !spec.unified.isEmpty {
      if cgroups.unified {
        resources.unified = spec.unified
      } else {
        skipped.append("unified (not a cgroup v2 host)")
      }
    }
    return (resources, skipped)
  }

  /// `UpdateContainerResources`: applies the new limits to the running (or
  /// created) container with `runc update`, then records them in the
  /// container's record and bundle, so `ContainerStatus` reports them.
  public func updateResources(_ idOrPrefix: String, _ update: ResourceUpdate) async throws {
    guard var record = try find(idOrPrefix) else { throw ContainerError.notFound(idOrPrefix) }
    guard record.state != .exited else {
      throw ContainerError.failedPrecondition("container \(record.id) is not running or created: it has exited")
    }
    let cgroups = CgroupSupport.current
    let updated = update.applied(to: record.spec).withEffectiveSwap(cgroups)
    // The whole result must be valid (a new memory limit above an older swap limit) ...
    _ = try Self.resources(spec: updated, pidsLimit: config.runtime.pidsLimit, cgroups: cgroups)
    // ... and only what changes goes to the runtime, which keeps the rest.
    let (changes, skipped) = try Self.resources(spec: update.changes(), pidsLimit: 0, cgroups: cgroups)
    for note in skipped {
      logger.info("Resource not applied on this host: \(note)", metadata: ["container": "\(record.id)"])
    }
    let handler = try runtimeHandler(handlerName(record))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let input = try encoder.encode(changes)
    let runtime = OCIRuntimeCommand(path: handler.path, root: handler.root)
    let result = try await runtime.run(["update", "--resources", "-", record.id], input: input)
    guard result.exitCode == 0 else {
      throw ContainerError.runtimeFailed(
        "updating the resources of container \(record.id) failed: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    record.spec = updated
    containers[record.id] = record
    try save(record)
    // The bundle's spec follows, so a later exec or restart sees the same limits.
    let specPath = "\(record.bundle)/config.json"
    if let data = FileManager.default.contents(atPath: specPath),
       var runtimeSpec = try? JSONDecoder().decode(RuntimeSpec.self, from: data)
    {
      var resources = try Self.resources(spec: updated, pidsLimit: config.runtime.pidsLimit, cgroups: cgroups).resources
      resources.devices = runtimeSpec.linux.resources?.devices
      runtimeSpec.linux.resources = resources
      if let encoded = try? encoder.encode(runtimeSpec) {
        try? RecordFile.write(encoded, to: specPath)
      }
    }
    logger.info("Updated container resources", metadata: ["id": "\(record.id)"])
  }
}
