import NIOCore
import Synchronization

/// One SPDY stream. Thread-safe: every operation hops to the connection's event loop.
public final class SPDYStream: Sendable {
  public let id: UInt32
  /// The SYN_STREAM headers (sent by us for streams we opened, received for the peer's).
  public let headers: SPDYHeaders
  let session: NIOLoopBound<SPDYSessionHandler>
  let state: NIOLoopBound<SPDYStreamState>

  init(
    id: UInt32,
    headers: SPDYHeaders,
    session: NIOLoopBound<SPDYSessionHandler>,
    state: NIOLoopBound<SPDYStreamState>
  ) {
    self.id = id
    self.headers = headers
    self.session = session
    self.state = state
  }

  /// DATA payloads until the peer half-closes (the sequence finishes) or resets the stream / the
  /// connection dies (throws `SPDYError`). Consuming elements is what grants the peer more window.
  /// Single consumer: a second concurrent `next()` throws.
  public var inbound: SPDYStreamInbound { SPDYStreamInbound(stream: self) }

  /// Sends `data` as DATA frames (at most 16 KiB each and within the peer's window), suspending
  /// while the window is exhausted or the channel is not writable. Returns once the last byte is
  /// handed to the channel. Throws `.streamReset`, `.streamClosed` (after `finish()`) or
  /// `.connectionClosed`.
  public func write(_ data: ByteBuffer) async throws {
    try await self.onLoop { session, state in session.write(state, data: data) }
  }

  /// Half-closes our direction: an empty DATA frame with FLAG_FIN after all queued writes.
  /// Calling it again is a no-op.
  public func finish() async throws {
    try await self.onLoop { session, state in session.finish(state) }
  }

  /// Sends RST_STREAM with `status`. Queued writes fail with `.streamReset(status)`, unread input
  /// is dropped and `inbound` finishes. No-op if the stream is already closed or reset.
  public func reset(_ status: SPDYResetStatus) async {
    _ = try? await self.onLoop { session, state in
      session.reset(state, status: status)
      return session.eventLoop.makeSucceededVoidFuture()
    }
  }

  func onLoop<T: Sendable>(
    _ body: @escaping @Sendable (SPDYSessionHandler, SPDYStreamState) -> EventLoopFuture<T>
  ) async throws -> T {
    let session = self.session
    let state = self.state
    do {
      return try await session.eventLoop.flatSubmit { body(session.value, state.value) }.get()
    } catch is EventLoopError {
      throw SPDYError.connectionClosed  // the event loop is gone, and the connection with it
    }
  }
}

extension SPDYStream: CustomStringConvertible {
  public var description: String { "SPDYStream(\(self.id))" }
}

/// The inbound DATA of a stream as an `AsyncSequence` of `ByteBuffer`s.
public struct SPDYStreamInbound: AsyncSequence, Sendable {
  public typealias Element = ByteBuffer
  let stream: SPDYStream

  public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self.stream) }

  public struct AsyncIterator: AsyncIteratorProtocol {
    let stream: SPDYStream
    private var done = false

    init(stream: SPDYStream) { self.stream = stream }

    public mutating func next() async throws -> ByteBuffer? {
      guard !self.done else { return nil }
      let stream = self.stream
      // Set before cancelRead is submitted, checked on the loop before a read waits: whichever
      // of the two runs first on the loop, a cancelled consumer never stays suspended.
      let cancelled = CancelFlag()
      do {
        let next = try await withTaskCancellationHandler {
          try await stream.onLoop { session, state in
            cancelled.isSet
              ? session.eventLoop.makeFailedFuture(CancellationError()) : session.read(state)
          }
        } onCancel: {
          cancelled.set()
          stream.session.eventLoop.execute { stream.session.value.cancelRead(stream.state.value) }
        }
        if next == nil { self.done = true }
        return next
      } catch {
        self.done = true
        throw error
      }
    }
  }
}

/// A one-way flag shared between a cancellation handler and the event loop.
private final class CancelFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  var isSet: Bool { self.flag.load(ordering: .acquiring) }
  func set() { self.flag.store(true, ordering: .releasing) }
}
