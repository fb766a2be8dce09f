import NIOCore
import NIOEmbedded
import Testing

@testable import SPDY

@Suite("Frame codec")
struct FrameCodecTests {
  private func encode(_ frame: SPDYFrame, with encoder: SPDYFrameEncoder = SPDYFrameEncoder()) throws -> [UInt8] {
    var out = ByteBuffer()
    try encoder.encode(data: frame, out: &out)
    return Array(out.readableBytesView)
  }

  private func decodeAll(_ chunks: [[UInt8]], decoder: inout SPDYFrameDecoder) throws -> [SPDYFrame] {
    var frames: [SPDYFrame] = []
    for chunk in chunks {
      var buffer = ByteBuffer(bytes: chunk)
      while let frame = try decoder.nextFrame(from: &buffer) { frames.append(frame) }
      #expect(buffer.readableBytes == 0)
    }
    return frames
  }

  private func decodeOne(_ bytes: [UInt8]) throws -> SPDYFrame? {
    var decoder = SPDYFrameDecoder()
    return try self.decodeAll([bytes], decoder: &decoder).first
  }

  @Test("uncompressed control and data frames match Go's framer byte for byte")
  func fixedFrames() throws {
    let cases: [(SPDYFrame, [UInt8])] = [
      (.rstStream(streamID: 1, status: SPDYResetStatus.cancel.rawValue), GoReferenceFrames.rstCancel),
      (
        .settings(clearPersisted: false, values: [
          SPDYSetting(id: 7, value: 65536), SPDYSetting(flags: 1, id: 4, value: 100),
        ]), GoReferenceFrames.settings
      ),
      (.ping(id: 1), GoReferenceFrames.ping1),
      (.goAway(lastGoodStreamID: 3, status: 0), GoReferenceFrames.goAway3),
      (.windowUpdate(streamID: 1, delta: 32768), GoReferenceFrames.windowUpdate),
      (.data(streamID: 1, data: ByteBuffer(string: "hello"), fin: true), GoReferenceFrames.dataHelloFin),
      (.data(streamID: 3, data: ByteBuffer(), fin: true), GoReferenceFrames.dataEmptyFin),
    ]
    for (frame, bytes) in cases {
      #expect(try self.encode(frame) == bytes, "encoding \(frame)")
      #expect(try self.decodeOne(bytes) == frame, "decoding \(bytes)")
    }
  }

