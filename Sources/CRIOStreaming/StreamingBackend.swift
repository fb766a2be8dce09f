import CRIAPI
import CRIORuntime

/// What the streaming server needs from the runtime. The CRI server
/// implements it over the container and sandbox managers.
public protocol StreamingBackend: Sendable {
  /// Starts the exec'd process (the request was validated when the URL was issued).
  func startExec(_ request: Runtime_V1_ExecRequest) async throws -> ExecProcess
  /// conmon's attach socket for the container.
  func attachEndpoint(_ request: Runtime_V1_AttachRequest) async throws -> AttachEndpoint
  /// The network namespace to connect from (nil: the host's).
  func portForwardNamespace(_ request: Runtime_V1_PortForwardRequest) async throws -> String?
}
