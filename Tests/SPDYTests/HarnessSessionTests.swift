import NIOCore
import NIOEmbedded
import Testing

@testable import SPDY

/// The session against a hand-played peer on NIOAsyncTestingChannel: exact frames on the wire.
@Suite("Session wire behaviour", .timeLimit(.minutes(1)))
struct HarnessSessionTests {
  private static let settings = SPDYFrame.settings(
    clearPersisted: false, values: [SPDYSetting(id: SPDYSetting.initialWindowSizeID, value: 65536)])

  private func dataBytes(_ frames: [SPDYFrame], stream: UInt32) -> Int {
    frames.reduce(0) { total, frame in
      if case .data(stream, let data, _) = frame { return total + data.readableBytes }
      return total
    }
  }

  @Test("a server stays silent until the client's first frame, then SETTINGS and an empty SYN_REPLY")
  func serverWaitsForClient() async throws {
    var peer = try await PeerHarness(role: .server)
    // Even a ping requested now must wait (Go's client would lose bytes sent right after the 101).
    let connection = peer.connection
    let ping = Task { try await connection.ping() }
    try await peer.eventually { $0.deferred.count == 2 }  // SETTINGS and PING, held back
    #expect(try await peer.received().isEmpty)

    try await peer.send(.synStream(SPDYSynStream(streamID: 1, headers: ["streamtype": "error"])))
    let frames = try await peer.received()
    #expect(frames.count == 3)
    #expect(frames.first == Self.settings)
    #expect(frames.contains(.ping(id: 2)))
    #expect(frames.last == .synReply(streamID: 1, headers: SPDYHeaders(), fin: false))
    try await peer.send(.ping(id: 2))
    try await ping.value

    var inbound = peer.connection.inboundStreams.makeAsyncIterator()
    let stream = try #require(await inbound.next())
    #expect(stream.id == 1)
    #expect(stream.headers[first: "StreamType"] == "error")
  }

