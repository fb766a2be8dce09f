import CRIAPI
import GRPCCore

// RPCs that have no real implementation yet. Each answers UNIMPLEMENTED
// naming itself; an RPC moves out of this file when it lands.
extension RuntimeService {
  public func streamPodSandboxes(
    request: Runtime_V1_StreamPodSandboxesRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxesResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamPodSandboxes")
  }

  public func streamContainers(
    request: Runtime_V1_StreamContainersRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamContainersResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamContainers")
  }

  public func containerStats(
    request: Runtime_V1_ContainerStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ContainerStatsResponse {
    throw CRIError.unimplemented(rpc: "ContainerStats")
  }

  public func listContainerStats(
    request: Runtime_V1_ListContainerStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListContainerStatsResponse {
    throw CRIError.unimplemented(rpc: "ListContainerStats")
  }

  public func streamContainerStats(
    request: Runtime_V1_StreamContainerStatsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamContainerStatsResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamContainerStats")
  }

  public func podSandboxStats(
    request: Runtime_V1_PodSandboxStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_PodSandboxStatsResponse {
    throw CRIError.unimplemented(rpc: "PodSandboxStats")
  }

  public func listPodSandboxStats(
    request: Runtime_V1_ListPodSandboxStatsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
    throw CRIError.unimplemented(rpc: "ListPodSandboxStats")
  }

  public func streamPodSandboxStats(
    request: Runtime_V1_StreamPodSandboxStatsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamPodSandboxStats")
  }

  public func updateRuntimeConfig(
    request: Runtime_V1_UpdateRuntimeConfigRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_UpdateRuntimeConfigResponse {
    throw CRIError.unimplemented(rpc: "UpdateRuntimeConfig")
  }

  public func checkpointContainer(
    request: Runtime_V1_CheckpointContainerRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_CheckpointContainerResponse {
    throw CRIError.unimplemented(rpc: "CheckpointContainer")
  }

  public func getContainerEvents(
    request: Runtime_V1_GetEventsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_ContainerEventResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "GetContainerEvents")
  }

  public func listMetricDescriptors(
    request: Runtime_V1_ListMetricDescriptorsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
    throw CRIError.unimplemented(rpc: "ListMetricDescriptors")
  }

  public func listPodSandboxMetrics(
    request: Runtime_V1_ListPodSandboxMetricsRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
    throw CRIError.unimplemented(rpc: "ListPodSandboxMetrics")
  }

  public func streamPodSandboxMetrics(
    request: Runtime_V1_StreamPodSandboxMetricsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamPodSandboxMetrics")
  }

  public func updatePodSandboxResources(
    request: Runtime_V1_UpdatePodSandboxResourcesRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
    throw CRIError.unimplemented(rpc: "UpdatePodSandboxResources")
  }
}
