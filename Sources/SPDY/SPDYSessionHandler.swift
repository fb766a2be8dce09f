import NIOCore

/// The SPDY/3.1 session: routes frames to streams, answers PINGs, replies to SYN_STREAMs, and runs
/// per-stream flow control. Sits after the frame codec; all state is confined to the event loop.
///
/// Flow control and spdystream: Go's spdystream (what Kubernetes uses) neither sends WINDOW_UPDATE
/// nor honours it. So send windows are enforced only once the peer shows it does flow control
/// (a SETTINGS frame with INITIAL_WINDOW_SIZE, or any WINDOW_UPDATE; this implementation sends
/// SETTINGS first). Towards any peer, a stream whose unread data exceeds `readPauseThreshold`
/// stops socket reads until its consumer catches up, which is what stops a peer that ignores windows.
final class SPDYSessionHandler: ChannelDuplexHandler {
  typealias InboundIn = SPDYFrame
  typealias OutboundIn = SPDYFrame
  typealias OutboundOut = SPDYFrame

  /// SPDY/3 default initial window (64 KiB), also what we advertise.
  static let defaultWindow = 65_536
  /// Largest DATA payload we send.
  static let maxDataFrame = 16_384
  /// Unread bytes on one stream that pause reading from the socket.
  static let readPauseThreshold = 4 * defaultWindow
  /// How long `close()` waits for the peer to close after our GOAWAY and FIN.
  static let lingerTimeout = TimeAmount.seconds(2)

  enum State { case open, closing, closed }

  let role: SPDYRole
  let eventLoop: EventLoop
  private(set) var context: ChannelHandlerContext?
  private(set) var state = State.open
  var streams: [UInt32: SPDYStreamState] = [:]
  var nextStreamID: UInt32
  var lastPeerStreamID: UInt32 = 0
  private var nextPingID: UInt32
  private var pings: [UInt32: EventLoopPromise<Void>] = [:]
  var initialSendWindow = SPDYSessionHandler.defaultWindow
  let receiveWindow = SPDYSessionHandler.defaultWindow
  /// Whether the peer is known to do flow control (see the type's documentation).
  var peerFlowControl = false
  var goAwayReceived = false
  /// A server stays silent until the client's first frame: Go's client reads the 101 response
  /// through a bufio.Reader that it then drops, losing anything we sent right after the 101.
  private var peerSpoke: Bool
  private(set) var deferred: [(SPDYFrame, EventLoopPromise<Void>?)] = []
  private var needsFlush = false
  /// Streams with pending writes, served round-robin.
  var ready = CircularBuffer<SPDYStreamState>()
  /// Streams whose unread data is over `readPauseThreshold`.
  var overfull = Set<UInt32>()
  private var readRequested = false
  private var lingerTimer: Scheduled<Void>?
  private var inboundStreams: AsyncStream<SPDYStream>.Continuation?

  init(role: SPDYRole, eventLoop: EventLoop, inboundStreams: AsyncStream<SPDYStream>.Continuation) {
    self.role = role
    self.eventLoop = eventLoop
    self.inboundStreams = inboundStreams
    self.nextStreamID = role == .client ? 1 : 2
    self.nextPingID = role == .client ? 1 : 2
    self.peerSpoke = role == .client
  }

  func makeStream(_ state: SPDYStreamState) -> SPDYStream {
    SPDYStream(
      id: state.id, headers: state.headers, session: NIOLoopBound(self, eventLoop: self.eventLoop),
      state: NIOLoopBound(state, eventLoop: self.eventLoop))
  }

