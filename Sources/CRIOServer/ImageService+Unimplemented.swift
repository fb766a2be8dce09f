import CRIAPI
import GRPCCore

// RPCs that have no real implementation yet. Each answers UNIMPLEMENTED
// naming itself; an RPC moves out of this file when it lands.
extension ImageService {
  public func streamImages(
    request: Runtime_V1_StreamImagesRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_StreamImagesResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    throw CRIError.unimplemented(rpc: "StreamImages")
  }

}
