import CCRIOCompression
import Crypto
import Glibc

/// How a layer blob is compressed, told by its first bytes.
public enum LayerCompression: String, Sendable, Equatable {
  case uncompressed
  case gzip
  case zstd

  /// The compression of a blob that starts with `prefix` (at least 4 bytes
  /// for zstd to be recognised). Anything else is taken as a plain tar.
  public static func detect<C: Collection>(_ prefix: C) -> LayerCompression where C.Element == UInt8 {
    let head = Array(prefix.prefix(4))
    if head.count >= 2, head[0] == 0x1f, head[1] == 0x8b { return .gzip }
    if head == [0x28, 0xb5, 0x2f, 0xfd] { return .zstd }
    return .uncompressed
  }
}

/// The uncompressed byte stream of a layer blob, read from the file in chunks,
/// decompressed as needed, hashed (SHA-256) and counted as it passes, and
/// held to the uncompressed-size limit. Used by one unpack call on one thread.
final class LayerDecompressor {
  static let chunkSize = 256 * 1024

  let compression: LayerCompression
  /// Uncompressed bytes read so far (all of them once the stream is drained).
  private(set) var total: Int64 = 0

  private let fd: Int32
  /// Where the blob comes from when it is not a file (`fd` is then -1).
  private let channel: ByteChannel?
  private let path: String
  private let maxBytes: Int64
  private var decompressor: OpaquePointer?
  private var hasher = SHA256()

  private let input: UnsafeMutableRawBufferPointer
  private var inputStart = 0
  private var inputEnd = 0
  private var inputEOF = false

  private let output: UnsafeMutableRawBufferPointer
  private var outputStart = 0
  private var outputEnd = 0
  private var finished = false

