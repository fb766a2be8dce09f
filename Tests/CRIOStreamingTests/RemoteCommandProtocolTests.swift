import Foundation
import NIOCore
import NIOWebSocket
import Testing

@testable import CRIOStreaming

@Suite struct RemoteCommandProtocolTests {
  @Test func webSocketNegotiationTakesTheClientsFirstSupportedProtocol() {
    #expect(WebSocketChannelProtocol.negotiate(["v5.channel.k8s.io", "v4.channel.k8s.io"])?.version == .v5)
    #expect(WebSocketChannelProtocol.negotiate(["bogus", "v4.base64.channel.k8s.io"])?.base64 == true)
    #expect(WebSocketChannelProtocol.negotiate(["bogus"]) == nil)
    #expect(WebSocketChannelProtocol.negotiate([])?.name == "", "no protocol: the legacy binary one")
  }

  @Test func binaryMessagesCarryTheChannelByteFirst() throws {
    let proto = try #require(WebSocketChannelProtocol.negotiate(["v4.channel.k8s.io"]))
    let frame = proto.frame(channel: 1, payload: ByteBuffer(string: "hi"), allocator: ByteBufferAllocator())
    #expect(frame.opcode == .binary)
    #expect(Array(frame.data.readableBytesView) == [1, UInt8(ascii: "h"), UInt8(ascii: "i")])
    let parsed = try #require(proto.parse(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [0, 65, 66]))))
    #expect(parsed.channel == 0)
    #expect(String(buffer: parsed.payload) == "AB")
    #expect(proto.parse(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer())) == nil)
  }

  @Test func base64MessagesAreTextWithAChannelDigit() throws {
    let proto = try #require(WebSocketChannelProtocol.negotiate(["base64.channel.k8s.io"]))
    let frame = proto.frame(channel: 2, payload: ByteBuffer(string: "hi"), allocator: ByteBufferAllocator())
    #expect(frame.opcode == .text)
    #expect(String(buffer: frame.data) == "2aGk=")
    let parsed = try #require(proto.parse(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "0aGk="))))
    #expect(parsed.channel == 0)
    #expect(String(buffer: parsed.payload) == "hi")
  }

  @Test func routerSplitsStdinResizeAndV5Close() async throws {
    let router = WebSocketInboundRouter()
    let v5 = try #require(WebSocketChannelProtocol.negotiate(["v5.channel.k8s.io"]))
    router.route(channel: 0, payload: ByteBuffer(string: "abc"), protocol: v5)
    router.route(channel: 4, payload: ByteBuffer(string: #"{"Width":80,"Height":24}"#), protocol: v5)
    router.route(channel: 255, payload: ByteBuffer(bytes: [0]), protocol: v5)
    var stdin = ""
    for try await chunk in router.stdin { stdin += String(buffer: chunk) }
    #expect(stdin == "abc", "CLOSE of channel 0 ends stdin")
    var sizes = router.resize.makeAsyncIterator()
    #expect(await sizes.next() == TerminalSize(width: 80, height: 24))
  }

  @Test func v4StatusReportsTheExitCodeAsKubernetesDoes() throws {
    let failure = RemoteCommandStatus.json(.exitCode(7))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(failure.readableBytesView)) as? [String: Any])
    #expect(object["status"] as? String == "Failure")
    #expect(object["reason"] as? String == "NonZeroExitCode")
    let causes = (object["details"] as? [String: Any])?["causes"] as? [[String: Any]]
    #expect(causes?.first?["reason"] as? String == "ExitCode")
    #expect(causes?.first?["message"] as? String == "7")
    let success = RemoteCommandStatus.json(.success)
    #expect(String(buffer: success).contains(#""status":"Success""#))
    #expect(RemoteCommandStatus.encode(.success, protocol: .v2) == nil, "pre-v4 reports nothing on success")
    #expect(RemoteCommandStatus.encode(.exitCode(2), protocol: .v1).map { String(buffer: $0) }?.contains("exit") == true)
  }
}
