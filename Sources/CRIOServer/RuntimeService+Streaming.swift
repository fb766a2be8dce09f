import CRIAPI
import CRIORuntime
import CRIOStreaming
import GRPCCore

/// Exec, Attach and PortForward: each checks its target and returns a
/// single-use URL on the streaming server, which does the work.
extension RuntimeService {
  public func exec(
    request: Runtime_V1_ExecRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_ExecResponse {
    guard !request.cmd.isEmpty else { throw CRIError.invalidArgument("Exec needs a command (cmd is empty)") }
    try Self.validateStreams(stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, tty: request.tty)
    var request = request
    request.containerID = try await runningContainer(request.containerID).id
    var response = Runtime_V1_ExecResponse()
    response.url = try streaming.url(for: .exec(request))
    return response
  }

  public func attach(
    request: Runtime_V1_AttachRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_AttachResponse {
    try Self.validateStreams(stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, tty: request.tty)
    var request = request
    request.containerID = try await runningContainer(request.containerID).id
    var response = Runtime_V1_AttachResponse()
    response.url = try streaming.url(for: .attach(request))
    return response
  }

  public func portForward(
    request: Runtime_V1_PortForwardRequest,
    context: GRPCCore.ServerContext
  ) async throws -> Runtime_V1_PortForwardResponse {
    guard let sandbox = try await sandboxes.find(request.podSandboxID) else {
      throw SandboxError.notFound(request.podSandboxID)
    }
    guard sandbox.state == .ready else { throw ContainerError.sandboxNotReady(sandbox.id) }
    for port in request.port where !(1...65535).contains(port) {
      throw CRIError.invalidArgument("port \(port) is not a valid port number")
    }
    var request = request
    request.podSandboxID = sandbox.id
    var response = Runtime_V1_PortForwardResponse()
    response.url = try streaming.url(for: .portForward(request))
    return response
  }

  private func runningContainer(_ id: String) async throws -> ContainerRecord {
    guard let record = try await containers.find(id) else { throw ContainerError.notFound(id) }
    guard record.state == .running else {
      throw ContainerError.failedPrecondition("container \(record.id) is not running (\(record.state.rawValue))")
    }
    return record
  }

  /// The checks of Kubernetes' streaming server.
  static func validateStreams(stdin: Bool, stdout: Bool, stderr: Bool, tty: Bool) throws {
    if tty && stderr { throw CRIError.invalidArgument("tty and stderr cannot both be true") }
    if !stdin && !stdout && !stderr { throw CRIError.invalidArgument("one of stdin, stdout, or stderr must be set") }
  }
}

/// The streaming server's view of the runtime.
struct RuntimeStreamingBackend: StreamingBackend {
  let containers: ContainerManager
  let sandboxes: SandboxManager

  func startExec(_ request: Runtime_V1_ExecRequest) async throws -> ExecProcess {
    try await containers.startExec(
      request.containerID, command: request.cmd, tty: request.tty, stdin: request.stdin, stdout: request.stdout,
      stderr: request.stderr && !request.tty)
  }

  func attachEndpoint(_ request: Runtime_V1_AttachRequest) async throws -> AttachEndpoint {
    try await containers.attachEndpoint(request.containerID)
  }

  func portForwardNamespace(_ request: Runtime_V1_PortForwardRequest) async throws -> String? {
    try await sandboxes.portForwardNamespace(request.podSandboxID)
  }
}
