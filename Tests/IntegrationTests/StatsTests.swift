import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

extension ContainerTests.Fixture {
  func containerStats(_ id: String) async throws -> Runtime_V1_ContainerStats {
    try await call {
      var request = Runtime_V1_ContainerStatsRequest()
      request.containerID = id
      return try await $0.runtime.containerStats(request, options: $0.options).stats
    }
  }

  func listContainerStats(_ filter: Runtime_V1_ContainerStatsFilter?) async throws -> [Runtime_V1_ContainerStats] {
    try await call {
      var request = Runtime_V1_ListContainerStatsRequest()
      if let filter { request.filter = filter }
      return try await $0.runtime.listContainerStats(request, options: $0.options).stats
    }
  }

  func podStats(_ id: String) async throws -> Runtime_V1_PodSandboxStats {
    try await call {
      var request = Runtime_V1_PodSandboxStatsRequest()
      request.podSandboxID = id
      return try await $0.runtime.podSandboxStats(request, options: $0.options).stats
    }
  }

}

private let mib: UInt64 = 1 << 20

@Suite(.serialized) struct StatsTests {
  @Test func cpuMemoryAndTheWritableLayerRiseWithWhatTheContainerDoes() async throws {
    let f = try await ContainerTests.Fixture()
    let pod = try await f.runPod("busy")
    let limit: Int64 = 160 * 1024 * 1024
    let id = try await f.create(pod, name: "worker", command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]) {
      $0.linux.resources.memoryLimitInBytes = limit
      $0.labels = ["role": "worker"]
    }
    try await f.start(id)
    _ = try await f.waitFor(id, state: .containerRunning)

    let idle = try await f.containerStats(id)
    #expect(idle.attributes.id == id)
    #expect(idle.attributes.metadata.name == "worker")
    #expect(idle.attributes.labels["role"] == "worker")
    #expect(idle.cpu.timestamp > 0)
    #expect(idle.memory.timestamp > 0)
    #expect(idle.memory.workingSetBytes.value > 0)
    #expect(idle.memory.workingSetBytes.value < 32 * mib, "an idle shell")
    #expect(idle.memory.availableBytes.value == UInt64(limit) - idle.memory.workingSetBytes.value)
    #expect(idle.memory.pageFaults.value > 0)
    #expect(idle.writableLayer.fsID.mountpoint.hasSuffix("/overlay-containers"), "\(idle.writableLayer.fsID)")

    // 1. Memory: 48 MiB written to the pod's shm (a 64 MiB tmpfs, charged to the writer) stays resident.
    let fill = try await f.execSync(id, ["busybox", "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=48"], timeout: 30)
    #expect(fill.exitCode == 0, "\(String(decoding: fill.stderr, as: UTF8.self))")
    let filled = try await f.containerStats(id)
    let grown = filled.memory.workingSetBytes.value
    #expect(grown >= idle.memory.workingSetBytes.value + 46 * mib, "\(grown)")
    #expect(grown <= UInt64(limit), "within the limit: \(grown)")
    #expect(filled.memory.usageBytes.value >= grown)
    #expect(filled.memory.availableBytes.value == UInt64(limit) - grown)

