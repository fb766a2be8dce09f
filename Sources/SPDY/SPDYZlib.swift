import CSPDYZlib
import NIOCore

/// The persistent zlib deflate context of one direction of a connection. SPDY/3 compresses every
/// header block of a connection with the same stream (preset with the SPDY dictionary), ending
/// each block with Z_SYNC_FLUSH. Owned by a single `SPDYFrameEncoder`; not thread-safe.
final class SPDYHeaderCompressor {
  private let stream: OpaquePointer

  init() {
    // Level 9 like Go's framer (zlib.BestCompression); header blocks are tiny.
    let stream = SPDYDictionary.bytes.withUnsafeBufferPointer { cspdy_deflate_new($0.baseAddress, $0.count, 9) }
    guard let stream else { fatalError("zlib: deflateInit failed (out of memory)") }
    self.stream = stream
  }

  deinit { cspdy_zstream_free(self.stream) }

  /// Compresses `raw` (an uncompressed header block) and appends the sync-flushed output to `out`.
  func compress(_ raw: ByteBuffer, into out: inout ByteBuffer) throws {
    var output: UnsafePointer<UInt8>?
    var outputLength = 0
    let rc = raw.withUnsafeReadableBytes { bytes in
      cspdy_deflate_sync(
        self.stream, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, &output, &outputLength)
    }
    guard rc == CSPDY_Z_OK, let output else {
      throw SPDYError.protocolError("header compression failed (zlib \(rc))")
    }
    out.writeBytes(UnsafeRawBufferPointer(start: output, count: outputLength))
  }
}

/// The persistent zlib inflate context of one direction of a connection; supplies the SPDY
/// dictionary when the stream asks for it. Owned by a single `SPDYFrameDecoder`; not thread-safe.
final class SPDYHeaderDecompressor {
  private let stream: OpaquePointer

  init() {
    let stream = SPDYDictionary.bytes.withUnsafeBufferPointer { cspdy_inflate_new($0.baseAddress, $0.count) }
    guard let stream else { fatalError("zlib: inflateInit failed (out of memory)") }
    self.stream = stream
  }

  deinit { cspdy_zstream_free(self.stream) }

  /// Decompresses one compressed header block. Throws a protocol error on corrupt input or when the
  /// output would exceed `maxSize` bytes (the context is unusable afterwards: the connection must die).
  func decompress(_ compressed: ByteBuffer, maxSize: Int) throws -> ByteBuffer {
    var output: UnsafePointer<UInt8>?
    var outputLength = 0
    let rc = compressed.withUnsafeReadableBytes { bytes in
      cspdy_inflate(
        self.stream, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, maxSize, &output, &outputLength)
    }
    switch rc {
    case CSPDY_Z_OK:
      guard let output else { return ByteBuffer() }
      return ByteBuffer(bytes: UnsafeRawBufferPointer(start: output, count: outputLength))
    case CSPDY_Z_LIMIT:
      throw SPDYError.protocolError("decompressed header block larger than \(maxSize) bytes")
    default:
      throw SPDYError.protocolError("corrupt compressed header block (zlib \(rc))")
    }
  }
}
