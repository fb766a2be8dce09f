import CRIAPI
import GRPCCore

// RPCs that have no real implementation yet. Each answers UNIMPLEMENTED
// naming itself; an RPC moves out of this file when it lands.
extension ImageService {
  public func listImages(
    request: Runtime_V1_ListImagesRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ListImagesResponse {
    throw CRIError.unimplemented(rpc: "ListImages")
  }

  public func streamImages(
    request: Runtime_V1_StreamImagesRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamImagesResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamImages")
  }

  public func imageStatus(
    request: Runtime_V1_ImageStatusRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ImageStatusResponse {
    throw CRIError.unimplemented(rpc: "ImageStatus")
  }

  public func pullImage(
    request: Runtime_V1_PullImageRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_PullImageResponse {
    throw CRIError.unimplemented(rpc: "PullImage")
  }

  public func removeImage(
    request: Runtime_V1_RemoveImageRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_RemoveImageResponse {
    throw CRIError.unimplemented(rpc: "RemoveImage")
  }
}