    // 2. CPU: a busy loop of 2 to 3 s in the container (on a shared host it may get less than a core).
    let before = try await f.containerStats(id)
    let started = ContinuousClock.now
    let burn = try await f.execSync(
      id, ["sh", "-c", "i=0; end=$(($(busybox date +%s) + 3)); while [ $(busybox date +%s) -lt $end ]; do i=$((i+1)); done"],
      timeout: 30)
    #expect(burn.exitCode == 0)
    let wall = ContinuousClock.now - started
    let after = try await f.containerStats(id)
    let used = after.cpu.usageCoreNanoSeconds.value - before.cpu.usageCoreNanoSeconds.value
    let wallNanos = UInt64(wall.components.seconds) * 1_000_000_000 + UInt64(wall.components.attoseconds / 1_000_000_000)
    let cores = UInt64(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    #expect(used >= 500_000_000, "at least 0.5 s of CPU: \(used)")
    #expect(used <= wallNanos * cores + 100_000_000, "no more than the cores could give: \(used) in \(wall)")
    // The rate since the previous sample covers the busy loop.
    let rate = after.cpu.usageNanoCores.value
    #expect(rate >= 150_000_000, "at least 0.15 core on average: \(rate)")
    #expect(rate <= cores * 1_000_000_000 + 50_000_000, "\(rate)")

    // 3. The writable layer: a 5 MiB file and its inode.
    let layerBefore = after.writableLayer
    let write = try await f.execSync(id, ["busybox", "dd", "if=/dev/urandom", "of=/grown.bin", "bs=1M", "count=5"], timeout: 30)
    #expect(write.exitCode == 0)
    let layerAfter = try await f.containerStats(id).writableLayer
    #expect(layerAfter.usedBytes.value >= layerBefore.usedBytes.value + 5 * mib)
    #expect(layerAfter.usedBytes.value <= layerBefore.usedBytes.value + 6 * mib)
    #expect(layerAfter.inodesUsed.value == layerBefore.inodesUsed.value + 1)

    // Filters: ID, pod, labels, none.
    let other = try await f.create(pod, name: "other", command: ["sleep", "60"]) { _ in }
    var byID = Runtime_V1_ContainerStatsFilter()
    byID.id = id
    #expect(try await f.listContainerStats(byID).map(\.attributes.id) == [id])
    var byPod = Runtime_V1_ContainerStatsFilter()
    byPod.podSandboxID = pod.0
    #expect(Set(try await f.listContainerStats(byPod).map(\.attributes.id)) == [id, other])
    var byLabel = Runtime_V1_ContainerStatsFilter()
    byLabel.labelSelector = ["role": "worker"]
    #expect(try await f.listContainerStats(byLabel).map(\.attributes.id) == [id])
    byLabel.labelSelector = ["role": "nobody"]
    #expect(try await f.listContainerStats(byLabel).isEmpty)
    #expect(Set(try await f.listContainerStats(nil).map(\.attributes.id)) == [id, other])
    let createdOnly = try await f.listContainerStats(nil).first { $0.attributes.id == other }
    #expect(createdOnly?.cpu.timestamp ?? 0 > 0, "a created container has stats too")

    // The pod: the sum of its containers (no cgroup parent here), its processes, the running containers.
    let podStats = try await f.podStats(pod.0)
    #expect(podStats.attributes.id == pod.0)
    #expect(podStats.attributes.metadata.name == "busy")
    #expect(podStats.linux.cpu.usageCoreNanoSeconds.value >= after.cpu.usageCoreNanoSeconds.value)
    #expect(podStats.linux.memory.workingSetBytes.value >= 46 * mib)
    #expect(podStats.linux.process.processCount.value >= 1)
    #expect(podStats.linux.containers.map(\.attributes.id).contains(id))

    let missing = await #expect(throws: RPCError.self) { try await f.containerStats("0123456789abcdef") }
    #expect(missing?.code == .notFound)
    let missingPod = await #expect(throws: RPCError.self) { try await f.podStats("0123456789abcdef") }
    #expect(missingPod?.code == .notFound)

    // crioctl: the table and JSON forms.
    let crioctl = try Binaries.path(of: "crioctl")
    let endpoint = ["-r", "unix://\(f.dir.socket)"]
    let table = try runCommand(crioctl, endpoint + ["stats", "-s", "1"])
    #expect(table.status == 0)
    #expect(table.output.contains("CPU %") && table.output.contains("worker"), "\(table.output)")
    let json = try runCommand(crioctl, endpoint + ["stats", "-o", "json", "--label", "role=worker"])
    #expect(json.output.contains("\"workingSetBytes\""), "\(json.output)")
    #expect(!json.output.contains("\"other\""))
    let pods = try runCommand(crioctl, endpoint + ["statsp", "-s", "1"])
    #expect(pods.output.contains("busy") && pods.output.contains("MEM"), "\(pods.output)")

    try await f.removePod(pod.0)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "\(f.conmons)")
    try await f.images.stop()
  }

  @Test func podNetworkCountersGrowWithTrafficBetweenTwoPods() async throws {
    let f = try await ContainerTests.Fixture()
    let network = TestBridgeNetwork(dir: f.dir)
    defer { network.removeBridge() }
    // Lexically before the fixture's loopback-only network: the default one.
    try network.conflist.write(toFile: "\(f.dir.cniDir)/05-bridge.conflist", atomically: true, encoding: .utf8)
    let a = try await f.runPod("net-a")
    let b = try await f.runPod("net-b")
    let ipB = try await f.call {
      var request = Runtime_V1_PodSandboxStatusRequest()
      request.podSandboxID = b.0
      return try await $0.runtime.podSandboxStatus(request, options: $0.options).status.network.ip
    }
    let pinger = try await f.create(a, name: "pinger", command: ["sleep", "600"]) {
      $0.linux.securityContext.capabilities.addCapabilities = ["NET_RAW"]
    }
    let sleeper = try await f.create(b, name: "sleeper", command: ["sleep", "600"]) { _ in }
    for id in [pinger, sleeper] { try await f.start(id) }

    let beforeA = try await f.podStats(a.0).linux.network
    let beforeB = try await f.podStats(b.0).linux.network
    #expect(beforeA.defaultInterface.name == "eth0")
    #expect(!beforeA.interfaces.contains { $0.name == "lo" }, "loopback is not the pod's traffic")
    // One packet per ping: processes ExecSync starts inherit a mask that blocks SIGALRM, which
    // busybox ping needs between packets.
    let ping = try await f.execSync(
      pinger, ["sh", "-c", "for i in 1 2 3 4 5; do busybox ping -c 1 -s 1000 -W 3 \(ipB) || exit 1; done"], timeout: 30)
    #expect(ping.exitCode == 0, "\(String(decoding: ping.stdout + ping.stderr, as: UTF8.self))")
    let afterA = try await f.podStats(a.0).linux.network
    let afterB = try await f.podStats(b.0).linux.network
    #expect(afterA.defaultInterface.txBytes.value >= beforeA.defaultInterface.txBytes.value + 5 * 1000)
    #expect(afterA.defaultInterface.rxBytes.value >= beforeA.defaultInterface.rxBytes.value + 5 * 1000)
    #expect(afterB.defaultInterface.rxBytes.value >= beforeB.defaultInterface.rxBytes.value + 5 * 1000)
    #expect(afterB.defaultInterface.txBytes.value >= beforeB.defaultInterface.txBytes.value + 5 * 1000)
    #expect(afterA.timestamp > beforeA.timestamp)

    // The same counters as metrics, and the metric set critest checks ("listing pod sandbox metrics").
    let (descriptors, metrics) = try await f.call {
      let descriptors = try await $0.runtime.listMetricDescriptors(
        Runtime_V1_ListMetricDescriptorsRequest(), options: $0.options).descriptors
      let metrics = try await $0.runtime.listPodSandboxMetrics(
        Runtime_V1_ListPodSandboxMetricsRequest(), options: $0.options).podMetrics
      return (descriptors, metrics)
    }
    let podA = try #require(metrics.first { $0.podSandboxID == a.0 })
    let rx = podA.metrics.first { $0.name == "container_network_receive_bytes_total" && $0.labelValues.last == "eth0" }
    #expect(rx?.labelValues == [a.0, "POD", "", "eth0"])
    #expect((rx?.value.value ?? 0) >= afterA.defaultInterface.rxBytes.value)
    #expect(podA.containerMetrics.map(\.containerID) == [pinger])
    CriticalMetrics.check(descriptors: descriptors, pod: podA)
    // `sleep 600` waits in the kernel: sleeping; the states are counted from its threads.
    let states = Dictionary(
      uniqueKeysWithValues: (podA.containerMetrics.first?.metrics ?? []).filter { $0.name == "container_tasks_state" }
        .map { ($0.labelValues.last ?? "", $0.value.value) })
    #expect(Set(states.keys) == ["sleeping", "running", "stopped", "uninterruptible"])
    #expect(states["sleeping"] == 1 && states.values.reduce(0, +) == 1, "\(states)")
    let hugetlb = descriptors.filter { $0.name.hasPrefix("container_hugetlb_") }
    #expect(hugetlb.isEmpty != CriticalMetrics.hostHasHugeTLB, "hugetlb is described exactly when the host has the controller")

    try await f.removePod(a.0)
    try await f.removePod(b.0)
    #expect(network.allocatedIPs.isEmpty)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "\(f.conmons)")
    try await f.images.stop()
  }

  @Test func includedPodMetricsSelectsFamilies() async throws {
    let f = try await ContainerTests.Fixture(extraConfig: "[crio.stats]\nincluded_pod_metrics = [\"cpu\", \"oom\"]\n")
    let pod = try await f.runPod("few")
    let id = try await f.create(pod, name: "c", command: ["sleep", "60"]) { _ in }
    try await f.start(id)
    let (descriptors, metrics) = try await f.call {
      let descriptors = try await $0.runtime.listMetricDescriptors(
        Runtime_V1_ListMetricDescriptorsRequest(), options: $0.options).descriptors
      let metrics = try await $0.runtime.listPodSandboxMetrics(
        Runtime_V1_ListPodSandboxMetricsRequest(), options: $0.options).podMetrics
      return (descriptors, metrics)
    }
    let names = Set(descriptors.map(\.name))
    #expect(names.contains("container_cpu_usage_seconds_total"))
    #expect(names.contains("container_oom_events_total"))
    #expect(names.contains("container_last_seen"), "always reported")
    #expect(!names.contains("container_memory_usage_bytes"))
    #expect(!names.contains("container_network_receive_bytes_total"))
    let reported = Set(metrics.flatMap { $0.metrics + $0.containerMetrics.flatMap(\.metrics) }.map(\.name))
    #expect(reported.isSubset(of: names), "\(reported.subtracting(names))")
    let usage = metrics.first { $0.podSandboxID == pod.0 }?.containerMetrics.first?.metrics
      .first { $0.name == "container_cpu_usage_seconds_total" }
    #expect(usage?.labelValues == [id, "c", "registry.test/test/busybox:1", "total"])
    #expect(usage?.metricType == .counter)
    try await f.removePod(pod.0)
    try await f.images.stop()
  }
}

