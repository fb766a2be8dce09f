import NIOCore
import Synchronization

/// A SPDY/3.1 connection (client or server side) on a NIO channel.
///
/// Thread-safe: every operation hops to the channel's event loop, where all state lives.
public final class SPDYConnection: Sendable {
  /// The underlying channel (e.g. for addresses). Don't write to it directly.
  public let channel: Channel
  public let role: SPDYRole
  /// Streams opened by the peer (each already answered with an empty SYN_REPLY). Finishes when
  /// the connection closes or goes away.
  public let inboundStreams: AsyncStream<SPDYStream>
  let session: NIOLoopBound<SPDYSessionHandler>

  private init(channel: Channel, role: SPDYRole, inboundStreams: AsyncStream<SPDYStream>, session: SPDYSessionHandler)
  {
    self.channel = channel
    self.role = role
    self.inboundStreams = inboundStreams
    self.session = NIOLoopBound(session, eventLoop: channel.eventLoop)
  }

  /// Adds the SPDY frame codec and session handlers to `channel` (whose HTTP handlers are already
  /// gone). Must be called on the channel's event loop. Every SYN_STREAM from the peer is
  /// answered with an empty SYN_REPLY automatically (as Kubernetes' spdy connection does, in
  /// both roles) and delivered on `inboundStreams`.
  public static func configure(on channel: Channel, role: SPDYRole) throws -> SPDYConnection {
    channel.eventLoop.preconditionInEventLoop()
    let (inbound, continuation) = AsyncStream.makeStream(of: SPDYStream.self)
    let session = SPDYSessionHandler(role: role, eventLoop: channel.eventLoop, inboundStreams: continuation)
    try channel.pipeline.syncOperations.addHandlers([
      ByteToMessageHandler(SPDYFrameDecoder()),
      MessageToByteHandler(SPDYFrameEncoder()),
      session,
    ])
    return SPDYConnection(channel: channel, role: role, inboundStreams: inbound, session: session)
  }

  /// Sends SYN_STREAM with `headers` and waits for the SYN_REPLY. Throws `.streamReset` if the
  /// peer refuses the stream, `.connectionClosed` if the connection is closed or going away.
  public func openStream(headers: SPDYHeaders) async throws -> SPDYStream {
    try await self.onLoop { $0.openStream(headers: headers) }
  }

  /// Sends a PING and waits for the peer to echo it.
  public func ping() async throws {
    try await self.onLoop { $0.ping() }
  }

  /// Sends GOAWAY, then closes the channel; returns once it is closed. Pending writes fail with
  /// `.connectionClosed`, readers see `.connectionClosed` after their buffered data.
  public func close() async {
    _ = try? await self.onLoop { $0.close() }
  }

  /// Returns once the channel is closed (by either side), or when the
  /// waiting task is cancelled.
  public func closed() async {
    let promise = self.channel.eventLoop.makePromise(of: Void.self)
    let completed = Mutex(false)
    // Completed once: by the close or by a cancellation.
    let complete: @Sendable () -> Void = {
      let first = completed.withLock { done -> Bool in
        defer { done = true }
        return !done
      }
      if first { promise.succeed(()) }
    }
    self.channel.closeFuture.whenComplete { _ in complete() }
    await withTaskCancellationHandler {
      _ = try? await promise.futureResult.get()
    } onCancel: {
      complete()
    }
  }

  private func onLoop<T: Sendable>(
    _ body: @escaping @Sendable (SPDYSessionHandler) -> EventLoopFuture<T>
  ) async throws -> T {
    let session = self.session
    do {
      return try await self.channel.eventLoop.flatSubmit { body(session.value) }.get()
    } catch is EventLoopError {
      throw SPDYError.connectionClosed  // the event loop is gone, and the connection with it
    }
  }
}

/// The role of this end of a SPDY connection: clients use odd stream and ping ids, servers even.
public enum SPDYRole: Sendable {
  case client, server
}
