import CRIAPI
import GRPCCore
import GRPCNIOTransportHTTP2

/// Clients for both CRI services on one endpoint, for the duration of a closure.
public struct CRIConnection: Sendable {
  public let runtime: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>
  public let image: Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>
  /// Call options carrying the deadline each call gets.
  public let options: CallOptions

  /// Connects to `endpoint`, runs `body`, then closes the connection.
  /// - Parameter timeout: the deadline of each call.
  public static func with<Result: Sendable>(
    _ endpoint: CRIEndpoint,
    timeout: Duration = .seconds(10),
    maxResponseSize: Int = 80 * 1024 * 1024,
    _ body: (CRIConnection) async throws -> Result
  ) async throws -> Result {
    let transport = try HTTP2ClientTransport.Posix(
      target: .unixDomainSocket(path: endpoint.socketPath),
      transportSecurity: .plaintext)
    return try await withGRPCClient(transport: transport) { client in
      var options = CallOptions.defaults
      options.timeout = timeout
      options.maxResponseMessageBytes = maxResponseSize
      let connection = CRIConnection(
        runtime: Runtime_V1_RuntimeService.Client(wrapping: client),
        image: Runtime_V1_ImageService.Client(wrapping: client),
        options: options)
      return try await body(connection)
    }
  }
}