  /// The blob in the file at `path`.
  convenience init(path: String, maxBytes: Int64) throws(LayerError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .unreadableBlob(path: path, errno: errno) }
    try self.init(fd: fd, channel: nil, path: path, maxBytes: maxBytes)
  }

  /// The blob as it arrives through `channel` (a download in progress).
  convenience init(channel: ByteChannel, maxBytes: Int64) throws(LayerError) {
    try self.init(fd: -1, channel: channel, path: "the blob download", maxBytes: maxBytes)
  }

  private init(fd: Int32, channel: ByteChannel?, path: String, maxBytes: Int64) throws(LayerError) {
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
    // Read until at least 4 bytes (or the end) are in, to tell the format.
    var count = 0
    var eof = false
    var failure: Int32 = 0
    while count < 4 && !eof {
      let n = Self.readInput(fd: fd, channel: channel, into: UnsafeMutableRawBufferPointer(rebasing: input[count...]))
      if n > 0 {
        count += n
      } else if n == 0 {
        eof = true
      } else if errno != EINTR {
        failure = errno
        break
      }
    }
    let compression = LayerCompression.detect(UnsafeRawBufferPointer(rebasing: input[0..<count]))
    var decompressor: OpaquePointer?
    if failure == 0 && compression != .uncompressed {
      decompressor = crio_decompressor_new(compression == .gzip ? CRIO_DECOMPRESS_GZIP : CRIO_DECOMPRESS_ZSTD)
    }
    guard failure == 0, compression == .uncompressed || decompressor != nil else {
      if fd >= 0 { close(fd) }
      input.deallocate()
      if failure != 0 { throw .unreadableBlob(path: path, errno: failure) }
      throw .corruptCompressedData(format: compression.rawValue, detail: "cannot set up the decompressor (out of memory)")
    }
    self.path = path
    self.maxBytes = maxBytes
    self.fd = fd
    self.channel = channel
    self.input = input
    self.output = .allocate(byteCount: Self.chunkSize, alignment: 16)
    self.inputEnd = count
    self.inputEOF = eof
    self.compression = compression
    self.decompressor = decompressor
  }

  deinit {
    if let decompressor { crio_decompressor_free(decompressor) }
    if fd >= 0 { close(fd) }
    input.deallocate()
    output.deallocate()
  }

  /// "sha256:<hex>" of every uncompressed byte read so far.
  func digest() -> String {
    let hex = hasher.finalize().map { byte in
      let s = String(byte, radix: 16)
      return byte < 16 ? "0" + s : s
    }.joined()
    return "sha256:" + hex
  }

  /// Up to `max` bytes of the stream, valid until the next call on this
  /// object; empty at the clean end of the stream.
  func next(max: Int) throws(LayerError) -> UnsafeRawBufferPointer {
    if outputStart == outputEnd {
      guard try refill() else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    }
    let n = min(max, outputEnd - outputStart)
    // Counted and hashed as handed out, so a limit error points at the
    // entry being read, not at one further on in the same chunk.
    if Int64(n) > maxBytes - total {
      throw .limitExceeded(.uncompressedBytes, limit: maxBytes, entry: nil)
    }
    let chunk = UnsafeRawBufferPointer(rebasing: output[outputStart..<(outputStart + n)])
    outputStart += n
    total += Int64(n)
    hasher.update(bufferPointer: chunk)
    return chunk
  }

  /// Fills `buffer` completely. Returns false when the stream ended cleanly
  /// before its first byte; a stream that ends part-way through throws.
  func readExactly(_ buffer: UnsafeMutableRawBufferPointer, what: @autoclosure () -> String) throws(LayerError) -> Bool {
    var filled = 0
    while filled < buffer.count {
      let chunk = try next(max: buffer.count - filled)
      if chunk.isEmpty {
        if filled == 0 { return false }
        throw .truncated(detail: "the stream ends inside \(what())")
      }
      UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]).copyMemory(from: chunk)
      filled += chunk.count
    }
    return true
  }

  /// Skips `count` bytes; the stream must hold them.
  func skip(_ count: Int64, what: @autoclosure () -> String) throws(LayerError) {
    var left = count
    while left > 0 {
      let chunk = try next(max: Int(min(left, Int64(Self.chunkSize))))
      if chunk.isEmpty { throw .truncated(detail: "the stream ends inside \(what())") }
      left -= Int64(chunk.count)
    }
  }

  /// Reads (and hashes) everything left, up to the end of the stream.
  func drain() throws(LayerError) {
    while try !next(max: Self.chunkSize).isEmpty {}
  }

  /// Uncompressed bytes left before the size limit.
  var remainingAllowance: Int64 { maxBytes - total }

  /// Produces the next uncompressed chunk into `output`; false at the end.
  private func refill() throws(LayerError) -> Bool {
    if finished { return false }
    let produced: Int
    if let decompressor {
      produced = try decompress(decompressor)
    } else if inputStart < inputEnd {
      // The bytes read to detect the format come first.
      let n = min(inputEnd - inputStart, output.count)
      output.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[inputStart..<(inputStart + n)]))
      inputStart += n
      produced = n
    } else if inputEOF {
      produced = 0
    } else {
      produced = try readFile(into: output)
      if produced == 0 { inputEOF = true }
    }
    if produced == 0 {
      finished = true
      return false
    }
    outputStart = 0
    outputEnd = produced
    return true
  }

  private func decompress(_ d: OpaquePointer) throws(LayerError) -> Int {
    while true {
      if inputStart == inputEnd && !inputEOF {
        inputStart = 0
        inputEnd = try readFile(into: input)
        if inputEnd == 0 { inputEOF = true }
      }
      var used = 0
      var produced = 0
      let available = inputEnd - inputStart
      let rc = crio_decompressor_run(
        d, input.baseAddress! + inputStart, available, &used, output.baseAddress!, output.count, &produced)
      if rc != 0 {
        let message = String(cString: crio_decompressor_message(d))
        throw .corruptCompressedData(
          format: compression.rawValue, detail: message.isEmpty ? "decompression failed" : message)
      }
      inputStart += used
      if produced > 0 { return produced }
      if inputStart < inputEnd {
        if used > 0 { continue }
        // Input and output space were both there, and nothing moved.
        throw .corruptCompressedData(format: compression.rawValue, detail: "the decompressor makes no progress")
      }
      if inputEOF {
        if crio_decompressor_at_boundary(d) != 0 { return 0 }
        throw .truncated(detail: "the \(compression.rawValue) stream ends before its end marker")
      }
    }
  }

  private func readFile(into buffer: UnsafeMutableRawBufferPointer) throws(LayerError) -> Int {
    while true {
      let n = Self.readInput(fd: fd, channel: channel, into: buffer)
      if n >= 0 { return n }
      if errno == EINTR { continue }
      throw .unreadableBlob(path: path, errno: errno)
    }
  }

  /// read(2) from the file or from the channel: bytes read, 0 at the end, or
  /// -1 with `errno` set (EIO when the download failed: the puller reports
  /// the download's own error).
  private static func readInput(fd: Int32, channel: ByteChannel?, into buffer: UnsafeMutableRawBufferPointer) -> Int {
    guard let channel else { return read(fd, buffer.baseAddress, buffer.count) }
    do {
      return try channel.read(into: buffer)
    } catch {
      errno = EIO
      return -1
    }
  }
}
