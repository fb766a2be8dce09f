import NIOCore

/// The mutable state of one stream. Confined to the connection's event loop: only the session
/// handler touches it (public `SPDYStream`s reach it through `NIOLoopBound`).
final class SPDYStreamState {
  let id: UInt32
  /// The SYN_STREAM headers.
  let headers: SPDYHeaders

  /// Locally opened stream waiting for its SYN_REPLY.
  var replyPromise: EventLoopPromise<SPDYStream>?

  // Inbound (peer to us).
  /// DATA payloads not yet handed to the consumer.
  var inbound = CircularBuffer<ByteBuffer>()
  var bufferedBytes = 0
  /// The peer half-closed (FIN seen).
  var remoteFinished = false
  /// Delivered to the consumer once `inbound` is drained (reset by the peer, connection died).
  var inboundError: SPDYError?
  /// A consumer waiting in `next()`.
  var pendingRead: EventLoopPromise<ByteBuffer?>?
  /// Bytes consumed by the application but not yet returned to the peer with WINDOW_UPDATE.
  var unacknowledged = 0

  // Outbound (us to peer).
  /// What the peer still lets us send (may go negative after SETTINGS shrinks the window).
  var sendWindow: Int
  var pendingWrites = CircularBuffer<PendingWrite>()
  /// `finish()` was called (further writes are refused).
  var finishQueued = false
  /// Our FIN is on the wire.
  var finishSent = false
  /// Set once the stream was reset, by either side.
  var resetStatus: SPDYResetStatus?
  /// In the session's round-robin queue of streams with pending writes.
  var scheduled = false
  /// In the session's stream map (frames for the id are routed here).
  var registered = true

  init(id: UInt32, headers: SPDYHeaders, sendWindow: Int) {
    self.id = id
    self.headers = headers
    self.sendWindow = sendWindow
  }

  struct PendingWrite {
    var data: ByteBuffer
    var fin: Bool
    var promise: EventLoopPromise<Void>
  }

  /// Fails every queued write (their bytes never reach the wire).
  func failWrites(_ error: Error) {
    while let write = self.pendingWrites.popFirst() {
      write.promise.fail(error)
    }
  }

  /// Ends a waiting consumer if nothing more will arrive: nil when finished, else the stored error.
  func completePendingReadIfEnded() {
    guard let read = self.pendingRead, self.inbound.isEmpty else { return }
    if let error = self.inboundError {
      self.pendingRead = nil
      read.fail(error)
    } else if self.remoteFinished || self.resetStatus != nil {
      self.pendingRead = nil
      read.succeed(nil)
    }
  }
}
