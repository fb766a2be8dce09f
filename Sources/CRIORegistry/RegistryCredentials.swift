import Foundation

/// Credentials for one registry, in every form the CRI `AuthConfig` and
/// `auth.json` carry. Never printed: `description` redacts the secrets.
public enum RegistryCredentials: Sendable, Equatable, CustomStringConvertible {
  case basic(username: String, password: String)
  /// An OAuth2 refresh token, exchanged at the token endpoint.
  case identityToken(String)
  /// A bearer token sent to the registry as is.
  case registryToken(String)

  public var description: String {
    switch self {
    case .basic(let username, _): "basic(\(username), <redacted>)"
    case .identityToken: "identity-token(<redacted>)"
    case .registryToken: "registry-token(<redacted>)"
    }
  }

  public enum DecodeError: Error, Equatable, CustomStringConvertible {
    case invalidAuth
    public var description: String { "the auth field is not base64 of \"username:password\"" }
  }

  /// Builds credentials from the fields of a CRI `AuthConfig` (or an
  /// auth.json entry); nil when they are all empty. Precedence follows
  /// containerd and CRI-O: registry token, identity token, username/password,
  /// then the base64 `auth` field.
  public static func from(
    username: String = "", password: String = "", auth: String = "", identityToken: String = "",
    registryToken: String = ""
  ) throws -> RegistryCredentials? {
    if !registryToken.isEmpty { return .registryToken(registryToken) }
    if !identityToken.isEmpty { return .identityToken(identityToken) }
    if !username.isEmpty || !password.isEmpty { return .basic(username: username, password: password) }
    if !auth.isEmpty {
      guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
      else { throw DecodeError.invalidAuth }
      return .basic(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }
    return nil
  }

  /// The value of a `Basic` Authorization header.
  var basicHeader: String? {
    guard case .basic(let username, let password) = self else { return nil }
    return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
  }
}

/// Credentials from an `auth.json` file (containers-auth.json(5), the
/// `[crio.image] global_auth_file`): `{"auths": {"registry[/path]": {"auth": "..."}}}`.
public struct AuthFile: Sendable, Equatable {
  public var entries: [String: RegistryCredentials]

  public init(entries: [String: RegistryCredentials] = [:]) {
    self.entries = entries
  }

  public enum LoadError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalid(path: String, reason: String)
    public var description: String {
      switch self {
      case .unreadable(let path, let reason): "cannot read auth file \(path): \(reason)"
      case .invalid(let path, let reason): "invalid auth file \(path): \(reason)"
      }
    }
  }

  public static func load(path: String) throws -> AuthFile {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw LoadError.unreadable(path: path, reason: error.localizedDescription)
    }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw LoadError.invalid(path: path, reason: "not a JSON object")
    }
    var file = AuthFile()
    for (key, value) in object["auths"] as? [String: Any] ?? [:] {
      guard let entry = value as? [String: Any] else { continue }
      do {
        if let credentials = try RegistryCredentials.from(
          username: entry["username"] as? String ?? "", password: entry["password"] as? String ?? "",
          auth: entry["auth"] as? String ?? "", identityToken: entry["identitytoken"] as? String ?? "")
        {
          file.entries[normalize(key)] = credentials
        }
      } catch {
        throw LoadError.invalid(path: path, reason: "entry \(key): \(error)")
      }
    }
    return file
  }

  /// The credentials for `repository` (`domain/path`): the most specific
  /// matching entry (`domain/ns/repo`, then `domain/ns`, then `domain`).
  public func credentials(for repository: String) -> RegistryCredentials? {
    var candidate = repository
    while true {
      if let found = entries[candidate] { return found }
      guard let slash = candidate.lastIndex(of: "/") else { return nil }
      candidate = String(candidate[..<slash])
    }
  }

  /// Strips a scheme and trailing slashes; maps Docker Hub's legacy key to docker.io.
  static func normalize(_ key: String) -> String {
    var k = key
    for scheme in ["https://", "http://"] where k.hasPrefix(scheme) { k = String(k.dropFirst(scheme.count)) }
    while k.hasSuffix("/") { k.removeLast() }
    if k == "index.docker.io/v1" || k == "index.docker.io" || k == "registry-1.docker.io" { k = "docker.io" }
    return k
  }
}
