import Foundation
import Glibc

/// The host's device nodes under /dev (what a privileged container sees),
/// found as runc's `HostDevices` does: pseudo-terminal, shm, mqueue and
/// fd directories and /dev/console are skipped, symlinks are not followed.
public enum HostDevices {
  public struct Device: Sendable, Equatable {
    public var path: String
    /// `c` (character), `b` (block) or `p` (FIFO).
    public var type: String
    public var major: Int64
    public var minor: Int64
    /// Permission bits.
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
  }

  static let skippedDirectories: Set<String> = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]

  public static func list(under root: String = "/dev") -> [Device] {
    var devices: [Device] = []
    walk(root, top: true, into: &devices)
    return devices.sorted { $0.path < $1.path }
  }

  private static func walk(_ directory: String, top: Bool, into devices: inout [Device]) {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    for name in entries {
      let path = "\(directory)/\(name)"
      var info = stat()
      guard lstat(path, &info) == 0 else { continue }
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        if top && skippedDirectories.contains(name) { continue }
        walk(path, top: false, into: &devices)
      case S_IFCHR, S_IFBLK, S_IFIFO:
        if top && name == "console" { continue }
        let kind = info.st_mode & S_IFMT
        let dev = UInt64(info.st_rdev)
        devices.append(
          Device(
            path: path, type: kind == S_IFCHR ? "c" : kind == S_IFBLK ? "b" : "p",
            major: Int64(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)),
            minor: Int64((dev & 0xff) | ((dev >> 12) & ~0xff)), permissions: UInt32(info.st_mode & 0o7777),
            uid: info.st_uid, gid: info.st_gid))
      default:
        continue
      }
    }
  }
}