/// What critest's "runtime should support returning metrics descriptors" and
/// "runtime should support listing pod sandbox metrics" check (cri-tools'
/// pkg/validate/pod.go, for Kubernetes 1.37): every expected name is
/// described, with help and labels, and reported for the pod with as many
/// label values as its descriptor has keys.
enum CriticalMetrics {
  static let expected = [
    "container_blkio_device_usage_total", "container_cpu_cfs_periods_total",
    "container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_throttled_seconds_total",
    "container_cpu_system_seconds_total", "container_cpu_usage_seconds_total", "container_cpu_user_seconds_total",
    "container_file_descriptors", "container_fs_inodes_free", "container_fs_inodes_total", "container_fs_limit_bytes",
    "container_fs_reads_bytes_total", "container_fs_reads_total", "container_fs_usage_bytes",
    "container_fs_writes_bytes_total", "container_fs_writes_total", "container_hugetlb_max_usage_bytes",
    "container_hugetlb_usage_bytes", "container_last_seen", "container_memory_cache", "container_memory_failcnt",
    "container_memory_failures_total", "container_memory_kernel_usage", "container_memory_mapped_file",
    "container_memory_max_usage_bytes", "container_memory_rss", "container_memory_swap",
    "container_memory_usage_bytes", "container_memory_working_set_bytes", "container_network_receive_bytes_total",
    "container_network_receive_errors_total", "container_network_receive_packets_dropped_total",
    "container_network_receive_packets_total", "container_network_transmit_bytes_total",
    "container_network_transmit_errors_total", "container_network_transmit_packets_dropped_total",
    "container_network_transmit_packets_total", "container_oom_events_total",
    "container_pressure_cpu_stalled_seconds_total", "container_pressure_cpu_waiting_seconds_total",
    "container_pressure_io_stalled_seconds_total", "container_pressure_io_waiting_seconds_total",
    "container_pressure_memory_stalled_seconds_total", "container_pressure_memory_waiting_seconds_total",
    "container_processes", "container_sockets", "container_spec_cpu_period", "container_spec_cpu_quota",
    "container_spec_cpu_shares", "container_spec_memory_limit_bytes", "container_spec_memory_reservation_limit_bytes",
    "container_spec_memory_swap_limit_bytes", "container_start_time_seconds", "container_threads",
    "container_threads_max", "container_ulimits_soft",
  ]
  /// Whether this host's cgroups have the hugetlb controller (v1: mounted; v2: listed at the root).
  static var hostHasHugeTLB: Bool {
    if let controllers = try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8) {
      return controllers.split(whereSeparator: \.isWhitespace).contains("hugetlb")
    }
    return (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/hugetlb"))?
      .contains { $0.hasPrefix("hugetlb.") } ?? false
  }

