import Testing

@testable import CRIOServer

@Suite struct OOMMetricsTests {
  @Test func theTotalStartsAtZeroAndEachKillCountsByName() throws {
    let metrics = RuntimeMetrics()
    #expect(metrics.exposition().contains("\ncontainer_runtime_crio_containers_oom_total 0\n"))
    metrics.recordOOMKill(containerName: "k8s_a_pod_ns_uid_0")
    metrics.recordOOMKill(containerName: "k8s_b_pod_ns_uid_0")
    metrics.recordOOMKill(containerName: "k8s_a_pod_ns_uid_0")
    let text = metrics.exposition()
    #expect(text.contains("# TYPE container_runtime_crio_containers_oom_total counter"))
    #expect(text.contains("\ncontainer_runtime_crio_containers_oom_total 3\n"))
    #expect(text.contains(#"container_runtime_crio_containers_oom_count_total{name="k8s_a_pod_ns_uid_0"} 2"#))
    #expect(text.contains(#"container_runtime_crio_containers_oom_count_total{name="k8s_b_pod_ns_uid_0"} 1"#))
  }
}
