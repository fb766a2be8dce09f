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

  /// The compressed input; the whole blob when it was read at once.
  private var input: UnsafeMutableRawBufferPointer
  private var inputStart = 0
  private var inputEnd = 0
  private var inputEOF = false

  /// The uncompressed output; the whole stream after a whole-buffer inflate.
  private var output: UnsafeMutableRawBufferPointer
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
  /// A gzip blob of `wholeSize` bytes (the manifest's size), when that is at
  /// most `wholeLimit`, is read whole and inflated at once by libdeflate when
  /// the host has it (2 to 3 times zlib); otherwise, or when that fails, it
  /// streams through zlib as any other. (Read whole, the blob is not
  /// inflated while it downloads; for blobs this small the faster inflate
  /// wins.)
  convenience init(channel: ByteChannel, maxBytes: Int64, wholeSize: Int64? = nil) throws(LayerError) {
    try self.init(fd: -1, channel: channel, path: "the blob download", maxBytes: maxBytes)
    if compression == .gzip, let wholeSize, wholeSize > 0, wholeSize <= Self.wholeLimit {
      try inflateWhole(size: Int(wholeSize))
    }
  }

  /// The largest gzip blob read whole for libdeflate (memory: the blob and
  /// its output are held at once, per layer unpacked).
  static let wholeLimit: Int64 = 4 << 20
  /// The largest output inflated at once (the gzip trailer's size decides).
  static let wholeOutputLimit = 32 << 20

  /// Reads the rest of the blob into memory and inflates it with libdeflate.
  /// Falls back to streaming zlib over the blob in memory when libdeflate is
  /// missing or the whole inflate fails for any reason (more than one
  /// member, a lying size trailer, corrupt data): zlib then words the error
  /// and enforces the size limit as it does for every layer.
  private func inflateWhole(size: Int) throws(LayerError) {
    guard crio_gzip_whole_available() != 0 else { return }
    let blob = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, inputEnd), alignment: 16)
    blob.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<inputEnd]))
    input.deallocate()
    input = blob
    while inputEnd < input.count && !inputEOF {
      let n = try readFile(into: UnsafeMutableRawBufferPointer(rebasing: input[inputEnd...]))
      if n == 0 { inputEOF = true } else { inputEnd += n }
    }
    if !inputEOF {
      // Full: one more read tells whether the blob ends here.
      var probe: UInt8 = 0
      let n = try withUnsafeMutableBytes(of: &probe) { (bytes) throws(LayerError) -> Int in try readFile(into: bytes) }
      guard n == 0 else {
        // Larger than announced: the download fails on it too, and its error is the one reported.
        throw .unreadableBlob(path: path, errno: EFBIG)
      }
      inputEOF = true
    }
    guard inputEnd >= 18 else { return }
    // ISIZE, the last member's uncompressed size mod 2^32: enough room for a
    // one-member blob; more members do not fit and fall back.
    let trailer = UnsafeRawBufferPointer(rebasing: input[(inputEnd - 4)..<inputEnd])
    let isize = Int(trailer[0]) | Int(trailer[1]) << 8 | Int(trailer[2]) << 16 | Int(trailer[3]) << 24
    guard Int64(isize) <= maxBytes, isize <= Self.wholeOutputLimit else { return }
    let whole = UnsafeMutableRawBufferPointer.allocate(byteCount: max(isize, 1), alignment: 16)
    var produced = 0
    guard crio_gzip_decompress_whole(input.baseAddress!, inputEnd, whole.baseAddress!, whole.count, &produced) == 0 else {
      whole.deallocate()
      return
    }
    output.deallocate()
    output = whole
    outputStart = 0
    outputEnd = produced
    finished = true
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
