import NIOCore
import NIOHTTP1

/// Serves `DaemonInspector`'s answers over HTTP/1 on a CRI socket connection
/// whose first bytes were not HTTP/2 (see `ProtocolSniffer`). One request at
/// a time (the pipeline's pipelining handler holds the next one back).
final class InspectHTTPHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  let inspector: DaemonInspector
  private var request: HTTPRequestHead?

  init(inspector: DaemonInspector) {
    self.inspector = inspector
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      request = head
    case .body:
      break
    case .end:
      guard let head = request else { return }
      request = nil
      let inspector = self.inspector
      let answer = context.eventLoop.makePromise(of: DaemonInspector.Response.self)
      answer.completeWithTask { await inspector.respond(method: head.method, uri: head.uri) }
      answer.futureResult.assumeIsolated().whenSuccess { response in
        self.write(response, to: head, context: context)
      }
    }
  }

  private func write(_ response: DaemonInspector.Response, to head: HTTPRequestHead, context: ChannelHandlerContext) {
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: response.contentType)
    headers.add(name: "Content-Length", value: String(response.body.utf8.count))
    let keepAlive = head.isKeepAlive
    headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
    let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
    context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
    if head.method != .HEAD {
      context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
    }
    let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
    if !keepAlive {
      let channel = context.channel
      done.whenComplete { _ in channel.close(promise: nil) }
    }
  }
}
