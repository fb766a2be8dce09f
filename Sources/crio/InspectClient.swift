import Foundation
import Glibc

/// A minimal HTTP/1.1 client for the daemon's inspect endpoints on its unix
/// socket (`crio status`): one GET per connection, read to the end. A
/// command-line tool, so plain blocking system calls.
struct InspectClient {
  let socketPath: String

  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  struct Response {
    var status: Int
    var body: String
  }

  func get(_ path: String) throws -> Response {
    let fd = try connect()
    defer { close(fd) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: crio\r\nConnection: close\r\n\r\n".utf8)
    var sent = 0
    while sent < request.count {
      let n = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { throw Failure(description: "cannot send to \(socketPath): \(String(cString: strerror(errno)))") }
      sent += n
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else { throw Failure(description: "cannot read from \(socketPath): \(String(cString: strerror(errno)))") }
      if n == 0 { break }
      bytes += buffer[0..<n]
    }
    return try Self.parse(bytes)
  }

  /// Status line, headers, body (the server sends Content-Length and closes).
  static func parse(_ bytes: [UInt8]) throws -> Response {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let end = text.range(of: "\r\n\r\n"), text.hasPrefix("HTTP/1.") else {
      throw Failure(description: "not an HTTP response: \(text.prefix(80))")
    }
    let statusLine = text[..<end.lowerBound].split(separator: "\r\n").first ?? ""
    guard let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
      throw Failure(description: "bad status line: \(statusLine)")
    }
    return Response(status: status, body: String(text[end.upperBound...]))
  }

  private func connect() throws -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let path = Array(socketPath.utf8)
    guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw Failure(description: "socket path too long: \(socketPath)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw Failure(description: "cannot connect to \(socketPath): \(reason) (is crio running?)")
    }
    return fd
  }
}
