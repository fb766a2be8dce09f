import NIOCore
import NIOHTTP1

/// The client half of the SPDY/3.1 upgrade, for `NIOHTTPClientUpgradeHandler`. On 101 it runs
/// `onUpgrade` (which configures the SPDY handlers) before NIO replays bytes that followed the 101.
final class SPDYClientUpgrader: NIOHTTPClientProtocolUpgrader {
  let supportedProtocol = "SPDY/3.1"
  let requiredUpgradeHeaders: [String] = []
  private let onUpgrade: (ChannelHandlerContext, HTTPResponseHead) throws -> Void

  init(onUpgrade: @escaping (ChannelHandlerContext, HTTPResponseHead) throws -> Void) {
    self.onUpgrade = onUpgrade
  }

  func addCustom(upgradeRequestHeaders: inout HTTPHeaders) {
    // NIO lowercases protocol names; send the canonical spelling, as Kubernetes does.
    upgradeRequestHeaders.replaceOrAdd(name: "Upgrade", value: self.supportedProtocol)
  }

  func shouldAllowUpgrade(upgradeResponse: HTTPResponseHead) -> Bool { true }

  func upgrade(context: ChannelHandlerContext, upgradeResponse: HTTPResponseHead) -> EventLoopFuture<Void> {
    context.eventLoop.makeCompletedFuture { try self.onUpgrade(context, upgradeResponse) }
  }
}

/// Sits after the upgrade handler until the upgrade: collects a non-101 response (NIO passes it
/// on) and fails the connect with its status and body; fails it too if the connection dies first.
final class SPDYClientResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPClientResponsePart
  typealias Result = (SPDYConnection, HTTPResponseHead)

  static let maxBody = 64 * 1024
  private let promise: EventLoopPromise<Result>
  private var done = false
  private var head: HTTPResponseHead?
  private var body = ByteBuffer()

  init(promise: EventLoopPromise<Result>) { self.promise = promise }

  func succeed(_ result: Result) {
    guard !self.done else { return }
    self.done = true
    self.promise.succeed(result)
  }

  private func fail(_ error: Error, context: ChannelHandlerContext) {
    guard !self.done else { return }
    self.done = true
    self.promise.fail(error)
    context.close(promise: nil)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch self.unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
    case .body(var chunk):
      let room = Self.maxBody - self.body.readableBytes
      if room > 0, let part = chunk.readSlice(length: min(room, chunk.readableBytes)) {
        self.body.writeImmutableBuffer(part)
      }
    case .end:
      self.refused(context: context)
    }
  }

  private func refused(context: ChannelHandlerContext) {
    let status = self.head.map { Int($0.status.code) } ?? 0
    let text = String(buffer: self.body)
    self.fail(SPDYError.upgradeRefused(status: status, body: text), context: context)
  }

  func channelInactive(context: ChannelHandlerContext) {
    if self.head != nil {
      self.refused(context: context)
    } else {
      self.fail(SPDYError.connectionClosed, context: context)
    }
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    // The upgrade handler reports a 101 for another protocol, then passes the response on.
    if error is NIOHTTPClientUpgradeError { return }
    self.fail(error, context: context)
  }
}
