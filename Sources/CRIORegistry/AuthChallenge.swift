/// A parsed `WWW-Authenticate` header (RFC 7235): `Bearer realm="...",service="...",scope="..."`.
public struct AuthChallenge: Sendable, Equatable {
  public var scheme: String
  public var parameters: [String: String]

  public var realm: String? { parameters["realm"] }
  public var service: String? { parameters["service"] }
  public var scope: String? { parameters["scope"] }

  /// Parses one challenge; nil when the header is not one.
  public init?(header: String) {
    var rest = Substring(header).drop(while: { $0 == " " })
    guard let space = rest.firstIndex(of: " ") else {
      guard !rest.isEmpty else { return nil }
      scheme = rest.lowercased()
      parameters = [:]
      return
    }
    scheme = rest[..<space].lowercased()
    rest = rest[rest.index(after: space)...]
    var parameters: [String: String] = [:]
    while !rest.isEmpty {
      rest = rest.drop(while: { $0 == " " || $0 == "," })
      guard let equals = rest.firstIndex(of: "=") else { break }
      let key = rest[..<equals].trimmingSpaces().lowercased()
      rest = rest[rest.index(after: equals)...]
      var value = ""
      if rest.first == "\"" {
        rest = rest.dropFirst()
        var escaped = false
        var end = rest.endIndex
        for index in rest.indices {
          let c = rest[index]
          if escaped {
            value.append(c)
            escaped = false
          } else if c == "\\" {
            escaped = true
          } else if c == "\"" {
            end = index
            break
          } else {
            value.append(c)
          }
        }
        rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[rest.endIndex...]
      } else {
        let end = rest.firstIndex(of: ",") ?? rest.endIndex
        value = String(rest[..<end]).trimmingSpaces()
        rest = rest[end...]
      }
      parameters[key] = value
    }
    self.parameters = parameters
  }
}

extension StringProtocol {
  fileprivate func trimmingSpaces() -> String {
    String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
}
