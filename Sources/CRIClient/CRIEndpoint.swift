/// A CRI endpoint as crictl and the kubelet write it: `unix:///path/to.sock`
/// (a bare absolute path is accepted too).
public struct CRIEndpoint: Sendable, Equatable, CustomStringConvertible {
  public let socketPath: String

  public static let defaultRuntime = CRIEndpoint(socketPath: "/var/run/crio/crio.sock")

  public init(socketPath: String) {
    self.socketPath = socketPath
  }

  public enum ParseError: Error, Equatable, CustomStringConvertible {
    case unsupported(String)
    public var description: String {
      switch self {
      case .unsupported(let s): "unsupported endpoint \"\(s)\": use unix:///path/to.sock"
      }
    }
  }

  public init(parsing string: String) throws {
    if string.hasPrefix("unix://") {
      let path = String(string.dropFirst("unix://".count))
      guard path.hasPrefix("/") else { throw ParseError.unsupported(string) }
      socketPath = path
    } else if string.hasPrefix("/") {
      socketPath = string
    } else {
      throw ParseError.unsupported(string)
    }
  }

  public var description: String { "unix://\(socketPath)" }
}
