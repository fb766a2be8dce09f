/// Builds tar streams in memory for the tests: ustar headers, with a PAX
/// header when a name or link is too long for ustar, for xattrs and for
/// sub-second times; GNU long names and base-256 numbers on request. It
/// writes whatever it is told, so tests can make hostile layers too.
public struct TarWriter {
  public enum Kind {
    case file
    case directory
    case symlink
    case hardLink
    case characterDevice
    case blockDevice
    case fifo
    /// Any type flag, written as given.
    case raw(UInt8)

    public var flag: UInt8 {
      switch self {
      case .file: return UInt8(ascii: "0")
      case .hardLink: return UInt8(ascii: "1")
      case .symlink: return UInt8(ascii: "2")
      case .characterDevice: return UInt8(ascii: "3")
      case .blockDevice: return UInt8(ascii: "4")
      case .directory: return UInt8(ascii: "5")
      case .fifo: return UInt8(ascii: "6")
      case .raw(let flag): return flag
      }
    }
  }

  public struct Entry {
    public var name: String
    public var kind: Kind = .file
    public var content: [UInt8] = []
    public var mode: Int = 0o644
    public var uid: Int = 0
    public var gid: Int = 0
    public var mtime: Int = 1_700_000_000
    /// Sub-second part, written as a PAX mtime when set.
    public var mtimeNanoseconds: Int?
    public var linkName: String = ""
    public var major: Int = 0
    public var minor: Int = 0
    public var xattrs: [(String, [UInt8])] = []
    /// More PAX records, written as given.
    public var paxRecords: [(String, [UInt8])] = []
    /// Use GNU 'L' / 'K' headers instead of PAX for long names and links.
    public var gnuLongNames = false
    /// Write uid, gid and size in base-256 (GNU) instead of octal.
    public var base256 = false
    /// The size field, when it must lie about the content.
    public var sizeField: Int?
    /// The ustar prefix field (the name's directory part, for names over 100 bytes).
    public var ustarPrefix = ""

    public init(
      name: String,
      kind: Kind = .file,
      content: [UInt8] = [],
      mode: Int = 0o644,
      uid: Int = 0,
      gid: Int = 0,
      mtime: Int = 1_700_000_000,
      mtimeNanoseconds: Int? = nil,
      linkName: String = "",
      major: Int = 0,
      minor: Int = 0,
      xattrs: [(String, [UInt8])] = [],
      paxRecords: [(String, [UInt8])] = [],
      gnuLongNames: Bool = false,
      base256: Bool = false,
      sizeField: Int? = nil,
      ustarPrefix: String = ""
    ) {
      self.name = name
      self.kind = kind
      self.content = content
      self.mode = mode
      self.uid = uid
      self.gid = gid
      self.mtime = mtime
      self.mtimeNanoseconds = mtimeNanoseconds
      self.linkName = linkName
      self.major = major
      self.minor = minor
      self.xattrs = xattrs
      self.paxRecords = paxRecords
      self.gnuLongNames = gnuLongNames
      self.base256 = base256
      self.sizeField = sizeField
      self.ustarPrefix = ustarPrefix
    }
  }

  public private(set) var bytes: [UInt8] = []

  public init() {}

