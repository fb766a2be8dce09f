import CRIAPI
import GRPCCore
import GRPCNIOTransportHTTP2

/// A CRI connection that stays open until `close()`, for clients that keep
/// one across many calls and need to replace it (crio-bench). The HTTP/2
/// connection is established on the first call.
///
/// Against a grpc-go server (containerd, CRI-O) a client sees an RST_STREAM
/// (NO_ERROR) after many unary calls, and the transport closes a connection
/// that receives more than 200 of them within 10 s (SwiftNIO's rapid-reset
/// guard): a busy client has to move to a fresh connection before that.
public final class PersistentCRIConnection: Sendable {
  public let connection: CRIConnection
  private let client: GRPCClient<HTTP2ClientTransport.Posix>
  private let runner: Task<Void, any Error>

  public init(_ endpoint: CRIEndpoint, timeout: Duration = .seconds(10), maxResponseSize: Int = 80 * 1024 * 1024) throws {
    let transport = try HTTP2ClientTransport.Posix(
      target: .unixDomainSocket(path: endpoint.socketPath),
      transportSecurity: .plaintext)
    let client = GRPCClient(transport: transport)
    self.client = client
    runner = Task { try await client.runConnections() }
    var options = CallOptions.defaults
    options.timeout = timeout
    options.maxResponseMessageBytes = maxResponseSize
    connection = CRIConnection(
      runtime: Runtime_V1_RuntimeService.Client(wrapping: client),
      image: Runtime_V1_ImageService.Client(wrapping: client),
      options: options)
  }

  /// Lets in-flight calls finish, then closes the connection.
  public func close() async {
    client.beginGracefulShutdown()
    _ = await runner.result
  }
}
