import Glibc

/// What identifies one version of a file: a replaced or rewritten binary gets a new identity.
public struct FileIdentity: Sendable, Hashable {
  public let device: UInt64
  public let inode: UInt64
  public let size: Int64
  public let modifiedSeconds: Int
  public let modifiedNanoseconds: Int

  /// The identity of the file `path` resolves to, or nil when it does not exist.
  public init?(path: String) {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    device = UInt64(st.st_dev)
    inode = UInt64(st.st_ino)
    size = Int64(st.st_size)
    modifiedSeconds = st.st_mtim.tv_sec
    modifiedNanoseconds = st.st_mtim.tv_nsec
  }
}
