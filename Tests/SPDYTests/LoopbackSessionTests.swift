import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import SPDY

/// End-to-end over real loopback TCP: SPDYServerUpgrader on a NIO HTTP server, SPDYClient.
@Suite("Loopback session", .timeLimit(.minutes(1)))
struct LoopbackSessionTests {
  /// Echoes every stream: reads to the end, then writes it all back and half-closes.
  private static func echo(_ connection: SPDYConnection) {
    Task {
      for await stream in connection.inboundStreams {
        Task {
          var all = try await readAll(stream)
          var reply = ByteBuffer(string: "\(stream.headers[first: "streamtype"] ?? "?"):")
          reply.writeBuffer(&all)
          try await stream.write(reply)
          try await stream.finish()
        }
      }
    }
  }

  @Test("upgrade handshake carries the extra response header; data both ways with half-close")
  func handshakeAndEcho() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, head) = try await fixture.connect()
    #expect(head.status == .switchingProtocols)
    #expect(head.headers["X-Stream-Protocol-Version"] == [LoopbackFixture.protocolV4])
    #expect(head.headers["Upgrade"].first?.lowercased() == "spdy/3.1")
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    Self.echo(server)

    let stream = try await client.openStream(headers: ["StreamType": "stdin"])
    #expect(stream.id == 1)
    try await stream.write(ByteBuffer(string: "hello "))
    try await stream.write(ByteBuffer(string: "world"))
    try await stream.finish()
    #expect(String(buffer: try await readAll(stream)) == "stdin:hello world")
    await #expect(throws: SPDYError.streamClosed) { try await stream.write(ByteBuffer(string: "late")) }

    await client.close()
    await server.closed()
    try await fixture.shutdown()
  }

  @Test("several concurrent streams move large payloads both ways within the windows")
  func severalStreams() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, _) = try await fixture.connect()
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    Self.echo(server)

    let size = 300 * 1024  // several windows' worth each way
    try await withThrowingTaskGroup(of: Void.self) { group in
      for index in 0..<4 {
        group.addTask {
          let stream = try await client.openStream(headers: ["streamtype": "s\(index)"])
          let sent = payload(size, seed: UInt8(index))
          async let received = readAll(stream)
          try await stream.write(sent)
          try await stream.finish()
          var expected = ByteBuffer(string: "s\(index):")
          expected.writeImmutableBuffer(sent)
          #expect(try await received == expected)
        }
      }
      try await group.waitForAll()
    }
    await client.close()
    try await fixture.shutdown()
  }

  @Test("half-close: the peer's inbound ends but it can still write")
  func halfClose() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, _) = try await fixture.connect()
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    let serverSide = Task { () -> Int in
      var streams = server.inboundStreams.makeAsyncIterator()
      let stream = try #require(await streams.next())
      let received = try await readAll(stream).readableBytes  // ends: the client half-closed
      try await stream.write(ByteBuffer(string: "after your FIN"))
      try await stream.finish()
      return received
    }
    let stream = try await client.openStream(headers: ["streamtype": "stdout"])
    try await stream.finish()
    #expect(String(buffer: try await readAll(stream)) == "after your FIN")
    #expect(try await serverSide.value == 0)
    await client.close()
    try await fixture.shutdown()
  }

  @Test("reset by either side fails the other side's reads and writes")
  func reset() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, _) = try await fixture.connect()
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    let serverSide = Task { () -> SPDYError? in
      var streams = server.inboundStreams.makeAsyncIterator()
      let first = try #require(await streams.next())
      await first.reset(.cancel)  // server resets the first stream
      let second = try #require(await streams.next())
      do {
        _ = try await readAll(second)  // the client resets this one
        return nil
      } catch let error as SPDYError {
        await #expect(throws: SPDYError.streamReset(.refusedStream)) { try await second.write(ByteBuffer(string: "x")) }
        return error
      }
    }

    let first = try await client.openStream(headers: ["streamtype": "one"])
    await #expect(throws: SPDYError.streamReset(.cancel)) { _ = try await readAll(first) }
    await #expect(throws: SPDYError.streamReset(.cancel)) { try await first.write(ByteBuffer(string: "x")) }

    let second = try await client.openStream(headers: ["streamtype": "two"])
    try await second.write(ByteBuffer(string: "some data first"))
    await second.reset(.refusedStream)
    #expect(try await serverSide.value == .streamReset(.refusedStream))
    // A locally reset stream's inbound simply ends.
    #expect(try await readAll(second).readableBytes == 0)
    await client.close()
    try await fixture.shutdown()
  }

  @Test("ping round trips from both ends")
  func ping() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, _) = try await fixture.connect()
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    try await client.ping()
    try await client.ping()
    try await server.ping()
    await client.close()
    await #expect(throws: SPDYError.connectionClosed) { try await client.ping() }
    try await fixture.shutdown()
  }

  @Test("a writer blocks once the reader stops consuming, and resumes when it reads")
  func flowControl() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, _) = try await fixture.connect()
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    var serverStreams = server.inboundStreams.makeAsyncIterator()

    let stream = try await client.openStream(headers: ["streamtype": "stdin"])
    let peer = try #require(await serverStreams.next())
    let size = 256 * 1024
    let done = Flag()
    let writer = Task {
      try await stream.write(payload(size))
      done.set()
    }
    try await waitUntilBuffered(peer, on: server, SPDYSessionHandler.defaultWindow)
    try await Task.sleep(for: .milliseconds(200))
    #expect(!done.isSet, "the write must be stuck on the exhausted window")
    let buffered = try await server.channel.eventLoop.submit { peer.state.value.bufferedBytes }.get()
    #expect(buffered == SPDYSessionHandler.defaultWindow, "the peer sent exactly one window")

    var received = 0
    var iterator = peer.inbound.makeAsyncIterator()
    while received < size, let chunk = try await iterator.next() { received += chunk.readableBytes }
    try await writer.value
    #expect(done.isSet)
    #expect(received == size)
    await client.close()
    try await fixture.shutdown()
  }

  @Test("closing the connection finishes inboundStreams and fails pending writes and reads")
  func closeFailsPending() async throws {
    let fixture = try await LoopbackFixture.start()
    let (client, _) = try await fixture.connect()
    var servers = fixture.serverConnections.makeAsyncIterator()
    let server = try #require(await servers.next())
    var serverStreams = server.inboundStreams.makeAsyncIterator()

    let stream = try await client.openStream(headers: ["streamtype": "stdin"])
    let accepted = try #require(await serverStreams.next())
    let blockedWrite = Task { try await stream.write(payload(512 * 1024)) }
    let blockedRead = Task { try await readAll(stream) }
    try await waitUntilBuffered(accepted, on: server, SPDYSessionHandler.defaultWindow)

    await server.close()
    await #expect(throws: SPDYError.connectionClosed) { try await blockedWrite.value }
    await #expect(throws: SPDYError.connectionClosed) { _ = try await blockedRead.value }
    #expect(await serverStreams.next() == nil)  // inboundStreams finished
    // The server's copy of the stream: buffered data first, then the error.
    var drained = 0
    await #expect(throws: SPDYError.connectionClosed) {
      for try await chunk in accepted.inbound { drained += chunk.readableBytes }
    }
    #expect(drained == SPDYSessionHandler.defaultWindow)
    await client.closed()
    for await _ in client.inboundStreams {}
    await #expect(throws: SPDYError.connectionClosed) { _ = try await client.openStream(headers: [:]) }
    try await fixture.shutdown()
  }

  @Test("a refused upgrade throws upgradeRefused with the response body")
  func refused() async throws {
    let fixture = try await LoopbackFixture.start()
    await #expect(throws: SPDYError.upgradeRefused(status: 403, body: LoopbackFixture.refusalBody)) {
      _ = try await fixture.connect(versions: ["v1.channel.k8s.io"])
    }
    try await fixture.shutdown()
  }
}

/// Waits (at most 5 s) until `stream` holds `bytes` unread bytes on `connection`'s event loop.
private func waitUntilBuffered(_ stream: SPDYStream, on connection: SPDYConnection, _ bytes: Int) async throws {
  let deadline = ContinuousClock.now + .seconds(5)
  while try await connection.channel.eventLoop.submit({ stream.state.value.bufferedBytes }).get() < bytes,
    ContinuousClock.now < deadline
  {
    try await Task.sleep(for: .milliseconds(10))
  }
}
