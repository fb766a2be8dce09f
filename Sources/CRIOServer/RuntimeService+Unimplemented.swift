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

  public func checkpointContainer(
    request: Runtime_V1_CheckpointContainerRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_CheckpointContainerResponse {
    throw CRIError.unimplemented(rpc: "CheckpointContainer")
  }

  public func updatePodSandboxResources(
    request: Runtime_V1_UpdatePodSandboxResourcesRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
    throw CRIError.unimplemented(rpc: "UpdatePodSandboxResources")
  }
}
