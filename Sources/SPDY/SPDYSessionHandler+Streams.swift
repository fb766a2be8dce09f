import NIOCore

/// Stream operations requested by the public API (always run on the event loop), and the
/// round-robin writer that turns queued writes into DATA frames within the peer's windows.
extension SPDYSessionHandler {
  func openStream(headers: SPDYHeaders) -> EventLoopFuture<SPDYStream> {
    guard self.context != nil, self.state == .open, !self.goAwayReceived else {
      return self.eventLoop.makeFailedFuture(SPDYError.connectionClosed)
    }
    let id = self.nextStreamID
    guard id <= SPDYWire.streamIDMask else {
      return self.eventLoop.makeFailedFuture(SPDYError.protocolError("stream ids exhausted"))
    }
    self.nextStreamID += 2
    let stream = SPDYStreamState(id: id, headers: headers, sendWindow: self.initialSendWindow)
    let promise = self.eventLoop.makePromise(of: SPDYStream.self)
    stream.replyPromise = promise
    self.streams[id] = stream
    self.send(.synStream(SPDYSynStream(streamID: id, headers: headers)))
    self.flushIfNeeded()
    return promise.futureResult
  }

  /// The next DATA payload for the consumer; nil once the peer half-closed (or we reset).
  func read(_ stream: SPDYStreamState) -> EventLoopFuture<ByteBuffer?> {
    if !stream.inbound.isEmpty {
      let data = self.dequeue(stream)
      self.flushIfNeeded()
      return self.eventLoop.makeSucceededFuture(data)
    }
    if let error = stream.inboundError { return self.eventLoop.makeFailedFuture(error) }
    if stream.remoteFinished || stream.resetStatus != nil { return self.eventLoop.makeSucceededFuture(nil) }
    if self.state == .closed { return self.eventLoop.makeFailedFuture(SPDYError.connectionClosed) }
    guard stream.pendingRead == nil else {
      return self.eventLoop.makeFailedFuture(SPDYError.protocolError("concurrent reads on stream \(stream.id)"))
    }
    let promise = self.eventLoop.makePromise(of: ByteBuffer?.self)
    stream.pendingRead = promise
    return promise.futureResult
  }

  func cancelRead(_ stream: SPDYStreamState) {
    stream.pendingRead?.fail(CancellationError())
    stream.pendingRead = nil
  }

  /// Hands the oldest buffered payload to the consumer and returns its bytes to the peer's window.
  func dequeue(_ stream: SPDYStreamState) -> ByteBuffer {
    let data = stream.inbound.removeFirst()
    stream.bufferedBytes -= data.readableBytes
    if stream.bufferedBytes <= Self.readPauseThreshold, self.overfull.remove(stream.id) != nil {
      self.resumeReadingIfPossible()
    }
    if stream.registered, !stream.remoteFinished, stream.resetStatus == nil {
      stream.unacknowledged += data.readableBytes
      if stream.unacknowledged >= self.receiveWindow / 2 {
        self.send(.windowUpdate(streamID: stream.id, delta: UInt32(stream.unacknowledged)))
        stream.unacknowledged = 0
      }
    }
    return data
  }

  func write(_ stream: SPDYStreamState, data: ByteBuffer) -> EventLoopFuture<Void> {
    if let error = self.writeError(stream) { return self.eventLoop.makeFailedFuture(error) }
    if stream.finishQueued { return self.eventLoop.makeFailedFuture(SPDYError.streamClosed) }
    guard data.readableBytes > 0 else { return self.eventLoop.makeSucceededVoidFuture() }
    let promise = self.eventLoop.makePromise(of: Void.self)
    stream.pendingWrites.append(.init(data: data, fin: false, promise: promise))
    self.schedule(stream)
    self.pump()
    return promise.futureResult
  }

  /// Queues an empty DATA frame with FLAG_FIN behind the pending writes. Idempotent.
  func finish(_ stream: SPDYStreamState) -> EventLoopFuture<Void> {
    if let error = self.writeError(stream) { return self.eventLoop.makeFailedFuture(error) }
    if stream.finishQueued { return self.eventLoop.makeSucceededVoidFuture() }
    stream.finishQueued = true
    let promise = self.eventLoop.makePromise(of: Void.self)
    stream.pendingWrites.append(.init(data: ByteBuffer(), fin: true, promise: promise))
    self.schedule(stream)
    self.pump()
    return promise.futureResult
  }

  private func writeError(_ stream: SPDYStreamState) -> SPDYError? {
    if let status = stream.resetStatus { return .streamReset(status) }
    if self.state != .open || !stream.registered && !stream.finishSent { return .connectionClosed }
    return nil
  }

  /// RST_STREAM: queued writes fail, buffered input is dropped and the consumer sees the end.
  func reset(_ stream: SPDYStreamState, status: SPDYResetStatus) {
    guard stream.resetStatus == nil, stream.registered, self.state == .open else { return }
    stream.resetStatus = status
    self.send(.rstStream(streamID: stream.id, status: status.rawValue))
    self.flushIfNeeded()
    self.unregister(stream)
    stream.failWrites(SPDYError.streamReset(status))
    stream.inbound.removeAll()
    stream.bufferedBytes = 0
    stream.completePendingReadIfEnded()
  }

  func schedule(_ stream: SPDYStreamState) {
    guard !stream.scheduled, !stream.pendingWrites.isEmpty else { return }
    stream.scheduled = true
    self.ready.append(stream)
  }

  /// Sends one DATA frame per ready stream in turn while the channel is writable.
  func pump() {
    guard let context = self.context, self.state != .closed else { return }
    while context.channel.isWritable, let stream = self.ready.popFirst() {
      stream.scheduled = false
      guard stream.resetStatus == nil, stream.registered, var write = stream.pendingWrites.first else { continue }
      if write.fin {
        stream.pendingWrites.removeFirst()
        self.send(.data(streamID: stream.id, data: write.data, fin: true))
        stream.finishSent = true
        write.promise.succeed(())
        self.unregisterIfClosed(stream)
        continue
      }
      let window = self.peerFlowControl ? stream.sendWindow : Int.max
      guard window > 0 else { continue }  // rescheduled by WINDOW_UPDATE or SETTINGS
      stream.pendingWrites.removeFirst()
      let chunk = write.data.readSlice(length: min(write.data.readableBytes, Self.maxDataFrame, window))!
      stream.sendWindow -= chunk.readableBytes
      self.send(.data(streamID: stream.id, data: chunk, fin: false))
      if write.data.readableBytes > 0 {
        stream.pendingWrites.prepend(write)
      } else {
        write.promise.succeed(())
      }
      self.schedule(stream)
    }
    self.flushIfNeeded()
  }
}
