import Glibc

/// Space and inodes used by a directory tree, counted like `du`: allocated
/// blocks, each hard-linked inode once, without crossing into other filesystems.
public struct DiskUsage: Sendable, Equatable {
  public var bytes: UInt64
  public var inodes: UInt64

  public init(bytes: UInt64 = 0, inodes: UInt64 = 0) {
    self.bytes = bytes
    self.inodes = inodes
  }

  /// Measures the tree at `path`; an absent path uses nothing.
  public static func measure(_ path: String) -> DiskUsage {
    var root = stat()
    guard lstat(path, &root) == 0 else { return DiskUsage() }
    var usage = DiskUsage()
    var seen = Set<FileKey>()
    walk(path, device: UInt64(root.st_dev), stat: root, usage: &usage, seen: &seen)
    return usage
  }

  private struct FileKey: Hashable {
    let device: UInt64
    let inode: UInt64
  }

  private static func walk(
    _ path: String, device: UInt64, stat st: stat, usage: inout DiskUsage, seen: inout Set<FileKey>
  ) {
    if st.st_nlink > 1 && (st.st_mode & S_IFMT) != S_IFDIR {
      guard seen.insert(FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))).inserted else { return }
    }
    usage.inodes += 1
    usage.bytes += UInt64(st.st_blocks) * 512
    guard (st.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(path) else { return }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name == "." || name == ".." { continue }
      let child = path.hasSuffix("/") ? path + name : path + "/" + name
      var childStat = stat()
      guard lstat(child, &childStat) == 0, UInt64(childStat.st_dev) == device else { continue }
      walk(child, device: device, stat: childStat, usage: &usage, seen: &seen)
    }
  }
}
