import CCRIOSys
import Glibc

/// Facts about a unix socket path on this host.
public enum UnixSocket {
  /// What is found at a socket path before binding it.
  public enum PathState: Equatable, Sendable {
    case absent
    /// A socket file nobody is listening on (left by a daemon that died).
    case stale
    /// A socket some process accepts connections on.
    case live
    /// Something that is not a socket (a file, a directory): never removed.
    case notASocket
  }

  public static var maxPathLength: Int { Int(crio_unix_path_max()) }

  public static func state(of path: String) -> PathState {
    var st = stat()
    guard lstat(path, &st) == 0 else { return .absent }
    guard (st.st_mode & S_IFMT) == S_IFSOCK else { return .notASocket }
    let fd = crio_unix_connect(path)
    if fd >= 0 {
      close(fd)
      return .live
    }
    return .stale
  }
}

extension UnixSocket {
  public struct ListenError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "cannot listen on \(path): \(String(cString: strerror(errno)))" }
  }

  /// A listening socket at `path` whose file has `mode` before any client can connect.
  /// The caller owns the returned descriptor.
  public static func listen(path: String, mode: mode_t, backlog: Int32 = 128) throws -> Int32 {
    let fd = crio_unix_listen(path, UInt32(mode), backlog)
    guard fd >= 0 else { throw ListenError(path: path, errno: -fd) }
    return fd
  }
}
