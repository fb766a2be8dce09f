import OCI

/// One place to try pulling an image from, in order.
public struct PullSource: Sendable, Equatable, CustomStringConvertible {
  /// The reference as that registry knows it (after `location` rewrites).
  public var reference: ImageReference
  /// Plain HTTP (and unverified TLS) is allowed only for insecure registries.
  public var insecure: Bool
  /// True for a mirror; false for the registry's own location.
  public var isMirror: Bool

  public var description: String { "\(reference)\(insecure ? " (insecure)" : "")\(isMirror ? " (mirror)" : "")" }
}

/// A reference resolved for pulling: the name the image is stored under, and
/// where to fetch it from.
public struct ResolvedPull: Sendable, Equatable {
  /// The name the image is recorded under (repo tag / repo digest): the
  /// user's reference, fully qualified, before any `location` rewrite.
  public var name: ImageReference
  public var sources: [PullSource]
}

public enum ResolveError: Error, Equatable, CustomStringConvertible {
  case blocked(String)
  case invalidRewrite(String)

  public var description: String {
    switch self {
    case .blocked(let name): "pulling \(name) is blocked by registries.conf"
    case .invalidRewrite(let detail): "registries.conf rewrites to an invalid reference: \(detail)"
    }
  }
}

/// Applies registries.conf to references: aliases and the search list for
/// short names, then prefix matching, `location` rewrites, mirrors and
/// `blocked`.
public struct PullSourceResolver: Sendable {
  public let configuration: RegistriesConfiguration

  public init(configuration: RegistriesConfiguration) {
    self.configuration = configuration
  }

  /// The fully qualified names a reference may mean, in the order to try them.
  /// A short name goes through `[aliases]` first, then each of
  /// `unqualified-search-registries` (docker.io when none is configured).
  public func candidates(for reference: ImageReference) throws -> [ImageReference] {
    guard reference.isShortName else { return [reference] }
    let shortPath = reference.path.hasPrefix("library/") ? String(reference.path.dropFirst("library/".count)) : reference.path
    for key in [shortPath, reference.path] {
      if let alias = configuration.aliases[key] {
        let target: ImageReference
        do {
          target = try ImageReference(parsing: alias)
        } catch {
          throw ResolveError.invalidRewrite("alias \(key) = \(alias): \(error)")
        }
        return [ImageReference(domain: target.domain, path: target.path, tag: reference.tag, digest: reference.digest)]
      }
    }
    let search = configuration.unqualifiedSearchRegistries.flatMap { $0.isEmpty ? nil : $0 } ?? [ImageReference.defaultDomain]
    return search.map { registry in
      let path = registry == ImageReference.defaultDomain ? reference.path : shortPath
      return ImageReference(domain: registry, path: path, tag: reference.tag, digest: reference.digest)
    }
  }

  /// Where to pull a fully qualified `reference` from.
  public func resolve(_ reference: ImageReference) throws -> ResolvedPull {
    let name = reference.repository
    guard let registry = matchingRegistry(for: name) else {
      return ResolvedPull(name: reference, sources: [PullSource(reference: reference, insecure: false, isMirror: false)])
    }
    if registry.blocked { throw ResolveError.blocked(reference.description) }
    var sources: [PullSource] = []
    let byDigest = reference.digest != nil
    if !(registry.mirrorByDigestOnly && !byDigest) {
      for mirror in registry.mirrors {
        switch mirror.pullFromMirror {
        case "digest-only" where !byDigest: continue
        case "tag-only" where byDigest: continue
        default: break
        }
        sources.append(PullSource(reference: try rewrite(reference, matching: registry, to: mirror.location),
                                  insecure: mirror.insecure, isMirror: true))
      }
    }
    sources.append(PullSource(reference: try rewrite(reference, matching: registry, to: registry.location),
                              insecure: registry.insecure, isMirror: false))
    return ResolvedPull(name: reference, sources: sources)
  }

  /// The `[[registry]]` with the longest prefix matching `name` (`domain/path`).
  func matchingRegistry(for name: String) -> RegistriesConfiguration.Registry? {
    var best: (registry: RegistriesConfiguration.Registry, length: Int)?
    for registry in configuration.registries {
      guard let length = matchLength(prefix: registry.prefix, name: name) else { continue }
      if best == nil || length > best!.length { best = (registry, length) }
    }
    return best?.registry
  }

  /// How much of `name` the prefix covers, or nil when it does not match.
  /// A prefix matches at a path boundary only; `*.example.com` matches any
  /// subdomain of example.com.
  func matchLength(prefix: String, name: String) -> Int? {
    if prefix.hasPrefix("*.") {
      let domain = name.split(separator: "/", maxSplits: 1).first.map(String.init) ?? name
      let suffix = String(prefix.dropFirst(1))  // ".example.com"
      return domain.hasSuffix(suffix) && domain.count > suffix.count ? suffix.count : nil
    }
    guard name.hasPrefix(prefix) else { return nil }
    if name.count == prefix.count { return prefix.count }
    let next = name[name.index(name.startIndex, offsetBy: prefix.count)]
    return next == "/" ? prefix.count : nil
  }

  private func rewrite(
    _ reference: ImageReference, matching registry: RegistriesConfiguration.Registry, to location: String
  ) throws -> ImageReference {
    let name = reference.repository
    let rewritten: String
    if registry.prefix.hasPrefix("*.") {
      rewritten = name  // wildcard prefixes have no location of their own
    } else {
      rewritten = location + name.dropFirst(registry.prefix.count)
    }
    let parsed: ImageReference
    do {
      parsed = try ImageReference(parsing: rewritten)
    } catch {
      throw ResolveError.invalidRewrite("\(name) -> \(rewritten): \(error)")
    }
    // Keep the path exactly as rewritten (no docker.io "library/" insertion for a location).
    let slash = rewritten.firstIndex(of: "/")
    let domain = slash.map { String(rewritten[..<$0]) } ?? parsed.domain
    let path = slash.map { String(rewritten[rewritten.index(after: $0)...]) } ?? parsed.path
    return reference.withDomainAndPath(domain: domain, path: path)
  }
}
