import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import CRIOServer

/// Stands for the gRPC pipeline behind the sniffer: writes its SETTINGS
/// when the connection becomes active, records what it reads.
private final class FakeHTTP2Server: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  var read = ByteBuffer()
  var settingsWrite: EventLoopFuture<Void>?

  func channelActive(context: ChannelHandlerContext) {
    settingsWrite = context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "SETTINGS")))
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var bytes = unwrapInboundIn(data)
    read.writeBuffer(&bytes)
  }
}

/// Answers every HTTP/1 request with its path.
private final class EchoPath: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let head) = unwrapInboundIn(data) else { return }
    var headers = HTTPHeaders()
    headers.add(name: "Content-Length", value: String(head.uri.utf8.count))
    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: head.uri)))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
  }
}

@Suite struct ProtocolSnifferTests {
  @Test func theHTTP2PrefaceDecides() {
    let preface = ProtocolSniffer.http2Preface
    #expect(ProtocolSniffer.decide(preface) == .http2)
    #expect(ProtocolSniffer.decide(preface + Array("\0\0\u{12}\u{4}".utf8)) == .http2, "SETTINGS may follow in the same read")
    #expect(ProtocolSniffer.decide(preface.prefix(3)) == .undecided)
    #expect(ProtocolSniffer.decide([UInt8]()) == .undecided)
    #expect(ProtocolSniffer.decide(Array("GET /info HTTP/1.1\r\n".utf8)) == .http1)
    #expect(ProtocolSniffer.decide(Array("POST /x HTTP/1.1\r\n".utf8)) == .http1, "shares the P")
    #expect(ProtocolSniffer.decide(Array("PRI * HTTP/1.1\r\n".utf8)) == .http1)
  }

  private func makeChannel() throws -> (EmbeddedChannel, FakeHTTP2Server, ProtocolSniffer) {
    let channel = EmbeddedChannel()
    let sniffer = ProtocolSniffer { pipeline, position in
      try pipeline.configureHTTPServerPipeline(position: position)
      try pipeline.addHandler(EchoPath(), position: position)
    }
    let server = FakeHTTP2Server()
    try channel.pipeline.syncOperations.addHandlers([sniffer, server])
    return (channel, server, sniffer)
  }

  @Test func anHTTP2ClientGetsTheHeldSettingsAndEveryByteAndTheSnifferLeaves() throws {
    let (channel, server, sniffer) = try makeChannel()
    try channel.connect(to: SocketAddress(unixDomainSocketPath: "/crio.sock")).wait()
    #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing goes out before the client speaks")

    let preface = ProtocolSniffer.http2Preface
    try channel.writeInbound(ByteBuffer(bytes: preface.prefix(10)))
    #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    #expect(server.read.readableBytes == 0)
    try channel.writeInbound(ByteBuffer(bytes: Array(preface.dropFirst(10)) + [0, 0, 0, 4]))

    #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "SETTINGS"))
    #expect(Array(server.read.readableBytesView) == preface + [0, 0, 0, 4])
    #expect(throws: Never.self) { try server.settingsWrite?.wait() }
    #expect(throws: ChannelPipelineError.self) { try channel.pipeline.syncOperations.context(handler: sniffer) }

    // Later bytes go straight through.
    try channel.writeInbound(ByteBuffer(string: "frame"))
    #expect(String(buffer: server.read).hasSuffix("frame"))
    _ = try channel.finish()
  }

  @Test func anHTTP1ClientIsServedInFrontAndTheGRPCSideStaysSilent() throws {
    let (channel, server, _) = try makeChannel()
    try channel.connect(to: SocketAddress(unixDomainSocketPath: "/crio.sock")).wait()
    try channel.writeInbound(ByteBuffer(string: "GET /info HTTP/1.1\r\nHost: crio\r\n\r\n"))
    var answer = ""
    while let part = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: part) }
    #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
    #expect(answer.hasSuffix("\r\n\r\n/info"))
    #expect(!answer.contains("SETTINGS"), "the gRPC side's writes are dropped")
    #expect(throws: ChannelError.self) { try server.settingsWrite?.wait() }
    #expect(server.read.readableBytes == 0)

    // Keep-alive: a second request on the same connection.
    try channel.writeInbound(ByteBuffer(string: "GET /config HTTP/1.1\r\nHost: crio\r\n\r\n"))
    answer = ""
    while let part = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: part) }
    #expect(answer.hasSuffix("/config"))
    _ = try channel.finish()
  }
}