  @Test("Go-compressed header blocks decode in sequence on one zlib context")
  func goCompressedHeaders() throws {
    var decoder = SPDYFrameDecoder()
    let frames = try self.decodeAll(GoReferenceFrames.compressedSequence, decoder: &decoder)
    #expect(frames.count == 5)
    #expect(
      frames[0]
        == .synStream(SPDYSynStream(streamID: 1, headers: ["streamtype": "error"])))
    #expect(
      frames[1]
        == .synStream(SPDYSynStream(streamID: 3, priority: 2, fin: true, headers: ["streamtype": "stdout"])))
    #expect(frames[2] == .synReply(streamID: 1, headers: SPDYHeaders(), fin: false))
    guard case .synStream(let syn5) = frames[3] else {
      Issue.record("expected SYN_STREAM, got \(frames[3])")
      return
    }
    #expect(syn5.streamID == 5)
    #expect(syn5.headers.values("X-Multi") == ["a", "b", ""])
    #expect(frames[4] == .headers(streamID: 5, headers: ["streamtype": "resize"], fin: true))
  }

  @Test("a Go-compressed block decoded out of sequence fails instead of yielding garbage")
  func contextIsPersistent() throws {
    // syn3 relies on the history of syn1: decoding it on a fresh context cannot work.
    #expect(throws: SPDYError.self) { try self.decodeOne(GoReferenceFrames.syn3) }
  }

  @Test("Swift-compressed header frames round-trip on persistent contexts")
  func swiftRoundTrip() throws {
    let encoder = SPDYFrameEncoder()
    var decoder = SPDYFrameDecoder()
    var headers: SPDYHeaders = ["StreamType": "data", "Port": "8080"]
    headers.add(name: "x-stream-protocol-version", value: "v4.channel.k8s.io")
    headers.add(name: "X-Stream-Protocol-Version", value: "v3.channel.k8s.io")
    let frames: [SPDYFrame] = [
      .synStream(SPDYSynStream(streamID: 1, headers: headers)),
      .synStream(SPDYSynStream(streamID: 3, fin: true, unidirectional: true, headers: headers)),
      .synReply(streamID: 1, headers: SPDYHeaders(), fin: false),
      .headers(streamID: 3, headers: ["streamtype": "error"], fin: true),
    ]
    var sizes: [Int] = []
    var chunks: [[UInt8]] = []
    for frame in frames {
      let bytes = try self.encode(frame, with: encoder)
      sizes.append(bytes.count)
      chunks.append(bytes)
    }
    // The second identical block compresses to a back-reference: far smaller than the first.
    #expect(sizes[1] < sizes[0])
    let decoded = try self.decodeAll(chunks, decoder: &decoder)
    #expect(decoded.count == 4)
    guard case .synStream(let first) = decoded[0], case .synStream(let second) = decoded[1] else {
      Issue.record("unexpected \(decoded)")
      return
    }
    #expect(first.headers[first: "streamtype"] == "data")
    #expect(first.headers.values("X-STREAM-PROTOCOL-VERSION") == ["v4.channel.k8s.io", "v3.channel.k8s.io"])
    #expect(second.headers == first.headers)
    #expect(second.fin && second.unidirectional)
    #expect(decoded[2] == frames[2])
    #expect(decoded[3] == frames[3])
  }

  @Test("frames split at every byte boundary decode the same")
  func fragmentedInput() throws {
    var all: [UInt8] = []
    for frame in GoReferenceFrames.compressedSequence { all += frame }
    all += GoReferenceFrames.dataHelloFin + GoReferenceFrames.ping1

    var whole = SPDYFrameDecoder()
    let expected = try self.decodeAll([all], decoder: &whole)
    #expect(expected.count == 7)

    // One byte per read, through NIO's ByteToMessageHandler.
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(SPDYFrameDecoder()))
    for byte in all {
      try channel.writeInbound(ByteBuffer(bytes: [byte]))
    }
    var frames: [SPDYFrame] = []
    while let frame = try channel.readInbound(as: SPDYFrame.self) { frames.append(frame) }
    #expect(frames == expected)
    _ = try channel.finish()

    // Uneven splits through the raw decoder.
    for step in [2, 3, 7, 13, 50] {
      var decoder = SPDYFrameDecoder()
      var buffer = ByteBuffer()
      var got: [SPDYFrame] = []
      for start in stride(from: 0, to: all.count, by: step) {
        buffer.writeBytes(all[start..<min(start + step, all.count)])
        while let frame = try decoder.nextFrame(from: &buffer) { got.append(frame) }
      }
      #expect(got == expected, "step \(step)")
    }
  }

  @Test("unknown control frame types are skipped")
  func unknownControlFrame() throws {
    // CREDENTIAL (type 10) with a 4-byte payload, then a PING.
    let credential: [UInt8] = [0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4]
    var decoder = SPDYFrameDecoder()
    #expect(try self.decodeAll([credential + GoReferenceFrames.ping1], decoder: &decoder) == [.ping(id: 1)])
  }

  @Test(
    "malformed input is a protocol error",
    arguments: [
      // Wrong version (2).
      [0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01],
      // Control frame claiming 16 MiB - 1: rejected from its header alone.
      [0x80, 0x03, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff],
      // DATA on stream 0.
      [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x41],
      // RST_STREAM with the wrong length.
      [0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01],
      // PING with the wrong length.
      [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 1, 0, 0, 0, 1],
      // SETTINGS claiming more entries than it carries.
      [0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x05, 0, 0, 0, 7, 0, 1, 0, 0],
      // SYN_STREAM whose header block is not zlib data.
      [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef],
      // SYN_STREAM too short for its fixed fields.
      [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1],
    ] as [[UInt8]]
  )
  func malformed(bytes: [UInt8]) throws {
    #expect {
      _ = try self.decodeOne(bytes)
    } throws: { error in
      guard case .protocolError? = error as? SPDYError else { return false }
      return true
    }
  }

  @Test("a header block that inflates past the limit is refused (zlib bomb)")
  func headerBomb() throws {
    let huge = String(repeating: "a", count: 2 << 20)
    let bytes = try self.encode(.synStream(SPDYSynStream(streamID: 1, headers: ["x-big": huge])))
    #expect(bytes.count < 64 * 1024)  // compresses extremely well
    #expect(throws: SPDYError.self) { _ = try self.decodeOne(bytes) }
  }

  @Test("too many header entries are refused")
  func headerCount() throws {
    var headers = SPDYHeaders()
    for index in 0..<1001 { headers.add(name: "h\(index)", value: "v") }
    let bytes = try self.encode(.synStream(SPDYSynStream(streamID: 1, headers: headers)))
    #expect(throws: SPDYError.self) { _ = try self.decodeOne(bytes) }
  }

  @Test("random garbage never crashes the decoder")
  func garbage() throws {
    var rng = XorShift(seed: 0x5eed)
    for round in 0..<2000 {
      var decoder = SPDYFrameDecoder()
      var buffer = ByteBuffer()
      let length = Int(rng.next() % 256)
      var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      if round % 2 == 0, bytes.count >= 4 {
        // Make it look like a v3 control frame more often, to reach the frame parsers.
        bytes[0] = 0x80
        bytes[1] = 0x03
        bytes[2] = 0x00
        bytes[3] = UInt8(rng.next() % 11)
        if bytes.count >= 8 {
          bytes[5] = 0
          bytes[6] = 0
          bytes[7] = UInt8(min(bytes.count - 8, 255))
        }
      }
      buffer.writeBytes(bytes)
      do {
        while try decoder.nextFrame(from: &buffer) != nil {}
      } catch let error as SPDYError {
        guard case .protocolError = error else {
          Issue.record("unexpected error \(error)")
          return
        }
      }
    }
  }
}

/// A tiny deterministic PRNG for the garbage test.
struct XorShift: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { self.state = seed }
  mutating func next() -> UInt64 {
    self.state ^= self.state << 13
    self.state ^= self.state >> 7
    self.state ^= self.state << 17
    return self.state
  }
}
