import CRIAPI
import CRIORuntime
import GRPCCore

/// ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor-style metrics
/// of every pod and its containers, for the families `[crio.stats]
/// included_pod_metrics` names.
extension RuntimeService {
  var enabledPodMetrics: [PodMetric] {
    PodMetrics.enabled(
      families: PodMetrics.families(config.stats.includedPodMetrics), unified: stats.unifiedHierarchy,
      hugetlb: stats.hasHugeTLB)
  }

  public func listMetricDescriptors(
    request: Runtime_V1_ListMetricDescriptorsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
    var response = Runtime_V1_ListMetricDescriptorsResponse()
    response.descriptors = enabledPodMetrics.map(\.descriptor)
    return response
  }

  public func listPodSandboxMetrics(
    request: Runtime_V1_ListPodSandboxMetricsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
    var response = Runtime_V1_ListPodSandboxMetricsResponse()
    response.podMetrics = await podMetricsList()
    return response
  }

  public func streamPodSandboxMetrics(
    request: Runtime_V1_StreamPodSandboxMetricsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    for page in Self.pages(await podMetricsList()) {
      var message = Runtime_V1_StreamPodSandboxMetricsResponse()
      message.podSandboxMetrics = page
      try await response.write(message)
    }
  }

  /// Every pod's metrics, with those of its containers that have not exited.
  func podMetricsList() async -> [Runtime_V1_PodSandboxMetrics] {
    let enabled = enabledPodMetrics
    var list: [Runtime_V1_PodSandboxMetrics] = []
    for sandbox in await sandboxes.list() {
      let members = await containers.inSandbox(sandbox.id).filter { $0.state != .exited }
      let usage = await stats.pod(
        sandbox, containers: members, infra: await containers.infraContainer(sandbox.id), detailed: true)
      var metrics = Runtime_V1_PodSandboxMetrics()
      metrics.podSandboxID = sandbox.id
      metrics.metrics = PodMetrics.pod(sandbox, usage, enabled: enabled)
      metrics.containerMetrics = zip(members, usage.containers).map { record, containerUsage in
        var entry = Runtime_V1_ContainerMetrics()
        entry.containerID = record.id
        entry.metrics = PodMetrics.container(record, containerUsage, enabled: enabled)
        return entry
      }
      list.append(metrics)
    }
    await forgetGoneSamples()
    return list
  }
}
