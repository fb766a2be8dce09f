/// What a tar entry is.
enum TarEntryKind: Equatable, Sendable {
  case regular
  case hardLink
  case symlink
  case characterDevice
  case blockDevice
  case directory
  case fifo
  /// A type the unpacker does not know (its data is skipped).
  case other(UInt8)
}

/// A point in time as tar stores it: seconds since the epoch and nanoseconds.
struct TarTime: Equatable, Sendable {
  var seconds: Int64
  var nanoseconds: Int64
}

/// One entry of a tar stream, with its PAX / GNU extensions applied.
struct TarEntry: Sendable {
  var kind: TarEntryKind
  /// The name as stored (bytes: Linux names need not be UTF-8).
  var name: [UInt8]
  /// Hard-link or symlink target, as stored.
  var linkName: [UInt8]
  /// Permission bits, with setuid, setgid and sticky.
  var mode: UInt32
  var uid: UInt32
  var gid: UInt32
  /// The bytes of data that follow the header.
  var size: Int64
  var modified: TarTime
  var accessed: TarTime?
  var deviceMajor: UInt32
  var deviceMinor: UInt32
  /// SCHILY.xattr.* records, in the order the archive gives them.
  var xattrs: [(name: String, value: [UInt8])]

  /// The name for messages.
  var displayName: String { String(decoding: name, as: UTF8.self) }
}

/// Reads tar headers from a layer's uncompressed stream, one entry at a time:
/// ustar, GNU (long names 'L', long links 'K', base-256 numbers) and PAX
/// ('x' per entry, 'g' global). After `next()` returns an entry, its data is
/// read with `readData(max:)`; whatever is not read is skipped by the next
/// `next()`. Behaves like Go's archive/tar where formats are ambiguous, since
/// that is what wrote and reads most image layers.
final class TarReader {
  private let stream: LayerDecompressor
  private let limits: UnpackLimits
  /// Data left of the current entry, and the padding after it.
  private var dataLeft: Int64 = 0
  private var paddingLeft: Int64 = 0
  private var currentName = ""
  /// Global PAX records ('g'), applied to every later entry.
  private var globalRecords: [String: [UInt8]] = [:]
  private var globalRecordBytes = 0
  private(set) var entryCount = 0
  private var ended = false

  init(stream: LayerDecompressor, limits: UnpackLimits) {
    self.stream = stream
    self.limits = limits
  }

