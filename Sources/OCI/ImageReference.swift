/// An image reference as the container ecosystem writes it, normalised the
/// way docker and containers/image do: `busybox` means
/// `docker.io/library/busybox:latest`.
///
/// Grammar (distribution/reference):
/// `[domain[:port]/]path[:tag][@algorithm:hex]`, where the first component
/// is a domain only if it contains `.` or `:` or is `localhost`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
  /// Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`.
  public let domain: String
  /// Repository path inside the registry, e.g. `library/busybox`.
  public let path: String
  public let tag: String?
  public let digest: Digest?
  /// True when the text named no registry (`busybox`, `library/busybox`):
  /// registries.conf's search list and aliases may resolve it elsewhere.
  public let isShortName: Bool

  public static let defaultDomain = "docker.io"
  public static let defaultTag = "latest"

  public enum ParseError: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case uppercase(String)
    case invalidFormat(String)
    case invalidTag(String)
    case invalidDigest(String)
    case hexIdentifier(String)

    public var description: String {
      switch self {
      case .empty: "image reference is empty"
      case .tooLong(let n): "repository name is \(n) characters long; at most 255 are allowed"
      case .uppercase(let s): "repository name in \"\(s)\" must be lowercase"
      case .invalidFormat(let s): "invalid image reference \"\(s)\""
      case .invalidTag(let s): "invalid tag in \"\(s)\""
      case .invalidDigest(let s): "invalid digest in \"\(s)\""
      case .hexIdentifier(let s):
        "\"\(s)\" is a 64-character hexadecimal string; it names an image ID, not a repository"
      }
    }
  }

  public init(domain: String, path: String, tag: String?, digest: Digest?, isShortName: Bool = false) {
    self.domain = domain
    self.path = path
    self.tag = tag
    self.digest = digest
    self.isShortName = isShortName
  }

  public init(parsing text: String) throws {
    guard !text.isEmpty else { throw ParseError.empty }
    var remainder = Substring(text)

    var digest: Digest?
    if let at = remainder.firstIndex(of: "@") {
      let digestText = String(remainder[remainder.index(after: at)...])
      guard let parsed = try? Digest(parsing: digestText) else { throw ParseError.invalidDigest(text) }
      digest = parsed
      remainder = remainder[..<at]
    }

    var tag: String?
    // A tag follows the last ':' that comes after the last '/' (a port is before a '/').
    if let colon = remainder.lastIndex(of: ":"), !remainder[colon...].contains("/") {
      let tagText = String(remainder[remainder.index(after: colon)...])
      guard Self.isValidTag(tagText) else { throw ParseError.invalidTag(text) }
      tag = tagText
      remainder = remainder[..<colon]
    }

    let name = String(remainder)
    guard !name.isEmpty else { throw ParseError.invalidFormat(text) }
    if digest == nil && tag == nil && name.utf8.count == 64 && name.utf8.allSatisfy(Self.isLowerHex) {
      throw ParseError.hexIdentifier(text)
    }

    var domain = Self.defaultDomain
    var path = name
    var isShortName = true
    if let slash = name.firstIndex(of: "/") {
      let first = String(name[..<slash])
      if first.contains(".") || first.contains(":") || first == "localhost" || first != first.lowercased() {
        domain = first
        path = String(name[name.index(after: slash)...])
        isShortName = false
      }
    }
    guard Self.isValidDomain(domain) else { throw ParseError.invalidFormat(text) }
    if domain == "index.docker.io" { domain = Self.defaultDomain }
    if path != path.lowercased() { throw ParseError.uppercase(text) }
    if domain == Self.defaultDomain && !path.contains("/") { path = "library/" + path }
    let components = path.split(separator: "/", omittingEmptySubsequences: false)
    guard components.allSatisfy({ Self.isValidPathComponent($0) }) else { throw ParseError.invalidFormat(text) }
    let fullLength = domain.utf8.count + 1 + path.utf8.count
    guard fullLength <= 255 else { throw ParseError.tooLong(fullLength) }

    self.init(
      domain: domain, path: path, tag: tag ?? (digest == nil ? Self.defaultTag : nil), digest: digest,
      isShortName: isShortName)
  }

  /// `docker.io/library/busybox`.
  public var repository: String { "\(domain)/\(path)" }

  /// The fully qualified form: `repository[:tag][@digest]`.
  public var description: String {
    var s = repository
    if let tag { s += ":\(tag)" }
    if let digest { s += "@\(digest)" }
    return s
  }

  /// `repository:tag`, what CRI `repo_tags` lists; nil for a digest-only reference.
  public var taggedName: String? { tag.map { "\(repository):\($0)" } }

  /// The same repository on another registry (a mirror or a `location` rewrite).
  public func withDomainAndPath(domain: String, path: String) -> ImageReference {
    ImageReference(domain: domain, path: path, tag: tag, digest: digest, isShortName: false)
  }

  /// The same repository and tag, pinned to `digest`.
  public func withDigest(_ digest: Digest) -> ImageReference {
    ImageReference(domain: domain, path: path, tag: tag, digest: digest, isShortName: isShortName)
  }

  // MARK: grammar

  private static func isLowerHex(_ c: UInt8) -> Bool { (48...57).contains(c) || (97...102).contains(c) }
  private static func isLowerAlnum(_ c: UInt8) -> Bool { (48...57).contains(c) || (97...122).contains(c) }

  /// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
  static func isValidPathComponent(_ component: Substring) -> Bool {
    let bytes = Array(component.utf8)
    guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
    var i = 0
    while i < bytes.count {
      let c = bytes[i]
      if isLowerAlnum(c) {
        i += 1
        continue
      }
      // A separator: ".", "_", "__" or one or more "-".
      var j = i
      if c == UInt8(ascii: "-") {
        while j < bytes.count && bytes[j] == UInt8(ascii: "-") { j += 1 }
      } else if c == UInt8(ascii: "_") {
        j += (j + 1 < bytes.count && bytes[j + 1] == UInt8(ascii: "_")) ? 2 : 1
      } else if c == UInt8(ascii: ".") {
        j += 1
      } else {
        return false
      }
      guard j < bytes.count, isLowerAlnum(bytes[j]) else { return false }
      i = j
    }
    return true
  }

  /// `[\w][\w.-]{0,127}`
  static func isValidTag(_ tag: String) -> Bool {
    let bytes = Array(tag.utf8)
    guard (1...128).contains(bytes.count) else { return false }
    func word(_ c: UInt8) -> Bool {
      (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || c == UInt8(ascii: "_")
    }
    return word(bytes[0]) && bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
  }

  /// A host name, IPv4 address or bracketed IPv6 address, with an optional port.
  static func isValidDomain(_ domain: String) -> Bool {
    var host = Substring(domain)
    if host.hasPrefix("[") {
      guard let close = host.firstIndex(of: "]") else { return false }
      let inside = host[host.index(after: host.startIndex)..<close]
      guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
      host = host[host.index(after: close)...]
      if host.isEmpty { return true }
      guard host.first == ":" else { return false }
      return isValidPort(host.dropFirst())
    }
    if let colon = host.lastIndex(of: ":") {
      guard isValidPort(host[host.index(after: colon)...]) else { return false }
      host = host[..<colon]
    }
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    return !labels.isEmpty && labels.allSatisfy { label in
      guard let first = label.first, let last = label.last else { return false }
      return first.isLetter || first.isNumber ? (last.isLetter || last.isNumber)
        && label.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }) : false
    }
  }

  private static func isValidPort(_ port: Substring) -> Bool {
    guard let value = Int(port), (0...65535).contains(value), port.allSatisfy(\.isNumber) else { return false }
    return true
  }
}
