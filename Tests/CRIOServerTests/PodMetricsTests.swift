import CRIAPI
import CRIOSystem
import Testing

@testable import CRIORuntime
@testable import CRIOServer

private func record() -> ContainerRecord {
  ContainerRecord(
    id: "c0ffee", sandboxID: "pod1", runtimeHandler: "", spec: ContainerSpec(name: "app"),
    image: ContainerImage(
      id: "img", name: "busybox:1", ref: "busybox@sha256:00", layers: [], env: [], entrypoint: [], cmd: [], workingDir: "",
      user: "", stopSignal: ""),
    state: .running, createdAt: 1_000_000_000, startedAt: 2_000_000_000, finishedAt: 0, exitCode: 0, reason: "",
    message: "", pid: 42, logPath: "", bundle: "/b", layerDirectory: "/l", uid: 0, gid: 0)
}

private func usage(taskStates: TaskStates?, hugetlb: [CgroupStats.HugeTLB]) -> ContainerUsage {
  var cgroup = CgroupStats()
  cgroup.hugetlb = hugetlb
  var usage = ContainerUsage(
    id: "c0ffee", timestamp: 5_000_000_000, cgroup: cgroup, cpuNanoCores: nil, writableLayer: DiskUsage(),
    filesystem: nil)
  usage.taskStates = taskStates
  return usage
}

private func values(_ metrics: [Runtime_V1_Metric], _ name: String) -> [[String]: UInt64] {
  Dictionary(uniqueKeysWithValues: metrics.filter { $0.name == name }.map { (Array($0.labelValues.dropFirst(3)), $0.value.value) })
}

@Suite struct PodMetricsTests {
  @Test func tasksStateAndHugeTLBAreInTheirFamilies() {
    let all = PodMetrics.enabled(families: PodMetrics.families(["all"]), unified: false, hugetlb: true)
    #expect(all.contains { $0.name == "container_tasks_state" && $0.family == "process" && $0.labels == ["state"] })
    #expect(all.contains { $0.name == "container_hugetlb_usage_bytes" && $0.labels == ["pagesize"] })
    #expect(all.contains { $0.name == "container_hugetlb_max_usage_bytes" })
    #expect(!all.contains { $0.name == "container_cpu_load_average_10s" }, "not computed: see docs/stats.md")

    let noHugeTLB = PodMetrics.enabled(families: PodMetrics.families(["all"]), unified: false, hugetlb: false)
    #expect(!noHugeTLB.contains { $0.family == "hugetlb" }, "nothing to report without the controller")
    let cpuOnly = PodMetrics.enabled(families: ["cpu"], unified: false, hugetlb: true)
    #expect(!cpuOnly.contains { $0.name == "container_tasks_state" || $0.family == "hugetlb" })
    let hugetlbOnly = PodMetrics.enabled(families: ["hugetlb"], unified: true, hugetlb: true)
    #expect(Set(hugetlbOnly.map(\.name)) == [
      "container_last_seen", "container_start_time_seconds", "container_hugetlb_usage_bytes",
    ], "cgroup v2 keeps no hugetlb peak")
  }

  @Test func aContainerReportsEachStateAndPageSize() {
    let enabled = PodMetrics.enabled(families: PodMetrics.families(["all"]), unified: false, hugetlb: true)
    let metrics = PodMetrics.container(
      record(),
      usage(
        taskStates: TaskStates(running: 1, sleeping: 3, uninterruptible: 0, stopped: 2),
        hugetlb: [.init(pageSize: "2MB", usage: 4_194_304, maxUsage: 6_291_456), .init(pageSize: "1GB", usage: 0)]),
      enabled: enabled)
    #expect(values(metrics, "container_tasks_state") == [
      ["sleeping"]: 3, ["running"]: 1, ["stopped"]: 2, ["uninterruptible"]: 0,
    ])
    #expect(values(metrics, "container_hugetlb_usage_bytes") == [["2MB"]: 4_194_304, ["1GB"]: 0])
    #expect(values(metrics, "container_hugetlb_max_usage_bytes") == [["2MB"]: 6_291_456], "v2 keeps no peak: left out")
    let descriptors = Dictionary(uniqueKeysWithValues: enabled.map { ($0.name, $0.descriptor) })
    for metric in metrics {
      #expect(metric.labelValues.count == descriptors[metric.name]?.labelKeys.count, "\(metric.name)")
      #expect(Array(metric.labelValues.prefix(3)) == ["c0ffee", "app", "busybox:1"])
    }
  }

  @Test func withoutADetailedSampleThereAreNoTaskStates() {
    let enabled = PodMetrics.enabled(families: ["process"], unified: false, hugetlb: false)
    let metrics = PodMetrics.container(record(), usage(taskStates: nil, hugetlb: []), enabled: enabled)
    #expect(!metrics.contains { $0.name == "container_tasks_state" })
  }
}
