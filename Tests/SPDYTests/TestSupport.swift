import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Synchronization

@testable import SPDY

/// A loopback HTTP server that upgrades to SPDY/3.1 when the client offers v4.channel.k8s.io,
/// and otherwise answers 403 with a text body (like Kubernetes' streaming server).
final class LoopbackFixture: Sendable {
  static let protocolV4 = "v4.channel.k8s.io"
  static let refusalBody = "no supported X-Stream-Protocol-Version"

  let group: MultiThreadedEventLoopGroup
  let serverChannel: Channel
  let serverConnections: AsyncStream<SPDYConnection>
  var port: Int { self.serverChannel.localAddress!.port! }

  private init(group: MultiThreadedEventLoopGroup, serverChannel: Channel, serverConnections: AsyncStream<SPDYConnection>) {
    self.group = group
    self.serverChannel = serverChannel
    self.serverConnections = serverConnections
  }

  static func start() async throws -> LoopbackFixture {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let (connections, continuation) = AsyncStream.makeStream(of: SPDYConnection.self)
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let refuse = NIOLoopBound(RefusingHTTPHandler(), eventLoop: channel.eventLoop)
          let upgrader = SPDYServerUpgrader(
            shouldUpgrade: { channel, head in
              let offered = head.headers["X-Stream-Protocol-Version"]
              let extra: HTTPHeaders? =
                offered.contains(Self.protocolV4) ? HTTPHeaders([("X-Stream-Protocol-Version", Self.protocolV4)]) : nil
              return channel.eventLoop.makeSucceededFuture(extra)
            },
            upgradePipelineHandler: { channel, _ in
              channel.eventLoop.makeCompletedFuture {
                continuation.yield(try SPDYConnection.configure(on: channel, role: .server))
              }
            })
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (
              upgraders: [upgrader],
              completionHandler: { context in
                _ = context.pipeline.syncOperations.removeHandler(refuse.value)
              }
            ))
          try channel.pipeline.syncOperations.addHandler(refuse.value)
        }
      }
      .bind(host: "127.0.0.1", port: 0)
      .get()
    return LoopbackFixture(group: group, serverChannel: channel, serverConnections: connections)
  }

  func connect(versions: [String] = [LoopbackFixture.protocolV4, "v3.channel.k8s.io"]) async throws -> (
    SPDYConnection, HTTPResponseHead
  ) {
    let headers = HTTPHeaders(versions.map { ("X-Stream-Protocol-Version", $0) })
    return try await SPDYClient.connect(
      host: "127.0.0.1", port: self.port, path: "/exec/test", headers: headers, group: self.group)
  }

  func shutdown() async throws {
    try await self.serverChannel.close()
    try await self.group.shutdownGracefully()
  }
}

/// Answers any request it sees with 403 (only reached when the upgrade is declined).
final class RefusingHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .end = self.unwrapInboundIn(data) else { return }
    let body = ByteBuffer(string: LoopbackFixture.refusalBody)
    var head = HTTPResponseHead(version: .http1_1, status: .forbidden)
    head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
    head.headers.add(name: "Connection", value: "close")
    context.write(self.wrapOutboundOut(.head(head)), promise: nil)
    context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    if error as? SPDYError == .upgradeDeclined { return }
    context.fireErrorCaught(error)
  }
}

/// Reads a whole stream into one buffer.
func readAll(_ stream: SPDYStream) async throws -> ByteBuffer {
  var all = ByteBuffer()
  for try await var chunk in stream.inbound { all.writeBuffer(&chunk) }
  return all
}

/// Deterministic test payload.
func payload(_ count: Int, seed: UInt8 = 0) -> ByteBuffer {
  var buffer = ByteBuffer()
  buffer.writeBytes((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
  return buffer
}

/// A thread-safe flag for "has this task finished yet?" checks.
final class Flag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { self.value.load(ordering: .acquiring) }
  func set() { self.value.store(true, ordering: .releasing) }
}

/// Drives one SPDY session (our handlers) on a NIOAsyncTestingChannel, playing the peer by hand.
struct PeerHarness {
  let channel: NIOAsyncTestingChannel
  let connection: SPDYConnection
  let reads: ReadRecorder
  private let encoder = SPDYFrameEncoder()
  private var decoder = SPDYFrameDecoder()
  private var pending = ByteBuffer()

  init(role: SPDYRole) async throws {
    let channel = NIOAsyncTestingChannel()
    let recorder = ReadRecorder()
    try await channel.pipeline.addHandler(recorder)
    try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
    self.channel = channel
    self.reads = recorder
    self.connection = try await channel.testingEventLoop.executeInContext {
      try SPDYConnection.configure(on: channel, role: role)
    }
  }

  /// Feeds frames from the "peer".
  func send(_ frames: SPDYFrame...) async throws {
    var out = ByteBuffer()
    for frame in frames { try self.encoder.encode(data: frame, out: &out) }
    try await self.channel.writeInbound(out)
  }

  func sendRaw(_ bytes: [UInt8]) async throws {
    try await self.channel.writeInbound(ByteBuffer(bytes: bytes))
  }

  /// Collects written frames until `done` holds for all collected so far (at most 5 s).
  mutating func received(until done: ([SPDYFrame]) -> Bool) async throws -> [SPDYFrame] {
    var frames: [SPDYFrame] = []
    let deadline = ContinuousClock.now + .seconds(5)
    while true {
      frames += try await self.received()
      if done(frames) || ContinuousClock.now > deadline { return frames }
      try await Task.sleep(for: .milliseconds(5))
    }
  }

  /// Polls `condition` on the event loop until it holds (at most 5 s).
  func eventually(_ condition: @escaping @Sendable (SPDYSessionHandler) -> Bool) async throws {
    let session = self.connection.session
    let deadline = ContinuousClock.now + .seconds(5)
    while try await !self.channel.testingEventLoop.executeInContext({ condition(session.value) }) {
      if ContinuousClock.now > deadline { return }
      try await Task.sleep(for: .milliseconds(5))
    }
  }

  /// Frames our side has written so far.
  mutating func received() async throws -> [SPDYFrame] {
    await self.channel.testingEventLoop.run()
    while var chunk = try await self.channel.readOutbound(as: ByteBuffer.self) {
      self.pending.writeBuffer(&chunk)
    }
    var frames: [SPDYFrame] = []
    while let frame = try self.decoder.nextFrame(from: &self.pending) { frames.append(frame) }
    return frames
  }
}

/// Counts `read()` calls that reach the head of the pipeline.
final class ReadRecorder: ChannelOutboundHandler, Sendable {
  typealias OutboundIn = NIOAny
  private let count = Atomic<Int>(0)
  var reads: Int { self.count.load(ordering: .acquiring) }

  func read(context: ChannelHandlerContext) {
    self.count.add(1, ordering: .acquiringAndReleasing)
    context.read()
  }
}
