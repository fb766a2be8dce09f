import CRIAPI
import CRIORuntime
import CRIOSystem
import GRPCCore
import SwiftProtobuf

/// ContainerStats, PodSandboxStats and their list and stream forms.
extension RuntimeService {
  /// Stream RPCs send lists in pages of this many items.
  static let statsPageSize = 100

  public func containerStats(
    request: Runtime_V1_ContainerStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ContainerStatsResponse {
    guard !request.containerID.isEmpty, let record = try await containers.find(request.containerID) else {
      throw CRIError.notFound("container \(request.containerID) not found")
    }
    let sandbox = try? await sandboxes.find(record.sandboxID)
    let usage = await stats.containers([(record, sandbox)])
    var response = Runtime_V1_ContainerStatsResponse()
    response.stats = Self.criStats(record, usage[0])
    return response
  }

  public func listContainerStats(
    request: Runtime_V1_ListContainerStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListContainerStatsResponse {
    var response = Runtime_V1_ListContainerStatsResponse()
    response.stats = try await containerStatsList(request.hasFilter ? request.filter : nil)
    return response
  }

  public func streamContainerStats(
    request: Runtime_V1_StreamContainerStatsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamContainerStatsResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    let all = try await containerStatsList(request.hasFilter ? request.filter : nil)
    for page in Self.pages(all) {
      var message = Runtime_V1_StreamContainerStatsResponse()
      message.containerStats = page
      try await response.write(message)
    }
  }

  public func podSandboxStats(
    request: Runtime_V1_PodSandboxStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_PodSandboxStatsResponse {
    guard !request.podSandboxID.isEmpty, let sandbox = try await sandboxes.find(request.podSandboxID) else {
      throw CRIError.notFound("pod sandbox \(request.podSandboxID) not found")
    }
    var response = Runtime_V1_PodSandboxStatsResponse()
    response.stats = await podStats(sandbox)
    return response
  }

  public func listPodSandboxStats(
    request: Runtime_V1_ListPodSandboxStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
    var response = Runtime_V1_ListPodSandboxStatsResponse()
    response.stats = await podStatsList(request.hasFilter ? request.filter : nil)
    return response
  }

  public func streamPodSandboxStats(
    request: Runtime_V1_StreamPodSandboxStatsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    let all = await podStatsList(request.hasFilter ? request.filter : nil)
    for page in Self.pages(all) {
      var message = Runtime_V1_StreamPodSandboxStatsResponse()
      message.podSandboxStats = page
      try await response.write(message)
    }
  }

  // MARK: gathering

  /// Every container matching the filter (ID and pod ID by prefix, labels exactly).
  func containerStatsList(_ filter: Runtime_V1_ContainerStatsFilter?) async throws -> [Runtime_V1_ContainerStats] {
    var records = await containers.list()
    if let filter {
      records = records.filter { record in
        (filter.id.isEmpty || record.id.hasPrefix(filter.id))
          && (filter.podSandboxID.isEmpty || record.sandboxID.hasPrefix(filter.podSandboxID))
          && filter.labelSelector.allSatisfy { record.spec.labels[$0.key] == $0.value }
      }
    }
    var pairs: [(container: ContainerRecord, sandbox: SandboxRecord?)] = []
    for record in records { pairs.append((record, try? await sandboxes.find(record.sandboxID))) }
    let usages = await stats.containers(pairs)
    await forgetGoneSamples()
    return zip(records, usages).map { Self.criStats($0, $1) }
  }

  func podStatsList(_ filter: Runtime_V1_PodSandboxStatsFilter?) async -> [Runtime_V1_PodSandboxStats] {
    var list: [Runtime_V1_PodSandboxStats] = []
    for sandbox in await sandboxes.list() {
      if let filter {
        if !filter.id.isEmpty && !sandbox.id.hasPrefix(filter.id) { continue }
        if !filter.labelSelector.allSatisfy({ sandbox.spec.labels[$0.key] == $0.value }) { continue }
      }
      list.append(await podStats(sandbox))
    }
    await forgetGoneSamples()
    return list
  }

  /// A pod's usage; its container list has the containers that have not exited.
  func podStats(_ sandbox: SandboxRecord) async -> Runtime_V1_PodSandboxStats {
    let members = await containers.inSandbox(sandbox.id).filter { $0.state != .exited }
    let usage = await stats.pod(sandbox, containers: members, infra: await containers.infraContainer(sandbox.id))
    var result = Runtime_V1_PodSandboxStats()
    result.attributes.id = sandbox.id
    result.attributes.metadata = Self.metadata(sandbox.spec)
    result.attributes.labels = sandbox.spec.labels
    result.attributes.annotations = sandbox.spec.annotations
    result.linux.cpu = Self.criCPU(usage.cgroup, nanoCores: usage.cpuNanoCores, timestamp: usage.timestamp)
    result.linux.memory = Self.criMemory(usage.cgroup, timestamp: usage.timestamp)
    if let pressure = usage.cgroup?.ioPressure {
      result.linux.io.timestamp = usage.timestamp
      result.linux.io.psi = Self.criPSI(pressure)
    }
    if let network = usage.network {
      result.linux.network = Self.criNetwork(network, timestamp: usage.timestamp)
    }
    if let cgroup = usage.cgroup {
      result.linux.process.timestamp = usage.timestamp
      result.linux.process.processCount = Self.uint64(UInt64(cgroup.processes.count))
    }
    result.linux.containers = zip(members, usage.containers).map { Self.criStats($0, $1) }
    return result
  }

  /// Drops CPU samples of containers and pods that no longer exist.
  func forgetGoneSamples() async {
    let ids = Set(await containers.list().map(\.id)).union(await sandboxes.list().map(\.id))
    await stats.forget(keeping: ids)
  }

  // MARK: CRI messages

  static func criStats(_ record: ContainerRecord, _ usage: ContainerUsage) -> Runtime_V1_ContainerStats {
    var stats = Runtime_V1_ContainerStats()
    stats.attributes.id = record.id
    stats.attributes.metadata.name = record.spec.name
    stats.attributes.metadata.attempt = record.spec.attempt
    stats.attributes.labels = record.spec.labels
    stats.attributes.annotations = record.spec.annotations
    stats.cpu = criCPU(usage.cgroup, nanoCores: usage.cpuNanoCores, timestamp: usage.timestamp)
    stats.memory = criMemory(usage.cgroup, timestamp: usage.timestamp)
    if let memory = usage.cgroup?.memory, let swap = memory.swapUsage {
      stats.swap.timestamp = usage.timestamp
      stats.swap.swapUsageBytes = uint64(swap)
      if let limit = memory.swapLimit { stats.swap.swapAvailableBytes = uint64(limit > swap ? limit - swap : 0) }
    }
    stats.writableLayer.timestamp = usage.timestamp
    stats.writableLayer.fsID.mountpoint = usage.filesystem?.mountpoint ?? ""
    stats.writableLayer.usedBytes = uint64(usage.writableLayer.bytes)
    stats.writableLayer.inodesUsed = uint64(usage.writableLayer.inodes)
    if let pressure = usage.cgroup?.ioPressure {
      stats.io.timestamp = usage.timestamp
      stats.io.psi = criPSI(pressure)
    }
    return stats
  }

  /// CPU usage; the timestamp is always set (the kubelet and critest rely on it).
  static func criCPU(_ cgroup: CgroupStats?, nanoCores: UInt64?, timestamp: Int64) -> Runtime_V1_CpuUsage {
    var cpu = Runtime_V1_CpuUsage()
    cpu.timestamp = timestamp
    if let usage = cgroup?.cpu {
      cpu.usageCoreNanoSeconds = uint64(usage.usageNanos)
      if let nanoCores { cpu.usageNanoCores = uint64(nanoCores) }
    }
    if let pressure = cgroup?.cpuPressure { cpu.psi = criPSI(pressure) }
    return cpu
  }

  static func criMemory(_ cgroup: CgroupStats?, timestamp: Int64) -> Runtime_V1_MemoryUsage {
    var memory = Runtime_V1_MemoryUsage()
    memory.timestamp = timestamp
    guard let usage = cgroup?.memory else { return memory }
    memory.usageBytes = uint64(usage.usage)
    memory.workingSetBytes = uint64(usage.workingSet)
    if let available = usage.available { memory.availableBytes = uint64(available) }
    if let rss = usage.rss { memory.rssBytes = uint64(rss) }
    if let faults = usage.hierarchyPageFaults { memory.pageFaults = uint64(faults) }
    if let faults = usage.hierarchyMajorPageFaults { memory.majorPageFaults = uint64(faults) }
    if let pressure = cgroup?.memoryPressure { memory.psi = criPSI(pressure) }
    return memory
  }

  /// `eth0` (the interface the kubelet treats as the pod's) is the default
  /// interface; the others but loopback are listed.
  static func criNetwork(_ counters: [NetworkCounters], timestamp: Int64) -> Runtime_V1_NetworkUsage {
    var network = Runtime_V1_NetworkUsage()
    network.timestamp = timestamp
    for counter in counters where counter.name != "lo" {
      var usage = Runtime_V1_NetworkInterfaceUsage()
      usage.name = counter.name
      usage.rxBytes = uint64(counter.rxBytes)
      usage.rxErrors = uint64(counter.rxErrors)
      usage.txBytes = uint64(counter.txBytes)
      usage.txErrors = uint64(counter.txErrors)
      if counter.name == "eth0" { network.defaultInterface = usage } else { network.interfaces.append(usage) }
    }
    return network
  }

  /// PSI totals are microseconds in cgroupfs, nanoseconds in the CRI.
  static func criPSI(_ pressure: CgroupStats.Pressure) -> Runtime_V1_PsiStats {
    func data(_ line: CgroupStats.Pressure.Line) -> Runtime_V1_PsiData {
      var data = Runtime_V1_PsiData()
      data.total = line.totalMicros &* 1000
      data.avg10 = line.avg10
      data.avg60 = line.avg60
      data.avg300 = line.avg300
      return data
    }
    var psi = Runtime_V1_PsiStats()
    psi.some = data(pressure.some)
    if let full = pressure.full { psi.full = data(full) }
    return psi
  }

  static func uint64(_ value: UInt64) -> Runtime_V1_UInt64Value {
    var wrapped = Runtime_V1_UInt64Value()
    wrapped.value = value
    return wrapped
  }

  static func pages<T>(_ items: [T]) -> [[T]] {
    guard !items.isEmpty else { return [[]] }
    return stride(from: 0, to: items.count, by: statsPageSize).map { Array(items[$0..<min($0 + statsPageSize, items.count)]) }
  }
}