  @Test("invalid stream ids are refused with RST_STREAM, peer PINGs are echoed")
  func validation() async throws {
    var peer = try await PeerHarness(role: .server)
    try await peer.send(
      .synStream(SPDYSynStream(streamID: 3, headers: [:])),
      .synStream(SPDYSynStream(streamID: 1, headers: [:])),  // not increasing
      .synStream(SPDYSynStream(streamID: 4, headers: [:])),  // server parity
      .ping(id: 7)
    )
    let frames = try await peer.received()
    #expect(
      frames == [
        Self.settings,
        .synReply(streamID: 3, headers: SPDYHeaders(), fin: false),
        .rstStream(streamID: 1, status: SPDYResetStatus.protocolError.rawValue),
        .rstStream(streamID: 4, status: SPDYResetStatus.protocolError.rawValue),
        .ping(id: 7),
      ])
  }

  @Test("towards a peer without flow control (spdystream) writes are not limited to one window")
  func legacyPeerIsNotWindowLimited() async throws {
    var peer = try await PeerHarness(role: .client)
    #expect(try await peer.received() == [Self.settings])
    let connection = peer.connection
    let opening = Task { try await connection.openStream(headers: ["streamtype": "stdout"]) }
    #expect(
      try await peer.received { !$0.isEmpty } == [
        .synStream(SPDYSynStream(streamID: 1, headers: ["streamtype": "stdout"]))
      ])
    try await peer.send(.synReply(streamID: 1, headers: [:], fin: false))  // no SETTINGS, no WINDOW_UPDATE
    let stream = try await opening.value

    try await stream.write(payload(200 * 1024))
    try await stream.finish()
    let frames = try await peer.received()
    #expect(self.dataBytes(frames, stream: 1) == 200 * 1024)
    #expect(frames.last == .data(streamID: 1, data: ByteBuffer(), fin: true))
    #expect(frames.dropLast().allSatisfy { if case .data(_, let d, false) = $0 { d.readableBytes <= 16384 } else { false } })
  }

  @Test("towards a flow-controlling peer writes stop at the window and resume on WINDOW_UPDATE")
  func windowIsHonoured() async throws {
    var peer = try await PeerHarness(role: .client)
    try await peer.send(.settings(clearPersisted: false, values: [SPDYSetting(id: 7, value: 1000)]))
    let connection = peer.connection
    let opening = Task { try await connection.openStream(headers: [:]) }
    _ = try await peer.received { $0.count == 2 }  // SETTINGS, SYN_STREAM
    try await peer.send(.synReply(streamID: 1, headers: [:], fin: false))
    let stream = try await opening.value

    let done = Flag()
    let writer = Task {
      try await stream.write(payload(5000))
      done.set()
    }
    #expect(self.dataBytes(try await peer.received { self.dataBytes($0, stream: 1) >= 1000 }, stream: 1) == 1000)
    #expect(!done.isSet)
    try await peer.send(.windowUpdate(streamID: 1, delta: 1500))
    #expect(self.dataBytes(try await peer.received { self.dataBytes($0, stream: 1) >= 1500 }, stream: 1) == 1500)
    #expect(!done.isSet)
    // SETTINGS can grow every stream's window at once.
    try await peer.send(.settings(clearPersisted: false, values: [SPDYSetting(id: 7, value: 10_000)]))
    try await writer.value
    #expect(self.dataBytes(try await peer.received(), stream: 1) == 2500)
  }

  @Test("consuming inbound data returns window to the peer with WINDOW_UPDATE")
  func windowUpdatesFollowConsumption() async throws {
    var peer = try await PeerHarness(role: .server)
    try await peer.send(.synStream(SPDYSynStream(streamID: 1, headers: [:])))
    var inbound = peer.connection.inboundStreams.makeAsyncIterator()
    let stream = try #require(await inbound.next())
    _ = try await peer.received()

    for _ in 0..<4 { try await peer.send(.data(streamID: 1, data: payload(16384), fin: false)) }
    #expect(try await peer.received().isEmpty, "nothing consumed yet, so no window returned")
    var reader = stream.inbound.makeAsyncIterator()
    _ = try await reader.next()
    #expect(try await peer.received().isEmpty, "16 KiB consumed: below the half-window threshold")
    _ = try await reader.next()
    #expect(try await peer.received() == [.windowUpdate(streamID: 1, delta: 32768)])
  }

  @Test("a stalled consumer pauses socket reads once it holds too much unread data")
  func readPause() async throws {
    var peer = try await PeerHarness(role: .server)
    try await peer.send(.synStream(SPDYSynStream(streamID: 1, headers: [:])))
    var inbound = peer.connection.inboundStreams.makeAsyncIterator()
    let stream = try #require(await inbound.next())
    _ = try await peer.received()

    // A peer ignoring windows keeps sending.
    let chunks = SPDYSessionHandler.readPauseThreshold / 16384 + 1
    for _ in 0..<chunks { try await peer.send(.data(streamID: 1, data: payload(16384), fin: false)) }
    let before = peer.reads.reads
    peer.channel.read()
    await peer.channel.testingEventLoop.run()
    #expect(peer.reads.reads == before, "read() is held while the stream is over the threshold")

    var reader = stream.inbound.makeAsyncIterator()
    _ = try await reader.next()
    _ = try await reader.next()
    await peer.channel.testingEventLoop.run()
    #expect(peer.reads.reads == before + 1, "the held read() is released once the consumer catches up")
    _ = try await peer.received()
  }

  @Test("garbage from the peer gets GOAWAY(PROTOCOL_ERROR) and closes the connection")
  func garbageClosesConnection() async throws {
    var peer = try await PeerHarness(role: .server)
    try await peer.send(.synStream(SPDYSynStream(streamID: 1, headers: [:])))
    var inbound = peer.connection.inboundStreams.makeAsyncIterator()
    let stream = try #require(await inbound.next())
    _ = try await peer.received()

    try? await peer.sendRaw([0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00])  // SPDY version 7
    #expect(try await peer.received() == [.goAway(lastGoodStreamID: 1, status: 1)])
    await peer.connection.closed()
    await #expect(throws: SPDYError.self) { _ = try await readAll(stream) }
    #expect(await inbound.next() == nil)
  }

  @Test("GOAWAY from the peer ends inboundStreams and refuses new streams")
  func goAwayReceived() async throws {
    var peer = try await PeerHarness(role: .client)
    try await peer.send(.goAway(lastGoodStreamID: 0, status: 0))
    for await _ in peer.connection.inboundStreams {}
    await #expect(throws: SPDYError.connectionClosed) { _ = try await peer.connection.openStream(headers: [:]) }
    _ = try await peer.received()
  }

  @Test("cancelling a consumer waiting for data ends its wait")
  func cancelledRead() async throws {
    var peer = try await PeerHarness(role: .server)
    try await peer.send(.synStream(SPDYSynStream(streamID: 1, headers: [:])))
    var inbound = peer.connection.inboundStreams.makeAsyncIterator()
    let stream = try #require(await inbound.next())
    let reader = Task { try await readAll(stream) }
    try await peer.eventually { $0.streams[1]?.pendingRead != nil }
    reader.cancel()
    await #expect(throws: CancellationError.self) { _ = try await reader.value }
    // The stream still works for a new consumer.
    try await peer.send(.data(streamID: 1, data: ByteBuffer(string: "late"), fin: true))
    #expect(String(buffer: try await readAll(stream)) == "late")
    _ = try await peer.received()
  }
}
