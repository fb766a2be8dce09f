import NIOCore

/// The first handler of every connection on the CRI socket: it tells gRPC's
/// HTTP/2 from the HTTP/1 requests of `crio status` (and cAdvisor's CRI-O
/// client) by the first bytes, as CRI-O serves both on one socket.
///
/// The gRPC pipeline behind it is set up as for any connection; until the
/// client's first bytes decide, what it writes (the server's SETTINGS) is
/// held back. An HTTP/2 client's preface lets everything through and removes
/// the sniffer, so RPCs pay nothing after the connection's first read. Any
/// other first bytes put an HTTP/1 server in front of the sniffer, which from
/// then on drops what the idle gRPC pipeline writes.
final class ProtocolSniffer: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = IOData
  typealias OutboundOut = IOData

  /// What the connection turned out to speak.
  enum Decision: Equatable {
    case http2
    case http1
    /// The bytes so far are a prefix of the HTTP/2 preface: read more.
    case undecided
  }

  /// The client connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4).
  static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

  static func decide(_ bytes: some Collection<UInt8>) -> Decision {
    for (index, byte) in bytes.prefix(http2Preface.count).enumerated() where byte != http2Preface[index] {
      return .http1
    }
    return bytes.count >= http2Preface.count ? .http2 : .undecided
  }

  private enum State {
    case sniffing
    case http1
  }

  private var state = State.sniffing
  private var received: ByteBuffer?
  private var heldWrites: [(NIOAny, EventLoopPromise<Void>?)] = []
  private var flushHeld = false
  /// Adds the HTTP/1 handlers at the given position (before the sniffer).
  private let installHTTP1: (ChannelPipeline.SynchronousOperations, ChannelPipeline.SynchronousOperations.Position) throws -> Void

  init(
    installHTTP1: @escaping (ChannelPipeline.SynchronousOperations, ChannelPipeline.SynchronousOperations.Position) throws -> Void
  ) {
    self.installHTTP1 = installHTTP1
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .sniffing = state else { return }
    var bytes = unwrapInboundIn(data)
    if var received {
      received.writeBuffer(&bytes)
      self.received = received
    } else {
      received = bytes
    }
    guard let received else { return }
    switch Self.decide(received.readableBytesView) {
    case .undecided:
      return
    case .http2:
      passThrough(context: context, received)
    case .http1:
      becomeHTTP1(context: context, received)
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    // The gRPC pipeline sees read bursts only once it is the connection's protocol.
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    switch state {
    case .sniffing: heldWrites.append((data, promise))
    case .http1: promise?.fail(ChannelError.ioOnClosedChannel)
    }
  }

  func flush(context: ChannelHandlerContext) {
    if case .sniffing = state { flushHeld = true }
  }

  func channelInactive(context: ChannelHandlerContext) {
    failHeldWrites()
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    failHeldWrites()
  }

  private func failHeldWrites() {
    let held = heldWrites
    heldWrites = []
    for (_, promise) in held { promise?.fail(ChannelError.ioOnClosedChannel) }
  }

  /// HTTP/2: release the held writes, hand over the bytes read, step aside.
  private func passThrough(context: ChannelHandlerContext, _ bytes: ByteBuffer) {
    let held = heldWrites
    heldWrites = []
    received = nil
    for (data, promise) in held { context.write(data, promise: promise) }
    if flushHeld { context.flush() }
    context.fireChannelRead(wrapInboundOut(bytes))
    context.fireChannelReadComplete()
    _ = context.pipeline.syncOperations.removeHandler(context: context)
  }

  /// HTTP/1: serve it from handlers in front of this one, replaying the bytes read.
  private func becomeHTTP1(context: ChannelHandlerContext, _ bytes: ByteBuffer) {
    state = .http1
    received = nil
    failHeldWrites()
    do {
      try installHTTP1(context.pipeline.syncOperations, .before(self))
    } catch {
      context.close(promise: nil)
      return
    }
    context.pipeline.syncOperations.fireChannelRead(NIOAny(bytes))
    context.pipeline.syncOperations.fireChannelReadComplete()
  }
}
