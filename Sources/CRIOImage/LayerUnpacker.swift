/// Bounds on what one layer may hold, enforced while it streams so a
/// decompression bomb or an absurd header fails early instead of filling the
/// disk or memory.
public struct UnpackLimits: Sendable, Equatable {
  /// Which limit a `LayerError.limitExceeded` is about.
  public enum Limit: String, Sendable, Equatable {
    /// `maxUncompressedBytes`.
    case uncompressedBytes
    /// `maxEntries`.
    case entries
    /// `maxHeaderBytes`.
    case headerBytes
    /// `maxPathBytes`.
    case pathBytes
  }

  /// The most bytes the uncompressed tar stream may have (default 32 GiB).
  public var maxUncompressedBytes: Int64
  /// The most entries (files, dirs, links, ...) the layer may have.
  public var maxEntries: Int
  /// The largest PAX header or GNU long name/link (and the most that global
  /// PAX records may add up to).
  public var maxHeaderBytes: Int
  /// The longest entry name or link target, in bytes. The default is Linux's
  /// PATH_MAX, which no tool that unpacks by path can go past either.
  public var maxPathBytes: Int

  public init(
    maxUncompressedBytes: Int64 = 32 << 30,
    maxEntries: Int = 1_000_000,
    maxHeaderBytes: Int = 1 << 20,
    maxPathBytes: Int = 4096
  ) {
    self.maxUncompressedBytes = maxUncompressedBytes
    self.maxEntries = maxEntries
    self.maxHeaderBytes = maxHeaderBytes
    self.maxPathBytes = maxPathBytes
  }
}

/// What unpacking a layer found out about it.
public struct UnpackedLayer: Sendable, Equatable {
  /// "sha256:<hex>" of the uncompressed tar stream: the layer's DiffID, as
  /// the image config's `rootfs.diff_ids` lists it.
  public let diffID: String
  /// The length of the uncompressed tar stream.
  public let uncompressedSize: Int64
  /// How the blob was compressed.
  public let compression: LayerCompression
  /// The entries the archive held (extended headers not counted).
  public let entryCount: Int

  public init(diffID: String, uncompressedSize: Int64, compression: LayerCompression, entryCount: Int) {
    self.diffID = diffID
    self.uncompressedSize = uncompressedSize
    self.compression = compression
    self.entryCount = entryCount
  }
}

/// Unpacks an OCI image layer (a gzip, zstd or plain tar blob, told apart by
/// its first bytes) into an empty directory as an overlayfs lower directory:
/// whiteouts become 0/0 character devices, opaque markers become the
/// `trusted.overlay.opaque` xattr. Streams: the blob is read in 256 KiB
/// chunks, decompressed, parsed and hashed as it passes.
///
/// Hostile layers are refused with a `LayerError` before anything is written
/// outside the directory: absolute names, ".." components, hard links out of
/// the layer, and paths through symlinks (every entry is created relative to
/// directory descriptors opened with O_NOFOLLOW, never by a path the kernel
/// resolves). On an error the directory holds a partial layer; the caller
/// deletes it.
///
/// Synchronous and blocking: run it off the cooperative thread pool. Needs
/// root (CAP_CHOWN, CAP_MKNOD, CAP_SYS_ADMIN for trusted.* xattrs).
public struct LayerUnpacker: Sendable {
  public let limits: UnpackLimits

  public init(limits: UnpackLimits = .init()) {
    self.limits = limits
  }

  /// Unpacks the layer blob at `blob` into `directory`, which must exist and
  /// be empty.
  public func unpack(blob: String, into directory: String) throws(LayerError) -> UnpackedLayer {
    try unpack(try LayerDecompressor(path: blob, maxBytes: limits.maxUncompressedBytes), into: directory)
  }

  /// Unpacks the blob arriving through `channel` (read until its end, which
  /// the producer marks) into `directory`.
  /// `size`: the blob's size, as the manifest gives it (small gzip blobs are
  /// then read whole and inflated at once).
  func unpack(channel: ByteChannel, size: Int64? = nil, into directory: String) throws(LayerError) -> UnpackedLayer {
    try unpack(
      try LayerDecompressor(channel: channel, maxBytes: limits.maxUncompressedBytes, wholeSize: size), into: directory)
  }

  private func unpack(_ stream: LayerDecompressor, into directory: String) throws(LayerError) -> UnpackedLayer {
    let writer = try LayerWriter(directory: directory)
    let reader = TarReader(stream: stream, limits: limits)
    while let entry = try reader.next() {
      try writer.write(entry, reader: reader)
    }
    // The DiffID covers the whole stream, padding after the archive included.
    try stream.drain()
    try writer.finish()
    return UnpackedLayer(
      diffID: stream.digest(), uncompressedSize: stream.total, compression: stream.compression,
      entryCount: reader.entryCount)
  }
}
