import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves `GET /metrics` (Prometheus text format) on `metrics_host:metrics_port`
/// and, when `metrics_socket` is set, on that unix socket too (mode 0660).
final class MetricsEndpoint: Sendable {
  private let channels: [any Channel]
  let addresses: [String]

  private init(channels: [any Channel], addresses: [String]) {
    self.channels = channels
    self.addresses = addresses
  }

  static func start(
    metrics: RuntimeMetrics, host: String, port: Int, socket: String, group: any EventLoopGroup, logger: Logger
  ) async throws -> MetricsEndpoint {
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline()
          try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
        }
      }
    var channels: [any Channel] = []
    var addresses: [String] = []
    do {
      let tcp = try await bootstrap.bind(host: host, port: port).get()
      channels.append(tcp)
      addresses.append("\(host):\(tcp.localAddress?.port ?? port)")
      if !socket.isEmpty {
        try FileManager.default.createDirectory(
          atPath: (socket as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let unix = try await bootstrap.bind(unixDomainSocketPath: socket, cleanupExistingSocketFile: true).get()
        chmod(socket, 0o660)
        channels.append(unix)
        addresses.append(socket)
      }
    } catch {
      for channel in channels { try? await channel.close() }
      throw error
    }
    for address in addresses { logger.info("Serving metrics", metadata: ["address": "\(address)"]) }
    return MetricsEndpoint(channels: channels, addresses: addresses)
  }

  func stop(socket: String) async {
    for channel in channels { try? await channel.close() }
    if !socket.isEmpty { unlink(socket) }
  }
}

/// One request at a time per connection: `/metrics` answers the registry's
/// text, anything else 404, methods other than GET and HEAD 405.
private final class MetricsHTTPHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  let metrics: RuntimeMetrics

  init(metrics: RuntimeMetrics) {
    self.metrics = metrics
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let head) = unwrapInboundIn(data) else { return }
    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
    let (status, body): (HTTPResponseStatus, String) =
      switch (head.method, path) {
      case (.GET, "/metrics"), (.HEAD, "/metrics"): (.ok, metrics.exposition())
      case (.GET, _), (.HEAD, _): (.notFound, "not found: try /metrics\n")
      default: (.methodNotAllowed, "only GET /metrics\n")
      }
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
    headers.add(name: "Content-Length", value: String(body.utf8.count))
    let keepAlive = head.isKeepAlive
    headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
    if head.method != .HEAD {
      context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
    }
    let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
    if !keepAlive {
      let channel = context.channel
      done.whenComplete { _ in channel.close(promise: nil) }
    }
  }
}
