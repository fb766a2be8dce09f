/// Why the daemon cannot start. Each renders as the one line `crio` exits with.
public enum DaemonError: Error, Equatable, CustomStringConvertible {
  case socketInUse(path: String)
  case socketPathNotASocket(path: String)
  case socketPathTooLong(path: String, max: Int)
  case runtimeNotFound(name: String, path: String)
  case conmonNotFound(path: String)
  case cannotCreateDirectory(path: String, reason: String)
  case cannotListen(reason: String)
  case imageStore(String)
  case registriesConfiguration(String)
  case authFile(String)
  case streamingServer(String)
  case exitWatcher(String)
  case metrics(String)

  public var description: String {
    switch self {
    case .socketInUse(let path):
      "socket \(path) is in use by a running daemon; is crio already running?"
    case .socketPathNotASocket(let path):
      "\(path) exists and is not a socket; refusing to remove it"
    case .socketPathTooLong(let path, let max):
      "socket path \(path) is longer than \(max) bytes"
    case .runtimeNotFound(let name, let path):
      "default OCI runtime \"\(name)\" not found (\(path.isEmpty ? "not on PATH" : path))"
    case .conmonNotFound(let path):
      "conmon not found (\(path.isEmpty ? "not on PATH" : path))"
    case .cannotCreateDirectory(let path, let reason):
      "cannot create directory \(path): \(reason)"
    case .cannotListen(let reason), .imageStore(let reason), .registriesConfiguration(let reason),
      .authFile(let reason), .streamingServer(let reason), .exitWatcher(let reason),
      .metrics(let reason):
      reason
    }
  }
}
