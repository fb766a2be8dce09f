import Foundation
import CRIOTOML
import OCI
import TOMLKit

/// containers-registries.conf(5), version 2: where images are pulled from.
///
/// Loaded from `--registries-conf` (default `/etc/containers/registries.conf`)
/// and the `*.conf` drop-ins of `--registries-conf-dir`, applied in lexical
/// order: a later file replaces `unqualified-search-registries` when it sets
/// it, replaces a `[[registry]]` with the same prefix, and adds aliases.
public struct RegistriesConfiguration: Sendable, Equatable {
  public var unqualifiedSearchRegistries: [String]?
  public var registries: [Registry]
  public var aliases: [String: String]

  public init(unqualifiedSearchRegistries: [String]? = nil, registries: [Registry] = [], aliases: [String: String] = [:]) {
    self.unqualifiedSearchRegistries = unqualifiedSearchRegistries
    self.registries = registries
    self.aliases = aliases
  }

  /// One `[[registry]]` table.
  public struct Registry: Sendable, Equatable {
    /// What references this table applies to: `example.com`, `example.com/ns/repo`, `*.example.com`.
    public var prefix: String
    /// Where matching references are really pulled from (the prefix is rewritten to this).
    public var location: String
    public var insecure: Bool
    public var blocked: Bool
    public var mirrorByDigestOnly: Bool
    public var mirrors: [Mirror]

    public init(prefix: String, location: String, insecure: Bool = false, blocked: Bool = false,
                mirrorByDigestOnly: Bool = false, mirrors: [Mirror] = []) {
      self.prefix = prefix
      self.location = location
      self.insecure = insecure
      self.blocked = blocked
      self.mirrorByDigestOnly = mirrorByDigestOnly
      self.mirrors = mirrors
    }
  }

  /// One `[[registry.mirror]]` table.
  public struct Mirror: Sendable, Equatable {
    public var location: String
    public var insecure: Bool
    /// `all` (default), `digest-only` or `tag-only`.
    public var pullFromMirror: String

    public init(location: String, insecure: Bool = false, pullFromMirror: String = "all") {
      self.location = location
      self.insecure = insecure
      self.pullFromMirror = pullFromMirror
    }
  }

  public enum LoadError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case syntax(path: String, message: String)
    case invalid(path: String, message: String)