  static var unimplemented: Set<String> {
    hostHasHugeTLB ? unimplementedHere : unimplementedHere.union(["container_hugetlb_max_usage_bytes", "container_hugetlb_usage_bytes"])
  }
  static let unimplementedHere: Set<String> = [
    "container_pressure_cpu_stalled_seconds_total", "container_pressure_cpu_waiting_seconds_total",
    "container_pressure_io_stalled_seconds_total", "container_pressure_io_waiting_seconds_total",
    "container_pressure_memory_stalled_seconds_total", "container_pressure_memory_waiting_seconds_total",
    "container_spec_cpu_quota", "container_spec_memory_reservation_limit_bytes", "container_ulimits_soft",
  ]
  static let optional: Set<String> = [
    "container_blkio_device_usage_total", "container_fs_reads_bytes_total", "container_fs_reads_total",
    "container_fs_writes_bytes_total", "container_fs_writes_total",
  ]

  static func check(descriptors: [Runtime_V1_MetricDescriptor], pod: Runtime_V1_PodSandboxMetrics) {
    let described = Dictionary(descriptors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    for descriptor in descriptors {
      #expect(!descriptor.help.isEmpty, "\(descriptor.name) has help")
      #expect(!descriptor.labelKeys.isEmpty, "\(descriptor.name) has label keys")
    }
    let undescribed = expected.filter { described[$0] == nil && !unimplemented.contains($0) }
    #expect(undescribed.isEmpty, "not described: \(undescribed)")
    var found: [String: [String]] = [:]
    for metric in pod.metrics + pod.containerMetrics.flatMap(\.metrics) where found[metric.name]?.isEmpty ?? true {
      found[metric.name] = metric.labelValues
    }
    let missing = expected.filter { (found[$0]?.isEmpty ?? true) && !optional.contains($0) && !unimplemented.contains($0) }
    #expect(missing.isEmpty, "not reported: \(missing)")
    let mismatched = descriptors.filter { descriptor in
      guard let values = found[descriptor.name] else {
        return !optional.contains(descriptor.name) && !unimplemented.contains(descriptor.name)
      }
      return values.count != descriptor.labelKeys.count
    }.map(\.name)
    #expect(mismatched.isEmpty, "labels differ from the descriptor, or described but not reported: \(mismatched)")
  }
}
