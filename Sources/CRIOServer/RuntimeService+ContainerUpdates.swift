import CRIAPI
import CRIORuntime
import GRPCCore

/// Container RPCs that change a running container: log reopening.
extension RuntimeService {
  public func reopenContainerLog(
    request: Runtime_V1_ReopenContainerLogRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ReopenContainerLogResponse {
    try await containers.reopenLog(request.containerID)
    return Runtime_V1_ReopenContainerLogResponse()
  }
}
