import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Opens a WebSocket connection to a streaming URL, offering `protocols`.
enum WebSocketDial {
  private enum Upgrade<Output: Sendable>: Sendable {
    case upgraded(Output)
    case refused
  }

  /// `upgraded` runs on the event loop right after the upgrade, with the
  /// frame codec in place, to add handlers before any frame is read.
  static func connect<Output: Sendable>(
    _ url: StreamURL, protocols: [String], group: EventLoopGroup,
    upgraded: @escaping @Sendable (Channel) throws -> Output
  ) async throws -> Output {
    guard !url.secure else { throw StreamClientError.tlsUnsupported }
    let result: EventLoopFuture<Upgrade<Output>> = try await ClientBootstrap(group: group)
      .connect(host: url.host, port: url.port) { channel in
        channel.eventLoop.makeCompletedFuture {
          let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade<Output>>(
            maxFrameSize: 1 << 20,
            upgradePipelineHandler: { channel, _ in
              channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                  NIOWebSocketFrameAggregator(
                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: 16 << 20))
                return .upgraded(try upgraded(channel))
              }
            })
          var headers = HTTPHeaders()
          headers.add(name: "Host", value: url.authority)
          headers.add(name: "Sec-WebSocket-Protocol", value: protocols.joined(separator: ", "))
          headers.add(name: "Content-Length", value: "0")
          let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
          let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade<Output>>(
            upgradeRequestHead: head, upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in
              channel.close(promise: nil)
              return channel.eventLoop.makeSucceededFuture(.refused)
            })
          return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: configuration))
        }
      }
    switch try await result.get() {
    case .upgraded(let output): return output
    case .refused: throw StreamClientError.refused("no WebSocket upgrade (offered \(protocols.joined(separator: ", ")))")
    }
  }
}

/// Client side of a byte stream carried in binary WebSocket messages
/// (masked, as RFC 6455 requires of clients).
final class WebSocketClientTunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = WebSocketFrame
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = WebSocketFrame

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    switch frame.opcode {
    case .binary, .text, .continuation:
      context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
    case .ping:
      context.writeAndFlush(
        wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)),
        promise: nil)
    case .connectionClose:
      context.close(promise: nil)
    default:
      break
    }
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let bytes = unwrapOutboundIn(data)
    context.write(
      wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: bytes)), promise: promise)
  }
}
