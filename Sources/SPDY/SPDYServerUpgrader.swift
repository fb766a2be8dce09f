import NIOCore
import NIOHTTP1

/// For NIO's `HTTPServerUpgradeHandler` (like `NIOWebSocketServerUpgrader`): `Upgrade: SPDY/3.1`.
///
/// `shouldUpgrade` returns nil to refuse (NIO then fires `SPDYError.upgradeDeclined` through the
/// pipeline and hands the request to the next HTTP handler, which should answer it), or extra
/// headers for the 101 response (e.g. X-Stream-Protocol-Version). `upgradePipelineHandler` runs
/// after the HTTP handlers are removed and the 101 is sent; it must remove the application's own
/// HTTP handlers (if still there) and call `SPDYConnection.configure(on:role: .server)`.
public final class SPDYServerUpgrader: HTTPServerProtocolUpgrader, Sendable {
  public let supportedProtocol = "SPDY/3.1"
  public let requiredUpgradeHeaders: [String] = []

  private let shouldUpgrade: @Sendable (Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>
  private let upgradePipelineHandler: @Sendable (Channel, HTTPRequestHead) -> EventLoopFuture<Void>

  public init(
    shouldUpgrade: @escaping @Sendable (Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
    upgradePipelineHandler: @escaping @Sendable (Channel, HTTPRequestHead) -> EventLoopFuture<Void>
  ) {
    self.shouldUpgrade = shouldUpgrade
    self.upgradePipelineHandler = upgradePipelineHandler
  }

  public func buildUpgradeResponse(
    channel: Channel,
    upgradeRequest: HTTPRequestHead,
    initialResponseHeaders: HTTPHeaders
  ) -> EventLoopFuture<HTTPHeaders> {
    // NIO's initial headers are `connection: upgrade` and `upgrade: <protocol as requested>`,
    // which is what Go's client checks (case-insensitively).
    self.shouldUpgrade(channel, upgradeRequest).flatMapThrowing { extra in
      guard let extra else { throw SPDYError.upgradeDeclined }
      var headers = initialResponseHeaders
      headers.add(contentsOf: extra)
      return headers
    }
  }

  public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
    self.upgradePipelineHandler(context.channel, upgradeRequest)
  }
}