  /// The finished archive: the entries and the end-of-archive marker.
  public var archive: [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

  public mutating func add(_ entry: Entry) {
    var pax: [(String, [UInt8])] = []
    var headerName = entry.name
    var headerLink = entry.linkName
    if entry.name.utf8.count > 100 {
      if entry.gnuLongNames {
        appendRaw(name: "././@LongLink", flag: UInt8(ascii: "L"), content: Array(entry.name.utf8) + [0])
      } else {
        pax.append(("path", Array(entry.name.utf8)))
      }
      headerName = String(entry.name.suffix(99))
    }
    if entry.linkName.utf8.count > 100 {
      if entry.gnuLongNames {
        appendRaw(name: "././@LongLink", flag: UInt8(ascii: "K"), content: Array(entry.linkName.utf8) + [0])
      } else {
        pax.append(("linkpath", Array(entry.linkName.utf8)))
      }
      headerLink = String(entry.linkName.suffix(99))
    }
    if let nanos = entry.mtimeNanoseconds {
      let fraction = String(nanos)
      let padded = String(repeating: "0", count: 9 - fraction.count) + fraction
      pax.append(("mtime", Array("\(entry.mtime).\(padded)".utf8)))
    }
    for (name, value) in entry.xattrs { pax.append(("SCHILY.xattr." + name, value)) }
    pax += entry.paxRecords
    if !pax.isEmpty {
      appendRaw(name: "PaxHeaders/" + String(headerName.suffix(80)), flag: UInt8(ascii: "x"), content: Self.paxData(pax))
    }
    var header = Self.header(
      name: headerName, flag: entry.kind.flag, size: entry.sizeField ?? entry.content.count, mode: entry.mode,
      uid: entry.uid, gid: entry.gid, mtime: entry.mtime, linkName: headerLink, major: entry.major,
      minor: entry.minor, base256: entry.base256)
    Self.put(&header, 345, 155, Array(entry.ustarPrefix.utf8))
    Self.sealChecksum(&header)
    bytes += header
    appendData(entry.content)
  }

  /// A global PAX header ('g'), applying to every later entry.
  public mutating func addGlobal(_ records: [(String, [UInt8])]) {
    appendRaw(name: "pax_global_header", flag: UInt8(ascii: "g"), content: Self.paxData(records))
  }

  /// A PAX extended header ('x') on its own: it applies to the next entry.
  public mutating func addExtendedHeader(_ records: [(String, [UInt8])]) {
    appendRaw(name: "PaxHeaders/extra", flag: UInt8(ascii: "x"), content: Self.paxData(records))
  }

  /// Raw bytes, as they are (for garbage, truncation, a lone header).
  public mutating func appendBytes(_ raw: [UInt8]) { bytes += raw }

  // Convenience.

  public mutating func file(_ name: String, _ content: String = "", mode: Int = 0o644, uid: Int = 0, gid: Int = 0) {
    add(Entry(name: name, kind: .file, content: Array(content.utf8), mode: mode, uid: uid, gid: gid))
  }

  public mutating func directory(_ name: String, mode: Int = 0o755, uid: Int = 0, gid: Int = 0, mtime: Int = 1_700_000_000) {
    add(Entry(name: name, kind: .directory, mode: mode, uid: uid, gid: gid, mtime: mtime))
  }

  public mutating func symlink(_ name: String, to target: String) {
    add(Entry(name: name, kind: .symlink, mode: 0o777, linkName: target))
  }

  public mutating func hardLink(_ name: String, to target: String) {
    add(Entry(name: name, kind: .hardLink, linkName: target))
  }

  // Encoding.

  private mutating func appendRaw(name: String, flag: UInt8, content: [UInt8]) {
    var header = Self.header(
      name: name, flag: flag, size: content.count, mode: 0o644, uid: 0, gid: 0, mtime: 0, linkName: "",
      major: 0, minor: 0, base256: false)
    Self.sealChecksum(&header)
    bytes += header
    appendData(content)
  }

  private mutating func appendData(_ content: [UInt8]) {
    bytes += content
    let padding = (512 - content.count % 512) % 512
    bytes += [UInt8](repeating: 0, count: padding)
  }

  public static func paxData(_ records: [(String, [UInt8])]) -> [UInt8] {
    var data: [UInt8] = []
    for (key, value) in records {
      // "LEN KEY=VALUE\n", LEN counting itself.
      let body = 1 + key.utf8.count + 1 + value.count + 1
      var length = body + String(body).count
      if String(length).count != String(body).count { length = body + String(length).count }
      data += Array("\(length) \(key)=".utf8) + value + [UInt8(ascii: "\n")]
    }
    return data
  }

  public static func header(
    name: String, flag: UInt8, size: Int, mode: Int, uid: Int, gid: Int, mtime: Int, linkName: String,
    major: Int, minor: Int, base256: Bool
  ) -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 512)
    put(&h, 0, 100, Array(name.utf8))
    put(&h, 100, 8, octal(mode, 8))
    put(&h, 108, 8, base256 ? binary(uid, 8) : octal(uid, 8))
    put(&h, 116, 8, base256 ? binary(gid, 8) : octal(gid, 8))
    put(&h, 124, 12, base256 ? binary(size, 12) : octal(size, 12))
    put(&h, 136, 12, octal(mtime, 12))
    h[156] = flag
    put(&h, 157, 100, Array(linkName.utf8))
    put(&h, 257, 6, Array("ustar\0".utf8))
    put(&h, 263, 2, Array("00".utf8))
    put(&h, 265, 32, Array("root".utf8))
    put(&h, 297, 32, Array("root".utf8))
    put(&h, 329, 8, octal(major, 8))
    put(&h, 337, 8, octal(minor, 8))
    return h
  }

  public static func sealChecksum(_ h: inout [UInt8]) {
    for i in 148..<156 { h[i] = UInt8(ascii: " ") }
    let sum = h.reduce(0) { $0 + Int($1) }
    put(&h, 148, 8, octal(sum, 7) + [UInt8(ascii: " ")])
  }

  /// Zero-padded octal digits and a NUL, `width` bytes in all.
  public static func octal(_ value: Int, _ width: Int) -> [UInt8] {
    let digits = String(value, radix: 8)
    return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
  }

  /// GNU base-256: the top bit of the first byte set, big-endian value.
  public static func binary(_ value: Int, _ width: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: width)
    var v = UInt64(value)
    for i in stride(from: width - 1, to: 0, by: -1) {
      out[i] = UInt8(v & 0xff)
      v >>= 8
    }
    out[0] = 0x80
    return out
  }

  public static func put(_ h: inout [UInt8], _ offset: Int, _ length: Int, _ value: [UInt8]) {
    for (i, b) in value.prefix(length).enumerated() { h[offset + i] = b }
  }
}
