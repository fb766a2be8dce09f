import CCRIOSys
import Glibc

/// File-system calls that Swift's Glibc module lacks (extended attributes,
/// device numbers). Names are passed as bytes: Linux file names need not be
/// UTF-8. Each setter returns 0 or an errno value.
public enum FileSystemCalls {
  /// Sets the extended attribute `name` on the file `fd` is open on.
  public static func setExtendedAttribute(fd: Int32, name: String, value: [UInt8]) -> Int32 {
    let rc = value.withUnsafeBytes { buf in
      crio_fsetxattr(fd, name, buf.baseAddress, UInt(buf.count))
    }
    return -rc
  }

  /// Sets the extended attribute `name` on `entry` (one path component, no
  /// NUL, no "/") of the directory `directoryFD` is open on, without following
  /// `entry` if it is a symlink.
  public static func setExtendedAttribute(
    directoryFD: Int32, entry: [UInt8], name: String, value: [UInt8]
  ) -> Int32 {
    let cEntry = cString(entry)
    let rc = value.withUnsafeBytes { buf in
      crio_lsetxattrat(directoryFD, cEntry, name, buf.baseAddress, UInt(buf.count))
    }
    return -rc
  }

  /// The value of the extended attribute `name` of `path` (a final symlink is
  /// not followed), or nil when it has none or cannot be read.
  public static func extendedAttribute(path: String, name: String) -> [UInt8]? {
    while true {
      let size = crio_lgetxattr(path, name, nil, 0)
      guard size >= 0 else { return nil }
      var value = [UInt8](repeating: 0, count: Int(size))
      let got = value.withUnsafeMutableBytes { buf in
        crio_lgetxattr(path, name, buf.baseAddress, UInt(buf.count))
      }
      if got == -Int(ERANGE) { continue }  // it grew in between
      guard got >= 0 else { return nil }
      return Array(value.prefix(Int(got)))
    }
  }

  /// The names of the extended attributes of `path` (a final symlink is not
  /// followed); empty when it has none or they cannot be listed.
  public static func extendedAttributeNames(path: String) -> [String] {
    while true {
      let size = crio_llistxattr(path, nil, 0)
      guard size > 0 else { return [] }
      var list = [CChar](repeating: 0, count: Int(size))
      let got = crio_llistxattr(path, &list, UInt(list.count))
      if got == -Int(ERANGE) { continue }
      guard got >= 0 else { return [] }
      return list.prefix(Int(got)).split(separator: 0).map {
        String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      }
    }
  }

  /// Creates a device node or fifo `entry` (one path component) in the
  /// directory `directoryFD` is open on. `mode` holds the file type bits
  /// (S_IFCHR, S_IFBLK, S_IFIFO) and the permissions.
  public static func makeNode(
    directoryFD: Int32, entry: [UInt8], mode: UInt32, major: UInt32, minor: UInt32
  ) -> Int32 {
    -crio_mknodat(directoryFD, cString(entry), mode, major, minor)
  }

  /// The major number of a device number (`st_rdev`).
  public static func deviceMajor(_ device: UInt64) -> UInt32 { crio_dev_major(device) }

  /// The minor number of a device number (`st_rdev`).
  public static func deviceMinor(_ device: UInt64) -> UInt32 { crio_dev_minor(device) }

  /// `bytes` NUL-terminated, for a C call.
  public static func cString(_ bytes: [UInt8]) -> [CChar] {
    var c = [CChar]()
    c.reserveCapacity(bytes.count + 1)
    for b in bytes { c.append(CChar(bitPattern: b)) }
    c.append(0)
    return c
  }
}
