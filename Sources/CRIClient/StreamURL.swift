import Foundation

/// A streaming URL as Exec, Attach and PortForward return it.
public struct StreamURL: Sendable, Equatable {
  public var host: String
  public var port: Int
  /// Path and query.
  public var path: String
  public var secure: Bool

  public init(_ text: String) throws {
    guard let components = URLComponents(string: text), let scheme = components.scheme,
          ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty
    else { throw StreamClientError.badURL(text) }
    self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
    secure = scheme == "https"
    port = components.port ?? (secure ? 443 : 80)
    path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
    if let query = components.percentEncodedQuery { path += "?\(query)" }
  }

  /// `host:port`, for the Host header.
  public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public enum StreamClientError: Error, CustomStringConvertible, Equatable {
  case badURL(String)
  case tlsUnsupported
  case refused(String)
  /// The server reported a failure other than a non-zero exit code.
  case remote(String)
  case protocolError(String)

  public var description: String {
    switch self {
    case .badURL(let url): "not a streaming URL: \(url)"
    case .tlsUnsupported: "https streaming URLs are not supported by this client"
    case .refused(let detail): "the streaming server refused the connection: \(detail)"
    case .remote(let message): message
    case .protocolError(let detail): "streaming protocol error: \(detail)"
    }
  }
}

/// A terminal size, as the resize channel carries it.
public struct StreamTerminalSize: Sendable, Equatable, Codable {
  public var width: UInt16
  public var height: UInt16

  public init(width: UInt16, height: UInt16) {
    self.width = width
    self.height = height
  }

  enum CodingKeys: String, CodingKey {
    case width = "Width"
    case height = "Height"
  }
}

/// How to reach the streaming server.
public enum StreamTransport: String, Sendable, CaseIterable {
  case spdy
  case websocket
}
