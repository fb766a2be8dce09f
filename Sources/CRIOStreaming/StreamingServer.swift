import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import SPDY

/// Where and how the streaming server listens.
public struct StreamingServerConfiguration: Sendable {
  public var address: String
  public var port: Int
  /// A connection with no traffic for this long is closed.
  public var idleTimeout: Duration
  /// How long a client has to open all the streams it announced.
  public var streamCreationTimeout: Duration
  /// Serve HTTPS with this configuration (nil: plain HTTP).
  public var tls: TLSConfiguration?

  public init(
    address: String = "127.0.0.1", port: Int = 0, idleTimeout: Duration = .seconds(4 * 3600),
    streamCreationTimeout: Duration = .seconds(30), tls: TLSConfiguration? = nil
  ) {
    self.address = address
    self.port = port
    self.idleTimeout = idleTimeout
    self.streamCreationTimeout = streamCreationTimeout
    self.tls = tls
  }

  /// A server TLS configuration from PEM files; with `clientCA`, clients
  /// must present a certificate that CA signed.
  public static func tls(certificate: String, key: String, clientCA: String?) throws -> TLSConfiguration {
    var tls = TLSConfiguration.makeServerConfiguration(
      certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
      privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
    if let clientCA, !clientCA.isEmpty {
      tls.trustRoots = .file(clientCA)
      tls.certificateVerification = .noHostnameVerification
    }
    return tls
  }
}

public enum StreamingServerError: Error, CustomStringConvertible {
  case notStarted

  public var description: String { "the streaming server is not running" }
}

/// The HTTP server behind the Exec, Attach and PortForward URLs: routes
/// `/exec/{token}`, `/attach/{token}` and `/portforward/{token}`, upgraded
/// to SPDY/3.1 (what the kubelet speaks) or WebSocket.
public final class StreamingServer: Sendable {
  public let tokens: StreamTokens
  let configuration: StreamingServerConfiguration
  let backend: StreamingBackend
  let group: EventLoopGroup
  let logger: Logger
  private let listener = NIOLockedValueBox<(channel: Channel, base: String)?>(nil)

  public init(
    configuration: StreamingServerConfiguration, backend: StreamingBackend, group: EventLoopGroup,
    tokens: StreamTokens = StreamTokens(), logger: Logger
  ) {
    self.configuration = configuration
    self.backend = backend
    self.group = group
    self.tokens = tokens
    self.logger = logger
  }

  /// Binds the listening socket.
  public func start() async throws {
    let idle = configuration.idleTimeout
    let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { [self] channel in
        channel.eventLoop.makeCompletedFuture {
          if let sslContext {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
          }
          try channel.pipeline.syncOperations.addHandler(
            IdleStateHandler(allTimeout: TimeAmount.nanoseconds(Int64(idle.components.seconds) * 1_000_000_000)))
          try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser())
          try self.configureHTTP(channel)
        }
      }
      .bind(host: configuration.address, port: configuration.port).get()
    guard let address = channel.localAddress, let port = address.port else { throw StreamingServerError.notStarted }
    var host = configuration.address
    if host.isEmpty || host == "0.0.0.0" || host == "::" { host = "127.0.0.1" }
    if host.contains(":") { host = "[\(host)]" }
    let scheme = configuration.tls == nil ? "http" : "https"
    listener.withLockedValue { $0 = (channel, "\(scheme)://\(host):\(port)") }
    logger.info("Streaming server listening", metadata: ["address": "\(host):\(port)"])
  }

  /// `http://host:port` (or https), once started.
  public var baseURL: String? { listener.withLockedValue { $0?.base } }

  /// A single-use URL for `request`.
  public func url(for request: StreamRequest) throws -> String {
    guard let base = baseURL else { throw StreamingServerError.notStarted }
    let token = try tokens.issue(request)
    return "\(base)/\(request.route)/\(token)"
  }

  public func stop() async {
    let channel = listener.withLockedValue { value -> Channel? in
      defer { value = nil }
      return value?.channel
    }
    try? await channel?.close()
  }

  // MARK: connections

  /// What a connection's upgrade request was accepted for.
  private struct Accepted {
    var request: StreamRequest
    var remoteCommand: RemoteCommandProtocol?
    var webSocket: WebSocketChannelProtocol?
    var tunnel: Bool
  }

