import NIOCore
import NIOHTTP1
import NIOPosix

/// Client side (for crioctl): plain TCP, HTTP/1.1 upgrade to SPDY/3.1.
public enum SPDYClient {
  /// Connects to `host:port`, sends `GET path` with `Connection: Upgrade`, `Upgrade: SPDY/3.1`
  /// plus `headers` (e.g. several X-Stream-Protocol-Version), and on 101 returns the configured
  /// client connection and the response head. A non-101 response throws
  /// `SPDYError.upgradeRefused(status:body:)` carrying the response body text. Connection
  /// failures throw NIO's errors; cancelling the calling task abandons the handshake.
  public static func connect(
    host: String,
    port: Int,
    path: String,
    headers: HTTPHeaders,
    group: EventLoopGroup
  ) async throws -> (SPDYConnection, HTTPResponseHead) {
    var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
    head.headers = headers
    head.headers.remove(name: "Connection")
    head.headers.remove(name: "Upgrade")
    if !head.headers.contains(name: "Host") {
      head.headers.add(name: "Host", value: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
    }
    let loop = group.next()
    let result = loop.makePromise(of: SPDYClientResponseHandler.Result.self)
    let channel: Channel
    do {
      channel = try await ClientBootstrap(group: loop)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try Self.configurePipeline(channel, result: result)
          }
        }
        .connect(host: host, port: port)
        .get()
    } catch {
      result.fail(error)
      throw error
    }
    channel.write(HTTPClientRequestPart.head(head), promise: nil)
    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    // Cancelling the task closes the channel, which fails the handshake with .connectionClosed.
    return try await withTaskCancellationHandler {
      try await result.futureResult.get()
    } onCancel: {
      channel.close(promise: nil)
    }
  }

  private static func configurePipeline(
    _ channel: Channel,
    result: EventLoopPromise<SPDYClientResponseHandler.Result>
  ) throws {
    let responses = SPDYClientResponseHandler(promise: result)
    let upgrader = SPDYClientUpgrader { context, response in
      let pipeline = context.pipeline.syncOperations
      _ = pipeline.removeHandler(responses)  // synchronous: it holds no state worth waiting for
      let connection = try SPDYConnection.configure(on: context.channel, role: .client)
      responses.succeed((connection, response))
    }
    try channel.pipeline.syncOperations.addHTTPClientHandlers(
      leftOverBytesStrategy: .forwardBytes,
      withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
    )
    try channel.pipeline.syncOperations.addHandler(responses)
  }
}
