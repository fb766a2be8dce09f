import Foundation

/// A bounded pipe of bytes from an async producer (a blob download) to one
/// blocking consumer (the unpack thread), so a layer is unpacked while it
/// downloads instead of from a file afterwards. The producer waits (without
/// blocking a thread) while `capacity` bytes are buffered; the consumer
/// blocks in `read` until bytes or the end arrive.
final class ByteChannel: @unchecked Sendable {
  /// Why `send` failed: the consumer stopped reading (its own error explains why).
  struct Closed: Error {}

  private let condition = NSCondition()
  private let capacity: Int
  // All below under `condition`.
  private var chunks: [Data] = []
  private var head = 0
  private var offset = 0
  private var buffered = 0
  private var finished = false
  private var failure: (any Error)?
  private var consumerClosed = false
  private var waitingProducer: CheckedContinuation<Void, any Error>?

  init(capacity: Int = 4 << 20) {
    self.capacity = capacity
  }

  /// Appends `data`; waits while the buffer is full. Throws `Closed` once the consumer stopped.
  func send(_ data: Data) async throws {
    guard !data.isEmpty else { return }
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
      condition.lock()
      defer { condition.unlock() }
      if consumerClosed {
        continuation.resume(throwing: Closed())
        return
      }
      chunks.append(data)
      buffered += data.count
      condition.signal()
      if buffered < capacity {
        continuation.resume()
      } else {
        waitingProducer = continuation
      }
    }
  }

  /// Ends the stream: cleanly (`error` nil) or with the producer's failure, which `read` then throws.
  func finish(_ error: (any Error)? = nil) {
    condition.lock()
    defer { condition.unlock() }
    guard !finished else { return }
    finished = true
    failure = error
    condition.broadcast()
  }

  /// Copies up to `buffer.count` bytes into `buffer`, blocking until some are
  /// there. Returns 0 at the clean end; throws the producer's failure.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    condition.lock()
    defer { condition.unlock() }
    while buffered == 0 && !finished { condition.wait() }
    if buffered == 0 {
      if let failure { throw failure }
      return 0
    }
    var copied = 0
    while copied < buffer.count && head < chunks.count {
      let chunk = chunks[head]
      let n = min(buffer.count - copied, chunk.count - offset)
      chunk.withUnsafeBytes { bytes in
        (buffer.baseAddress! + copied).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
      }
      copied += n
      offset += n
      if offset == chunk.count {
        head += 1
        offset = 0
      }
    }
    buffered -= copied
    if head == chunks.count {
      chunks.removeAll(keepingCapacity: true)
      head = 0
    } else if head > 64 {
      chunks.removeFirst(head)
      head = 0
    }
    if buffered < capacity, let producer = waitingProducer {
      waitingProducer = nil
      producer.resume()
    }
    return copied
  }

  /// The consumer is done (at the end or on its own error): drops what is
  /// buffered, and a waiting or later `send` throws `Closed`.
  func closeConsumer() {
    condition.lock()
    defer { condition.unlock() }
    consumerClosed = true
    chunks = []
    head = 0
    offset = 0
    buffered = 0
    if let producer = waitingProducer {
      waitingProducer = nil
      producer.resume(throwing: Closed())
    }
  }
}