  /// The next entry, or nil at the end of the archive.
  func next() throws(LayerError) -> TarEntry? {
    if ended { return nil }
    try skipRest()
    var records: [String: [UInt8]] = [:]
    var longName: [UInt8]?
    var longLink: [UInt8]?
    var pendingMeta = false
    // What the extended headers of this one entry add up to, held to the
    // header limit too, so a run of them cannot pile up in memory.
    var pendingMetaBytes: Int64 = 0

    while true {
      guard let header = try readHeaderBlock() else {
        ended = true
        if pendingMeta {
          throw .truncated(detail: "the archive ends after an extended header, without its entry")
        }
        return nil
      }
      let typeflag = header[156]
      let rawName = Self.cString(header, 0, 100)
      let format = Self.format(of: header)
      var headerName = rawName
      if format == .ustar {
        let prefix = Self.cString(header, 345, 155)
        if !prefix.isEmpty { headerName = prefix + [UInt8(ascii: "/")] + rawName }
      }
      let display = String(decoding: longName ?? headerName, as: UTF8.self)
      let size = try Self.number(header, 124, 12, field: "size", entry: display)
      guard size >= 0 else { throw .malformedArchive(entry: display, reason: "negative size") }

      switch typeflag {
      case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "K"):
        if size > Int64(limits.maxHeaderBytes) - pendingMetaBytes {
          throw .limitExceeded(.headerBytes, limit: Int64(limits.maxHeaderBytes), entry: nil)
        }
        pendingMetaBytes += size
      default:
        break
      }

      switch typeflag {
      case UInt8(ascii: "x"), UInt8(ascii: "g"):
        let data = try readMetaData(size: size, what: "a PAX header")
        let parsed = try Self.parsePAX(data, entry: display)
        if typeflag == UInt8(ascii: "x") {
          for (key, value) in parsed { records[key] = value }
          pendingMeta = true
        } else {
          for (key, value) in parsed {
            if let old = globalRecords[key] { globalRecordBytes -= key.utf8.count + old.count }
            if value.isEmpty && !key.hasPrefix("SCHILY.xattr.") {
              globalRecords[key] = nil
            } else {
              globalRecords[key] = value
              globalRecordBytes += key.utf8.count + value.count
            }
          }
          if globalRecordBytes > limits.maxHeaderBytes {
            throw .limitExceeded(.headerBytes, limit: Int64(limits.maxHeaderBytes), entry: nil)
          }
        }
        continue
      case UInt8(ascii: "L"), UInt8(ascii: "K"):
        let data = try readMetaData(size: size, what: "a GNU long name")
        let value = Array(data.prefix { $0 != 0 })
        if typeflag == UInt8(ascii: "L") { longName = value } else { longLink = value }
        pendingMeta = true
        continue
      default:
        break
      }

      // A real entry: apply global records, then this entry's records.
      // An empty value (other than an xattr's) removes the field (POSIX).
      var all = globalRecords
      for (key, value) in records {
        all[key] = value.isEmpty && !key.hasPrefix("SCHILY.xattr.") ? nil : value
      }

      var name = longName ?? headerName
      if let path = all["path"] { name = path }
      var linkName = longLink ?? Self.cString(header, 157, 100)
      if let path = all["linkpath"] { linkName = path }
      let entryName = String(decoding: name, as: UTF8.self)

      if all.keys.contains(where: { $0.hasPrefix("GNU.sparse.") }) || typeflag == UInt8(ascii: "S") {
        throw .unsupportedEntry(entry: entryName, reason: "sparse files")
      }
      if name.contains(0) || linkName.contains(0) {
        throw .malformedArchive(entry: entryName, reason: "a NUL byte in the name or link target")
      }
      if name.count > limits.maxPathBytes || linkName.count > limits.maxPathBytes {
        throw .limitExceeded(.pathBytes, limit: Int64(limits.maxPathBytes), entry: entryName)
      }

      entryCount += 1
      if entryCount > limits.maxEntries {
        throw .limitExceeded(.entries, limit: Int64(limits.maxEntries), entry: entryName)
      }

      var kind: TarEntryKind
      switch typeflag {
      case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
        // Old tars mark directories by a trailing slash only.
        kind = (typeflag == 0 && name.last == UInt8(ascii: "/")) ? .directory : .regular
      case UInt8(ascii: "1"): kind = .hardLink
      case UInt8(ascii: "2"): kind = .symlink
      case UInt8(ascii: "3"): kind = .characterDevice
      case UInt8(ascii: "4"): kind = .blockDevice
      case UInt8(ascii: "5"): kind = .directory
      case UInt8(ascii: "6"): kind = .fifo
      default: kind = .other(typeflag)
      }

      var entrySize = size
      if let value = all["size"] { entrySize = try Self.paxInteger(value, key: "size", entry: entryName) }
      // As in Go's archive/tar: these types carry no data, whatever the size field says.
      switch kind {
      case .hardLink, .symlink, .characterDevice, .blockDevice, .directory, .fifo: entrySize = 0
      case .regular, .other: break
      }
      if entrySize > stream.remainingAllowance {
        throw .limitExceeded(.uncompressedBytes, limit: limits.maxUncompressedBytes, entry: entryName)
      }

      var uid = try Self.number(header, 108, 8, field: "uid", entry: entryName)
      if let value = all["uid"] { uid = try Self.paxInteger(value, key: "uid", entry: entryName) }
      var gid = try Self.number(header, 116, 8, field: "gid", entry: entryName)
      if let value = all["gid"] { gid = try Self.paxInteger(value, key: "gid", entry: entryName) }
      // (uid_t)-1 means "leave unchanged" to chown, so it is not a valid owner.
      guard (0..<Int64(UInt32.max)).contains(uid), (0..<Int64(UInt32.max)).contains(gid) else {
        throw .malformedArchive(entry: entryName, reason: "uid or gid out of range")
      }
      var modified = TarTime(
        seconds: try Self.number(header, 136, 12, field: "mtime", entry: entryName), nanoseconds: 0)
      if let value = all["mtime"] { modified = try Self.paxTime(value, key: "mtime", entry: entryName) }
      var accessed: TarTime?
      if let value = all["atime"] { accessed = try Self.paxTime(value, key: "atime", entry: entryName) }
      let mode = try Self.number(header, 100, 8, field: "mode", entry: entryName)
      var major: Int64 = 0
      var minor: Int64 = 0
      if kind == .characterDevice || kind == .blockDevice {
        major = try Self.number(header, 329, 8, field: "devmajor", entry: entryName)
        minor = try Self.number(header, 337, 8, field: "devminor", entry: entryName)
        guard (0...0xfff).contains(major), (0...0xfffff).contains(minor) else {
          throw .malformedArchive(entry: entryName, reason: "device number out of range")
        }
      }

      var xattrs: [(name: String, value: [UInt8])] = []
      for (key, value) in all where key.hasPrefix("SCHILY.xattr.") {
        xattrs.append((String(key.dropFirst("SCHILY.xattr.".count)), value))
      }
      xattrs.sort { $0.name < $1.name }

      dataLeft = entrySize
      paddingLeft = (512 - entrySize % 512) % 512
      currentName = entryName
      return TarEntry(
        kind: kind, name: name, linkName: linkName, mode: UInt32(truncatingIfNeeded: mode) & 0o7777,
        uid: UInt32(uid), gid: UInt32(gid), size: entrySize, modified: modified, accessed: accessed,
        deviceMajor: UInt32(major), deviceMinor: UInt32(minor), xattrs: xattrs)
    }
  }

  /// Up to `max` bytes of the current entry's data, valid until the next call;
  /// empty when it has all been read.
  func readData(max: Int) throws(LayerError) -> UnsafeRawBufferPointer {
    guard dataLeft > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    let chunk = try stream.next(max: Int(min(Int64(max), dataLeft)))
    if chunk.isEmpty { throw .truncated(detail: "the stream ends inside the data of \(LayerError.quote(currentName))") }
    dataLeft -= Int64(chunk.count)
    return chunk
  }

  /// Skips the rest of the current entry's data and its padding.
  private func skipRest() throws(LayerError) {
    let left = dataLeft + paddingLeft
    dataLeft = 0
    paddingLeft = 0
    if left > 0 {
      try stream.skip(left, what: "the data of \(LayerError.quote(currentName))")
    }
  }

  /// The data of a PAX or GNU long-name header, held to the header limit.
  private func readMetaData(size: Int64, what: String) throws(LayerError) -> [UInt8] {
    guard size <= Int64(limits.maxHeaderBytes) else {
      throw .limitExceeded(.headerBytes, limit: Int64(limits.maxHeaderBytes), entry: nil)
    }
    var data = [UInt8](repeating: 0, count: Int(size))
    let padding = (512 - size % 512) % 512
    if size > 0 {
      if try !fill(&data, what: what) { throw .truncated(detail: "the stream ends inside \(what)") }
    }
    try stream.skip(padding, what: what)
    return data
  }

  /// The next header block, its checksum checked; nil at the end of the
  /// archive (two zero blocks, or a clean end of stream between entries).
  private func readHeaderBlock() throws(LayerError) -> [UInt8]? {
    var block = [UInt8](repeating: 0, count: 512)
    if try !fill(&block, what: "a tar header") { return nil }
    if block.allSatisfy({ $0 == 0 }) {
      if try !fill(&block, what: "the end-of-archive marker") || block.allSatisfy({ $0 == 0 }) { return nil }
      throw .malformedArchive(entry: nil, reason: "a zero block followed by data")
    }
    try Self.verifyChecksum(block)
    return block
  }

  /// Fills `array` from the stream; false when the stream ended cleanly first.
  private func fill(_ array: inout [UInt8], what: String) throws(LayerError) -> Bool {
    let stream = self.stream
    let result = array.withUnsafeMutableBytes { buf in
      Result { () throws(LayerError) -> Bool in try stream.readExactly(buf, what: what) }
    }
    return try result.get()
  }

  enum Format { case v7, ustar, gnu }

  static func format(of header: [UInt8]) -> Format {
    let magic = Array(header[257..<263])
    let version = Array(header[263..<265])
    if magic == Array("ustar\0".utf8) && version == Array("00".utf8) { return .ustar }
    if magic == Array("ustar ".utf8) && version == [UInt8(ascii: " "), 0] { return .gnu }
    return .v7
  }

  static func verifyChecksum(_ header: [UInt8]) throws(LayerError) {
    var unsigned: Int64 = 0
    var signed: Int64 = 0
    for (i, byte) in header.enumerated() {
      let b = (148..<156).contains(i) ? UInt8(ascii: " ") : byte
      unsigned += Int64(b)
      signed += Int64(Int8(bitPattern: b))
    }
    let field = header[148..<156]
    guard let stored = parseOctal(field), stored == unsigned || stored == signed else {
      throw .malformedArchive(entry: nil, reason: "not a tar header (checksum mismatch)")
    }
  }

  /// The bytes of a NUL-terminated field.
  static func cString(_ header: [UInt8], _ offset: Int, _ length: Int) -> [UInt8] {
    Array(header[offset..<(offset + length)].prefix { $0 != 0 })
  }

  /// A numeric header field: octal text, or base-256 when the top bit of its
  /// first byte is set (GNU and star, for values octal cannot hold).
  static func number(
    _ header: [UInt8], _ offset: Int, _ length: Int, field: String, entry: String
  ) throws(LayerError) -> Int64 {
    let bytes = header[offset..<(offset + length)]
    if let first = bytes.first, first & 0x80 != 0 {
      let inverted: UInt8 = first & 0x40 != 0 ? 0xff : 0
      var value: UInt64 = 0
      for (i, raw) in bytes.enumerated() {
        var c = raw ^ inverted
        if i == 0 { c &= 0x7f }
        guard value >> 56 == 0 else {
          throw .malformedArchive(entry: entry, reason: "\(field) overflows")
        }
        value = value << 8 | UInt64(c)
      }
      guard value >> 63 == 0 else { throw .malformedArchive(entry: entry, reason: "\(field) overflows") }
      return inverted == 0xff ? ~Int64(value) : Int64(value)
    }
    guard let value = parseOctal(bytes) else {
      throw .malformedArchive(entry: entry, reason: "\(field) is not an octal number")
    }
    return value
  }

  /// Octal text with leading and trailing spaces and NULs; empty is 0.
  static func parseOctal(_ bytes: ArraySlice<UInt8>) -> Int64? {
    var s = bytes[...]
    while let c = s.first, c == 0x20 || c == 0 { s.removeFirst() }
    while let c = s.last, c == 0x20 || c == 0 { s.removeLast() }
    var value: Int64 = 0
    for c in s {
      guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(c) else { return nil }
      let (shifted, o1) = value.multipliedReportingOverflow(by: 8)
      let (sum, o2) = shifted.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
      if o1 || o2 { return nil }
      value = sum
    }
    return value
  }

  /// PAX records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record.
  static func parsePAX(_ data: [UInt8], entry: String) throws(LayerError) -> [(String, [UInt8])] {
    var records: [(String, [UInt8])] = []
    var i = 0
    while i < data.count {
      // Some writers pad the record area with NULs.
      if data[i] == 0 && data[i...].allSatisfy({ $0 == 0 }) { break }
      var length = 0
      var j = i
      while j < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[j]) {
        length = length * 10 + Int(data[j] - UInt8(ascii: "0"))
        guard length <= data.count else { throw .malformedArchive(entry: entry, reason: "bad PAX record length") }
        j += 1
      }
      guard j > i, j < data.count, data[j] == UInt8(ascii: " "), length > j - i + 1, i + length <= data.count,
        data[i + length - 1] == UInt8(ascii: "\n")
      else { throw .malformedArchive(entry: entry, reason: "bad PAX record") }
      let body = data[(j + 1)..<(i + length - 1)]
      guard let eq = body.firstIndex(of: UInt8(ascii: "=")), eq > body.startIndex else {
        throw .malformedArchive(entry: entry, reason: "bad PAX record (no key)")
      }
      let key = String(decoding: body[body.startIndex..<eq], as: UTF8.self)
      records.append((key, Array(body[(eq + 1)...])))
      i += length
    }
    return records
  }

  /// A decimal PAX integer (size, uid, gid).
  static func paxInteger(_ value: [UInt8], key: String, entry: String) throws(LayerError) -> Int64 {
    guard !value.isEmpty, value.count <= 19,
      value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
      let n = Int64(String(decoding: value, as: UTF8.self))
    else { throw .malformedArchive(entry: entry, reason: "PAX \(key) is not a number") }
    return n
  }

  /// A PAX time: decimal seconds, optionally negative, with an optional
  /// fraction (digits past nanoseconds are dropped).
  static func paxTime(_ value: [UInt8], key: String, entry: String) throws(LayerError) -> TarTime {
    var text = value[...]
    var negative = false
    if text.first == UInt8(ascii: "-") {
      negative = true
      text = text.dropFirst()
    }
    let parts = text.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
    let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
    guard let whole = parts.first, !whole.isEmpty, whole.count <= 18, whole.allSatisfy(digits.contains),
      parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy(digits.contains))
    else { throw .malformedArchive(entry: entry, reason: "PAX \(key) is not a time") }
    var seconds: Int64 = 0
    for c in whole { seconds = seconds * 10 + Int64(c - UInt8(ascii: "0")) }
    var nanoseconds: Int64 = 0
    if parts.count == 2 {
      let fraction = Array(parts[1].prefix(9))
      for c in fraction { nanoseconds = nanoseconds * 10 + Int64(c - UInt8(ascii: "0")) }
      for _ in fraction.count..<9 { nanoseconds *= 10 }
    }
    if negative {
      seconds = -seconds
      if nanoseconds > 0 {
        seconds -= 1
        nanoseconds = 1_000_000_000 - nanoseconds
      }
    }
    return TarTime(seconds: seconds, nanoseconds: nanoseconds)
  }
}