    public var description: String {
      switch self {
      case .unreadable(let path, let reason): "cannot read registries configuration \(path): \(reason)"
      case .syntax(let path, let message): "cannot parse registries configuration \(path): \(message)"
      case .invalid(let path, let message): "registries configuration \(path): \(message)"
      }
    }
  }

  /// Loads `file` (absent is fine) and then the drop-ins of `dropInDir`.
  /// Returns the configuration and warnings (unknown keys) to log.
  public static func load(file: String, dropInDir: String?) throws -> (RegistriesConfiguration, [String]) {
    var config = RegistriesConfiguration()
    var warnings: [String] = []
    var files: [String] = []
    if FileManager.default.fileExists(atPath: file) { files.append(file) }
    if let dropInDir, let names = try? FileManager.default.contentsOfDirectory(atPath: dropInDir) {
      files += names.filter { $0.hasSuffix(".conf") }.sorted().map { "\(dropInDir)/\($0)" }
    }
    for path in files {
      let text: String
      do {
        text = try String(contentsOfFile: path, encoding: .utf8)
      } catch {
        throw LoadError.unreadable(path: path, reason: error.localizedDescription)
      }
      let parsed = try parse(text, path: path, warnings: &warnings)
      config.merge(parsed)
    }
    return (config, warnings)
  }

  /// Applies a later file on top of this one.
  public mutating func merge(_ later: RegistriesConfiguration) {
    if let search = later.unqualifiedSearchRegistries { unqualifiedSearchRegistries = search }
    for registry in later.registries {
      if let index = registries.firstIndex(where: { $0.prefix == registry.prefix }) {
        registries[index] = registry
      } else {
        registries.append(registry)
      }
    }
    aliases.merge(later.aliases) { $1 }
  }

  /// Parses one file's text.
  public static func parse(_ text: String, path: String, warnings: inout [String]) throws -> RegistriesConfiguration {
    if let problem = TOMLCrashGuard.check(text) {
      throw LoadError.syntax(path: path, message: "\(problem)")
    }
    let table: TOMLTable
    do {
      table = try TOMLTable(string: text)
    } catch let error as TOMLParseError {
      throw LoadError.syntax(path: path, message: "\(error.description) at line \(error.source.begin.line)")
    } catch {
      throw LoadError.syntax(path: path, message: "\(error)")
    }
    var config = RegistriesConfiguration()
    for (key, value) in table {
      switch key {
      case "unqualified-search-registries":
        config.unqualifiedSearchRegistries = try strings(value, key: key, path: path)
      case "registry":
        guard let array = value.array else { throw LoadError.invalid(path: path, message: "[[registry]] must be an array of tables") }
        for element in array {
          guard let registryTable = element.table else {
            throw LoadError.invalid(path: path, message: "[[registry]] must be an array of tables")
          }
          config.registries.append(try registry(registryTable, path: path, warnings: &warnings))
        }
      case "aliases":
        guard let aliasTable = value.table else { throw LoadError.invalid(path: path, message: "[aliases] must be a table") }
        for (name, target) in aliasTable {
          guard let targetText = target.string else {
            throw LoadError.invalid(path: path, message: "alias \"\(name)\" must be a string")
          }
          config.aliases[name] = targetText
        }
      case "short-name-mode", "credential-helpers", "additional-layer-store-auth-helper":
        warnings.append("\(path): \(key) is not supported and is ignored")
      case "registries":
        warnings.append("\(path): the version 1 [registries.*] tables are not supported; use version 2")
      default:
        warnings.append("\(path): unknown key \(key) ignored")
      }
    }
    return config
  }

  private static func registry(_ table: TOMLTable, path: String, warnings: inout [String]) throws -> Registry {
    var prefix: String?
    var location: String?
    var registry = Registry(prefix: "", location: "")
    for (key, value) in table {
      switch key {
      case "prefix": prefix = try string(value, key: key, path: path)
      case "location": location = try string(value, key: key, path: path)
      case "insecure": registry.insecure = try bool(value, key: key, path: path)
      case "blocked": registry.blocked = try bool(value, key: key, path: path)
      case "mirror-by-digest-only": registry.mirrorByDigestOnly = try bool(value, key: key, path: path)
      case "mirror":
        guard let array = value.array else { throw LoadError.invalid(path: path, message: "[[registry.mirror]] must be an array of tables") }
        for element in array {
          guard let mirrorTable = element.table else {
            throw LoadError.invalid(path: path, message: "[[registry.mirror]] must be an array of tables")
          }
          var mirror = Mirror(location: "")
          for (mirrorKey, mirrorValue) in mirrorTable {
            switch mirrorKey {
            case "location": mirror.location = try string(mirrorValue, key: mirrorKey, path: path)
            case "insecure": mirror.insecure = try bool(mirrorValue, key: mirrorKey, path: path)
            case "pull-from-mirror":
              mirror.pullFromMirror = try string(mirrorValue, key: mirrorKey, path: path)
              guard ["all", "digest-only", "tag-only"].contains(mirror.pullFromMirror) else {
                throw LoadError.invalid(path: path, message: "pull-from-mirror must be all, digest-only or tag-only")
              }
            default: warnings.append("\(path): unknown key \(mirrorKey) in [[registry.mirror]] ignored")
            }
          }
          guard !mirror.location.isEmpty else { throw LoadError.invalid(path: path, message: "a mirror needs a location") }
          registry.mirrors.append(mirror)
        }
      default:
        warnings.append("\(path): unknown key \(key) in [[registry]] ignored")
      }
    }
    guard let resolvedPrefix = prefix ?? location, !resolvedPrefix.isEmpty else {
      throw LoadError.invalid(path: path, message: "a [[registry]] needs a prefix or a location")
    }
    registry.prefix = resolvedPrefix
    registry.location = location ?? resolvedPrefix
    if registry.prefix.hasPrefix("*.") && location != nil && location != registry.prefix {
      throw LoadError.invalid(path: path, message: "a wildcard prefix \(registry.prefix) cannot have a location")
    }
    return registry
  }

  private static func string(_ value: any TOMLValueConvertible, key: String, path: String) throws -> String {
    guard let s = value.string else { throw LoadError.invalid(path: path, message: "\(key) must be a string") }
    return s
  }

  private static func bool(_ value: any TOMLValueConvertible, key: String, path: String) throws -> Bool {
    guard let b = value.bool else { throw LoadError.invalid(path: path, message: "\(key) must be a boolean") }
    return b
  }

  private static func strings(_ value: any TOMLValueConvertible, key: String, path: String) throws -> [String] {
    guard let array = value.array else { throw LoadError.invalid(path: path, message: "\(key) must be an array of strings") }
    return try array.map { element in
      guard let s = element.string else { throw LoadError.invalid(path: path, message: "\(key) must be an array of strings") }
      return s
    }
  }
}