  private func configureHTTP(_ channel: Channel) throws {
    let accepted = NIOLockedValueBox<Accepted?>(nil)
    let webSocket = NIOWebSocketServerUpgrader(
      maxFrameSize: 1 << 20, automaticErrorHandling: true,
      shouldUpgrade: { [self] channel, head in
        channel.eventLoop.makeSucceededFuture(self.acceptWebSocket(head, into: accepted))
      },
      upgradePipelineHandler: { [self] channel, _ in
        guard let request = accepted.withLockedValue({ $0 }) else { return channel.close() }
        return channel.pipeline.removeHandler(name: Self.fallbackName).flatMapThrowing {
          try self.startWebSocket(channel, request)
        }
      })
    let spdy = SPDYServerUpgrader(
      shouldUpgrade: { [self] channel, head in
        channel.eventLoop.makeSucceededFuture(self.acceptSPDY(head, into: accepted))
      },
      upgradePipelineHandler: { [self] channel, _ in
        guard let request = accepted.withLockedValue({ $0 }) else { return channel.close() }
        return channel.pipeline.removeHandler(name: Self.fallbackName).flatMapThrowing {
          try self.startSPDY(channel, request)
        }
      })
    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
      withPipeliningAssistance: false,
      withServerUpgrade: (upgraders: [webSocket, spdy], completionHandler: { _ in }),
      withErrorHandling: true)
    try channel.pipeline.syncOperations.addHandler(
      StreamingFallbackHandler(tokens: tokens, logger: logger), name: Self.fallbackName)
  }

  /// The handler for requests that were not upgraded; an upgrade removes it.
  static let fallbackName = "crio-streaming-fallback"

  private static func route(_ uri: String) -> (route: String, token: String)? {
    let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
    let parts = path.split(separator: "/").map(String.init)
    guard parts.count == 2, ["exec", "attach", "portforward"].contains(parts[0]) else { return nil }
    return (parts[0], parts[1])
  }

  private func acceptWebSocket(_ head: HTTPRequestHead, into accepted: NIOLockedValueBox<Accepted?>) -> HTTPHeaders? {
    guard let (route, token) = Self.route(head.uri) else { return nil }
    let offered = head.headers["Sec-WebSocket-Protocol"].flatMap { $0.split(separator: ",") }
      .map { $0.trimmingCharacters(in: .whitespaces) }
    var headers = HTTPHeaders()
    var entry: Accepted
    if route == "portforward" {
      let tunnel = "SPDY/3.1+" + RemoteCommandProtocol.portForward
      guard offered.contains(tunnel), let request = tokens.consume(token, route: route) else { return nil }
      headers.add(name: "Sec-WebSocket-Protocol", value: tunnel)
      entry = Accepted(request: request, remoteCommand: nil, webSocket: nil, tunnel: true)
    } else {
      guard let proto = WebSocketChannelProtocol.negotiate(offered), let request = tokens.consume(token, route: route)
      else { return nil }
      if !proto.name.isEmpty { headers.add(name: "Sec-WebSocket-Protocol", value: proto.name) }
      entry = Accepted(request: request, remoteCommand: proto.version, webSocket: proto, tunnel: false)
    }
    accepted.withLockedValue { $0 = entry }
    return headers
  }

  private func acceptSPDY(_ head: HTTPRequestHead, into accepted: NIOLockedValueBox<Accepted?>) -> HTTPHeaders? {
    guard let (route, token) = Self.route(head.uri) else { return nil }
    let offered = head.headers[StreamingFallbackHandler.protocolHeader].flatMap { $0.split(separator: ",") }
      .map { $0.trimmingCharacters(in: .whitespaces) }
    var headers = HTTPHeaders()
    let chosen: String?
    if route == "portforward" {
      chosen = offered.isEmpty || offered.contains(RemoteCommandProtocol.portForward) ? RemoteCommandProtocol.portForward : nil
    } else if offered.isEmpty {
      chosen = RemoteCommandProtocol.v1.rawValue
    } else {
      chosen = offered.first { name in RemoteCommandProtocol.spdy.contains { $0.rawValue == name } }
    }
    guard let chosen, let request = tokens.consume(token, route: route) else { return nil }
    if !offered.isEmpty { headers.add(name: StreamingFallbackHandler.protocolHeader, value: chosen) }
    accepted.withLockedValue {
      $0 = Accepted(request: request, remoteCommand: RemoteCommandProtocol(rawValue: chosen), webSocket: nil, tunnel: false)
    }
    return headers
  }

  private func startWebSocket(_ channel: Channel, _ accepted: Accepted) throws {
    try channel.pipeline.syncOperations.addHandler(
      NIOWebSocketFrameAggregator(
        minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: 16 << 20))
    if accepted.tunnel {
      try channel.pipeline.syncOperations.addHandler(WebSocketTunnelHandler())
      let connection = try SPDYConnection.configure(on: channel, role: .server)
      spawnPortForward(connection, accepted.request)
      return
    }
    guard let proto = accepted.webSocket else { return }
    let connection = try WebSocketSession.Connection(wrappingChannelSynchronously: channel)
    let (backend, group, logger) = (backend, group, logger)
    Task {
      await WebSocketSession.serveRemoteCommand(
        connection, protocol: proto, request: accepted.request, backend: backend, group: group, logger: logger)
    }
  }

  private func startSPDY(_ channel: Channel, _ accepted: Accepted) throws {
    let connection = try SPDYConnection.configure(on: channel, role: .server)
    if case .portForward = accepted.request {
      spawnPortForward(connection, accepted.request)
      return
    }
    let (backend, group, logger, timeout) = (backend, group, logger, configuration.streamCreationTimeout)
    let proto = accepted.remoteCommand ?? .v1
    Task {
      await SPDYSession.serveRemoteCommand(
        connection, protocol: proto, request: accepted.request, backend: backend, group: group,
        streamCreationTimeout: timeout, logger: logger)
    }
  }

  private func spawnPortForward(_ connection: SPDYConnection, _ request: StreamRequest) {
    guard case .portForward(let portForward) = request else { return }
    let (backend, group, logger) = (backend, group, logger)
    Task {
      await SPDYSession.servePortForward(
        connection, request: portForward, backend: backend, group: group, logger: logger)
    }
  }
}

