import Glibc

/// Tells whether a registry endpoint speaks plain HTTP, in one round trip.
///
/// For a registry marked insecure, the client must try HTTPS and fall back to
/// HTTP. An HTTPS attempt against a plain-HTTP server fails only after the
/// HTTP client's connect retries run out (seconds), so instead this sends a
/// plain `GET /v2/` and looks for an HTTP status line: a TLS server answers a
/// plaintext request with an alert or closes, never with `HTTP/`.
enum PlainHTTPProbe {
  /// `hostPort` must name a port (`127.0.0.1:5000`, `[::1]:5000`): without
  /// one, HTTP and HTTPS are different ports and there is nothing to probe.
  static func speaksPlainHTTP(_ hostPort: String, timeoutSeconds: Int = 2) -> Bool {
    guard let (host, port) = split(hostPort) else { return false }
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICSERV
    var result: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, port, &hints, &result) == 0, let first = result else { return false }
    defer { freeaddrinfo(result) }
    var info: UnsafeMutablePointer<addrinfo>? = first
    while let current = info {
      defer { info = current.pointee.ai_next }
      let fd = socket(current.pointee.ai_family, current.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), current.pointee.ai_protocol)
      guard fd >= 0 else { continue }
      defer { close(fd) }
      var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
      // On Linux SO_SNDTIMEO also bounds connect().
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      guard connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 else { continue }
      let request = Array("GET /v2/ HTTP/1.0\r\nHost: \(hostPort)\r\nUser-Agent: crio\r\n\r\n".utf8)
      guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
        continue
      }
      var buffer = [UInt8](repeating: 0, count: 5)
      var received = 0
      while received < buffer.count {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, $0.count - received, 0) }
        if n <= 0 { break }
        received += n
      }
      return received == 5 && buffer == Array("HTTP/".utf8)
    }
    return false
  }

  /// Host and port of `host:port` or `[v6]:port`; nil without a port.
  static func split(_ hostPort: String) -> (String, String)? {
    if hostPort.hasPrefix("[") {
      guard let close = hostPort.firstIndex(of: "]") else { return nil }
      let host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
      let rest = hostPort[hostPort.index(after: close)...]
      guard rest.hasPrefix(":"), rest.count > 1 else { return nil }
      return (host, String(rest.dropFirst()))
    }
    guard let colon = hostPort.lastIndex(of: ":"), !hostPort[..<colon].contains(":") else { return nil }
    let port = hostPort[hostPort.index(after: colon)...]
    guard !port.isEmpty, port.allSatisfy(\.isNumber) else { return nil }
    return (String(hostPort[..<colon]), String(port))
  }
}