  // MARK: Channel events

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    // SETTINGS first: announces our window and tells a flow-controlling peer that we do it too.
    self.send(.settings(clearPersisted: false, values: [
      SPDYSetting(id: SPDYSetting.initialWindowSizeID, value: UInt32(self.receiveWindow))
    ]))
    self.flushIfNeeded()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    self.teardown(.connectionClosed)
    self.context = nil
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.teardown(.connectionClosed)
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    if case .protocolError? = error as? SPDYError, self.state != .closed {
      context.writeAndFlush(
        self.wrapOutboundOut(.goAway(lastGoodStreamID: self.lastPeerStreamID, status: SPDYWire.goAwayProtocolError)),
        promise: nil)
    }
    self.teardown(error as? SPDYError ?? .connectionClosed)
    context.close(promise: nil)
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable { self.pump() }
    context.fireChannelWritabilityChanged()
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    self.flushIfNeeded()
    context.fireChannelReadComplete()
  }

  func read(context: ChannelHandlerContext) {
    if self.overfull.isEmpty {
      context.read()
    } else {
      self.readRequested = true
    }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if !self.peerSpoke {
      self.peerSpoke = true
      for (frame, promise) in self.deferred { self.send(frame, promise: promise) }
      self.deferred = []
    }
    guard self.state == .open else { return }  // closing: drain and drop until the peer closes
    switch self.unwrapInboundIn(data) {
    case .synStream(let syn): self.receivedSynStream(syn)
    case .synReply(let id, _, let fin): self.receivedSynReply(id, fin: fin)
    case .rstStream(let id, let status): self.receivedReset(id, status: status)
    case .settings(_, let values): self.receivedSettings(values)
    case .ping(let id): self.receivedPing(id)
    case .goAway(let lastGood, _): self.receivedGoAway(lastGood)
    case .headers(let id, _, let fin): if fin, let stream = self.streams[id] { self.remoteFinished(stream) }
    case .windowUpdate(let id, let delta): self.receivedWindowUpdate(id, delta: delta)
    case .data(let id, let data, let fin): self.receivedData(id, data: data, fin: fin)
    }
  }

  // MARK: Inbound frames

  private func receivedSynStream(_ syn: SPDYSynStream) {
    let id = syn.streamID
    let peerParity: UInt32 = self.role == .server ? 1 : 0
    guard self.state == .open, !self.goAwayReceived else {
      self.send(.rstStream(streamID: id, status: SPDYResetStatus.refusedStream.rawValue))
      return
    }
    guard id % 2 == peerParity, id > self.lastPeerStreamID else {
      self.send(.rstStream(streamID: id, status: SPDYResetStatus.protocolError.rawValue))
      return
    }
    self.lastPeerStreamID = id
    let stream = SPDYStreamState(id: id, headers: syn.headers, sendWindow: self.initialSendWindow)
    stream.remoteFinished = syn.fin
    if syn.unidirectional {
      stream.finishQueued = true
      stream.finishSent = true
    }
    self.streams[id] = stream
    // Like Kubernetes' spdy connection: accept every stream with an empty SYN_REPLY.
    self.send(.synReply(streamID: id, headers: SPDYHeaders(), fin: false))
    self.unregisterIfClosed(stream)
    self.inboundStreams?.yield(self.makeStream(stream))
  }

  private func receivedSynReply(_ id: UInt32, fin: Bool) {
    guard let stream = self.streams[id], let promise = stream.replyPromise else { return }
    stream.replyPromise = nil
    if fin { self.remoteFinished(stream) }
    promise.succeed(self.makeStream(stream))
  }

  private func receivedReset(_ id: UInt32, status raw: UInt32) {
    guard let stream = self.streams[id] else { return }
    let status = SPDYResetStatus(rawValue: raw) ?? .protocolError
    stream.resetStatus = status
    self.unregister(stream)
    stream.replyPromise?.fail(SPDYError.streamReset(status))
    stream.replyPromise = nil
    stream.failWrites(SPDYError.streamReset(status))
    if !stream.remoteFinished { stream.inboundError = .streamReset(status) }
    stream.completePendingReadIfEnded()
  }

  private func receivedSettings(_ values: [SPDYSetting]) {
    for setting in values where setting.id == SPDYSetting.initialWindowSizeID {
      self.peerFlowControl = true
      let delta = Int(setting.value) - self.initialSendWindow
      self.initialSendWindow = Int(setting.value)
      for stream in self.streams.values {
        stream.sendWindow += delta
        self.schedule(stream)
      }
    }
    self.pump()
  }

  private func receivedPing(_ id: UInt32) {
    let ours: UInt32 = self.role == .client ? 1 : 0
    if id % 2 == ours {
      self.pings.removeValue(forKey: id)?.succeed(())
    } else {
      self.send(.ping(id: id))
    }
  }

  private func receivedGoAway(_ lastGood: UInt32) {
    self.goAwayReceived = true
    self.inboundStreams?.finish()
    self.inboundStreams = nil
    // Our streams above lastGood were never seen by the peer.
    let ours: UInt32 = self.role == .client ? 1 : 0
    for stream in self.streams.values where stream.id % 2 == ours && stream.id > lastGood {
      stream.resetStatus = .refusedStream
      self.unregister(stream)
      stream.replyPromise?.fail(SPDYError.connectionClosed)
      stream.replyPromise = nil
      stream.failWrites(SPDYError.connectionClosed)
      stream.inboundError = .connectionClosed
      stream.completePendingReadIfEnded()
    }
  }

  private func receivedWindowUpdate(_ id: UInt32, delta: UInt32) {
    self.peerFlowControl = true
    // Stream 0 (SPDY/3.1 connection window) is not tracked: spdystream does not do it either.
    guard id != 0, let stream = self.streams[id] else { return }
    stream.sendWindow = min(stream.sendWindow + Int(delta), Int(Int32.max))
    self.schedule(stream)
    self.pump()
  }

  private func receivedData(_ id: UInt32, data: ByteBuffer, fin: Bool) {
    // Unknown or closed stream, or data after FIN: dropped, as spdystream does.
    guard let stream = self.streams[id], !stream.remoteFinished else { return }
    if data.readableBytes > 0 {
      stream.inbound.append(data)
      stream.bufferedBytes += data.readableBytes
      if let read = stream.pendingRead {
        stream.pendingRead = nil
        read.succeed(self.dequeue(stream))
      }
      if stream.bufferedBytes > Self.readPauseThreshold { self.overfull.insert(id) }
    }
    if fin { self.remoteFinished(stream) }
  }

  func remoteFinished(_ stream: SPDYStreamState) {
    stream.remoteFinished = true
    if self.overfull.remove(stream.id) != nil { self.resumeReadingIfPossible() }
    stream.completePendingReadIfEnded()
    self.unregisterIfClosed(stream)
  }

  // MARK: Plumbing

  /// Writes a frame (held back while a server waits for the client's first frame).
  func send(_ frame: SPDYFrame, promise: EventLoopPromise<Void>? = nil) {
    guard let context = self.context, self.state != .closed else {
      promise?.fail(SPDYError.connectionClosed)
      return
    }
    guard self.peerSpoke else {
      self.deferred.append((frame, promise))
      return
    }
    context.write(self.wrapOutboundOut(frame), promise: promise)
    self.needsFlush = true
  }

  func flushIfNeeded() {
    guard self.needsFlush, let context = self.context else { return }
    self.needsFlush = false
    context.flush()
  }

  func unregister(_ stream: SPDYStreamState) {
    guard stream.registered else { return }
    stream.registered = false
    self.streams.removeValue(forKey: stream.id)
    if self.overfull.remove(stream.id) != nil { self.resumeReadingIfPossible() }
  }

  func unregisterIfClosed(_ stream: SPDYStreamState) {
    if stream.remoteFinished && stream.finishSent { self.unregister(stream) }
  }

  func resumeReadingIfPossible() {
    guard self.overfull.isEmpty, self.readRequested, let context = self.context else { return }
    self.readRequested = false
    context.read()
  }

  /// GOAWAY, then close the channel. Completes when the channel is closed.
  func close() -> EventLoopFuture<Void> {
    guard let context = self.context else { return self.eventLoop.makeSucceededVoidFuture() }
    if self.state == .open {
      self.state = .closing
      self.inboundStreams?.finish()
      self.inboundStreams = nil
      self.failStreams(.connectionClosed)
      if self.peerSpoke {
        let written = context.eventLoop.makePromise(of: Void.self)
        self.send(.goAway(lastGoodStreamID: self.lastPeerStreamID, status: SPDYWire.goAwayOK), promise: written)
        self.flushIfNeeded()
        written.futureResult.assumeIsolated().whenComplete { _ in self.linger(context) }
      } else {
        context.close(promise: nil)
      }
    }
    return context.channel.closeFuture
  }

  /// After our GOAWAY: send FIN but keep reading (and dropping) until the peer closes, at most
  /// `lingerTimeout`. Closing a socket with unread input makes the kernel send RST, which can
  /// destroy the tail of our output before the peer has read it.
  private func linger(_ context: ChannelHandlerContext) {
    guard self.state == .closing else { return }
    self.overfull.removeAll()
    self.resumeReadingIfPossible()
    let halfClosed = context.eventLoop.makePromise(of: Void.self)
    context.close(mode: .output, promise: halfClosed)
    halfClosed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
    self.lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTimeout) {
      context.close(promise: nil)
    }
  }

  func ping() -> EventLoopFuture<Void> {
    guard self.context != nil, self.state == .open else {
      return self.eventLoop.makeFailedFuture(SPDYError.connectionClosed)
    }
    let id = self.nextPingID
    self.nextPingID = id > 0x7fff_fff0 ? (self.role == .client ? 1 : 2) : id + 2
    let promise = self.eventLoop.makePromise(of: Void.self)
    self.pings[id] = promise
    self.send(.ping(id: id))
    self.flushIfNeeded()
    return promise.futureResult
  }

  /// Fails everything still waiting; the connection is gone.
  func teardown(_ error: SPDYError) {
    guard self.state != .closed else { return }
    self.state = .closed
    self.lingerTimer?.cancel()
    self.lingerTimer = nil
    self.failStreams(error)
    for (_, promise) in self.pings { promise.fail(error) }
    self.pings = [:]
    for (_, promise) in self.deferred { promise?.fail(error) }
    self.deferred = []
    self.inboundStreams?.finish()
    self.inboundStreams = nil
  }

  /// Ends every stream: queued writes and waiting opens fail, readers get `error` after their
  /// buffered data (or the end, if the peer had finished).
  private func failStreams(_ error: SPDYError) {
    for stream in self.streams.values {
      stream.registered = false
      stream.replyPromise?.fail(error)
      stream.replyPromise = nil
      stream.failWrites(error)
      if !stream.remoteFinished && stream.resetStatus == nil { stream.inboundError = error }
      stream.completePendingReadIfEnded()
    }
    self.streams = [:]
    self.ready.removeAll()
    self.overfull.removeAll()
  }
}
