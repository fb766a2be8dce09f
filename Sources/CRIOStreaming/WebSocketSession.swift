import Logging
import NIOCore
import NIOWebSocket

/// Serves an exec or attach over a WebSocket connection speaking the
/// `channel.k8s.io` protocol family.
enum WebSocketSession {
  typealias Connection = NIOAsyncChannel<WebSocketFrame, WebSocketFrame>

  static func serveRemoteCommand(
    _ connection: Connection, protocol proto: WebSocketChannelProtocol, request: StreamRequest,
    backend: StreamingBackend, group: EventLoopGroup, logger: Logger
  ) async {
    let closeFuture = connection.channel.closeFuture
    try? await connection.executeThenClose { inbound, outbound in
      let router = WebSocketInboundRouter()
      let allocator = connection.channel.allocator
      let reader = Task {
        do {
          loop: for try await frame in inbound {
            switch frame.opcode {
            case .binary, .text:
              if let (channel, payload) = proto.parse(frame) { router.route(channel: channel, payload: payload, protocol: proto) }
            case .ping:
              try await outbound.write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
            case .connectionClose:
              break loop
            default:
              continue
            }
          }
        } catch {}
        router.finish()
      }
      let send: @Sendable (UInt8, ByteBuffer) async throws -> Void = { channel, payload in
        try await outbound.write(proto.frame(channel: channel, payload: payload, allocator: allocator))
      }
      func sink(_ channel: UInt8) -> OutputSink {
        OutputSink(write: { try await send(channel, $0) }, finish: {})
      }
      let (stdin, stdout, stderr, tty): (Bool, Bool, Bool, Bool) =
        switch request {
        case .exec(let r): (r.stdin, r.stdout, r.stderr, r.tty)
        case .attach(let r): (r.stdin, r.stdout, r.stderr, r.tty)
        case .portForward: (false, false, false, false)
        }
      let streams = RemoteCommandStreams(
        stdin: stdin ? router.stdin : nil, stdout: stdout ? sink(WebSocketChannelProtocol.stdout) : nil,
        stderr: stderr && !tty ? sink(WebSocketChannelProtocol.stderr) : nil,
        resize: tty ? router.resize : nil,
        finish: { outcome in
          if let message = RemoteCommandStatus.encode(outcome, protocol: proto.version) {
            try? await send(WebSocketChannelProtocol.error, message)
          }
          var code = allocator.buffer(capacity: 2)
          code.write(webSocketErrorCode: .normalClosure)
          try? await outbound.write(WebSocketFrame(fin: true, opcode: .connectionClose, data: code))
        },
        clientGone: { try? await closeFuture.get() })
      // Tell the client the connection is up: an empty message on the
      // lowest channel it will hear from, as Kubernetes' server does.
      let first = stdout ? WebSocketChannelProtocol.stdout : (stderr ? WebSocketChannelProtocol.stderr : WebSocketChannelProtocol.error)
      try? await send(first, ByteBuffer())
      await RemoteCommandSession.run(request: request, streams: streams, backend: backend, group: group, logger: logger)
      // The client answers our CLOSE once it has read everything before it;
      // closing earlier could drop output still in flight.
      await RemoteCommandRunner.waitAll([reader], timeout: .seconds(5))
    }
  }
}

/// Carries a byte stream (SPDY, for port-forward's `SPDY/3.1+` tunnelling)
/// in binary WebSocket messages; answers pings; ends on CLOSE.
final class WebSocketTunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
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
      context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
    case .connectionClose:
      var code = context.channel.allocator.buffer(capacity: 2)
      code.write(webSocketErrorCode: .normalClosure)
      let channel = context.channel
      context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code)))
        .whenComplete { _ in channel.close(promise: nil) }
    default:
      break
    }
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let bytes = unwrapOutboundIn(data)
    context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: bytes)), promise: promise)
  }
}
