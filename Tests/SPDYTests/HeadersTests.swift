import NIOCore
import Testing

@testable import SPDY

@Suite("Headers")
struct HeadersTests {
  @Test("names are lowercased and looked up case-insensitively, in order")
  func lookup() {
    var headers = SPDYHeaders([("StreamType", "stdin"), ("X-Stream-Protocol-Version", "v4")])
    headers.add(name: "x-stream-protocol-version", value: "v3")
    #expect(headers[first: "streamtype"] == "stdin")
    #expect(headers[first: "STREAMTYPE"] == "stdin")
    #expect(headers[first: "missing"] == nil)
    #expect(headers.values("X-Stream-Protocol-Version") == ["v4", "v3"])
    #expect(headers.map(\.name) == ["streamtype", "x-stream-protocol-version", "x-stream-protocol-version"])
    #expect(headers == SPDYHeaders([("streamtype", "stdin"), ("x-stream-protocol-version", "v4"), ("X-STREAM-PROTOCOL-VERSION", "v3")]))
    #expect(headers != SPDYHeaders([("streamtype", "stdin")]))
  }

  @Test("repeated names become one NUL-joined entry on the wire, and split again")
  func rawBlock() throws {
    let headers = SPDYHeaders([("a", "1"), ("b", "2"), ("a", "3")])
    var raw = ByteBuffer()
    SPDYHeaderBlock.serialize(headers, into: &raw)
    let expected: [UInt8] =
      [0, 0, 0, 2] + [0, 0, 0, 1] + Array("a".utf8) + [0, 0, 0, 3] + [0x31, 0x00, 0x33]
      + [0, 0, 0, 1] + Array("b".utf8) + [0, 0, 0, 1] + Array("2".utf8)
    #expect(Array(raw.readableBytesView) == expected)
    let parsed = try SPDYHeaderBlock.parse(&raw, maxHeaders: 10)
    #expect(parsed == SPDYHeaders([("a", "1"), ("a", "3"), ("b", "2")]))
  }

  @Test("truncated raw blocks are protocol errors")
  func truncated() {
    var raw = ByteBuffer(bytes: [0, 0, 0, 1, 0, 0, 0, 9, 0x61])
    #expect(throws: SPDYError.self) { _ = try SPDYHeaderBlock.parse(&raw, maxHeaders: 10) }
  }
}
