import Glibc

/// Why a layer could not be unpacked. Every failure of `LayerUnpacker` is one
/// of these; hostile input is rejected before anything is written outside the
/// target directory. Entry names are shown as the archive spells them.
public enum LayerError: Error, Equatable, CustomStringConvertible {
  /// The layer blob cannot be opened or read.
  case unreadableBlob(path: String, errno: Int32)
  /// The target directory cannot be opened, or is not empty.
  case unusableTarget(path: String, reason: String)
  /// The compressed stream is corrupt (`format` is "gzip" or "zstd").
  case corruptCompressedData(format: String, detail: String)
  /// The stream ends in the middle of the archive or of a compressed frame.
  case truncated(detail: String)
  /// Not a well-formed tar stream: garbage, a bad checksum, a bad number, a bad
  /// PAX record. `entry` is the entry concerned when it is known.
  case malformedArchive(entry: String?, reason: String)
  /// An entry name is absolute.
  case absolutePath(entry: String)
  /// An entry name has a ".." component.
  case parentTraversal(entry: String)
  /// An entry's parent path goes through a symlink (`symlink`, inside the layer).
  case pathThroughSymlink(entry: String, symlink: String)
  /// An entry's parent path goes through something that is not a directory.
  case parentNotADirectory(entry: String, parent: String)
  /// A hard link's target is absolute, has a ".." component, does not exist
  /// in this layer, or is a directory.
  case invalidHardLink(entry: String, target: String, reason: String)
  /// A whiteout that names nothing (".wh.", ".wh..", ".wh...").
  case invalidWhiteout(entry: String)
  /// An entry uses a tar feature the unpacker does not support (sparse files).
  case unsupportedEntry(entry: String, reason: String)
  /// A limit of `UnpackLimits` was exceeded; `limit` is its value.
  case limitExceeded(UnpackLimits.Limit, limit: Int64, entry: String?)
  /// A file-system call failed while writing `entry`.
  case fileSystem(entry: String, operation: String, errno: Int32)

  public var description: String {
    switch self {
    case .unreadableBlob(let path, let errno):
      return "cannot read layer blob \(path): \(Self.describe(errno))"
    case .unusableTarget(let path, let reason):
      return "cannot unpack into \(path): \(reason)"
    case .corruptCompressedData(let format, let detail):
      return "corrupt \(format) data in layer: \(detail)"
    case .truncated(let detail):
      return "layer stream is truncated: \(detail)"
    case .malformedArchive(let entry, let reason):
      if let entry { return "malformed layer tar at entry \(Self.quote(entry)): \(reason)" }
      return "malformed layer tar: \(reason)"
    case .absolutePath(let entry):
      return "layer entry \(Self.quote(entry)) has an absolute path"
    case .parentTraversal(let entry):
      return "layer entry \(Self.quote(entry)) has a \"..\" path component"
    case .pathThroughSymlink(let entry, let symlink):
      return "layer entry \(Self.quote(entry)) goes through the symlink \(Self.quote(symlink))"
    case .parentNotADirectory(let entry, let parent):
      return "layer entry \(Self.quote(entry)): \(Self.quote(parent)) is not a directory"
    case .invalidHardLink(let entry, let target, let reason):
      return "layer entry \(Self.quote(entry)) is a hard link to \(Self.quote(target)), which \(reason)"
    case .invalidWhiteout(let entry):
      return "layer entry \(Self.quote(entry)) is a whiteout that names no file"
    case .unsupportedEntry(let entry, let reason):
      return "layer entry \(Self.quote(entry)) is not supported: \(reason)"
    case .limitExceeded(let which, let limit, let entry):
      let what: String
      switch which {
      case .uncompressedBytes: what = "more than \(limit) uncompressed bytes"
      case .entries: what = "more than \(limit) entries"
      case .headerBytes: what = "a header or PAX record larger than \(limit) bytes"
      case .pathBytes: what = "a path longer than \(limit) bytes"
      }
      if let entry { return "layer has \(what) (at entry \(Self.quote(entry)))" }
      return "layer has \(what)"
    case .fileSystem(let entry, let operation, let errno):
      return "cannot write layer entry \(Self.quote(entry)): \(operation): \(Self.describe(errno))"
    }
  }

  static func describe(_ errno: Int32) -> String {
    guard let message = strerror(errno) else { return "errno \(errno)" }
    return String(cString: message)
  }

  static func quote(_ name: String) -> String {
    var out = "\""
    for scalar in name.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case _ where scalar.value < 0x20 || scalar.value == 0x7f:
        out += "\\u{\(String(scalar.value, radix: 16))}"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