/// Closes a connection that has been idle for the configured time.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = NIOAny

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent {
      context.close(promise: nil)
    } else {
      context.fireUserInboundEventTriggered(event)
    }
  }
}

/// Answers requests that were not upgraded: unknown routes and tokens
/// (404), no common protocol (403), no upgrade asked for (400).
final class StreamingFallbackHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  static let protocolHeader = "X-Stream-Protocol-Version"
  let tokens: StreamTokens
  let logger: Logger

  init(tokens: StreamTokens, logger: Logger) {
    self.tokens = tokens
    self.logger = logger
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let head) = unwrapInboundIn(data) else { return }
    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
    let parts = path.split(separator: "/").map(String.init)
    let status: HTTPResponseStatus
    let message: String
    var headers = HTTPHeaders()
    if parts.count != 2 || !["exec", "attach", "portforward"].contains(parts[0]) {
      (status, message) = (.notFound, "404 page not found")
    } else if !tokens.isValid(parts[1], route: parts[0]) {
      (status, message) = (.notFound, "invalid, expired or already used streaming token")
    } else if let upgrade = head.headers["Upgrade"].first {
      let offered = head.headers[Self.protocolHeader] + head.headers["Sec-WebSocket-Protocol"]
      let supported = parts[0] == "portforward"
        ? [RemoteCommandProtocol.portForward, "SPDY/3.1+" + RemoteCommandProtocol.portForward]
        : RemoteCommandProtocol.allCases.map(\.rawValue) + ["v4.base64.channel.k8s.io", "base64.channel.k8s.io"]
      if upgrade.lowercased() == "spdy/3.1" {
        for name in RemoteCommandProtocol.spdy.map(\.rawValue) where parts[0] != "portforward" {
          headers.add(name: "X-Accepted-Stream-Protocol-Versions", value: name)
        }
      }
      (status, message) = (
        .forbidden,
        "unable to upgrade: unable to negotiate protocol: client supports \(offered), server accepts \(supported)"
      )
    } else {
      (status, message) = (.badRequest, "this endpoint needs an upgrade to SPDY/3.1 or WebSocket")
    }
    headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
    headers.add(name: "Content-Length", value: "\(message.utf8.count + 1)")
    headers.add(name: "Connection", value: "close")
    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: message + "\n")))), promise: nil)
    let channel = context.channel
    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
  }
}
