import Foundation

/// A value given on the command line for the option at `path` (e.g. `crio.api.listen`).
public struct ConfigOverride: Sendable, Equatable {
  public let path: String
  public let value: ConfigValue

  public init(_ path: String, _ value: ConfigValue) {
    self.path = path
    self.value = value
  }
}

/// The result of loading: the configuration plus what a person should be told about it.
public struct LoadedConfiguration: Sendable {
  public var config: CRIOConfiguration
  /// Warnings to log at start-up: unknown keys and the like. Never fatal.
  public var warnings: [String]
  /// Paths (`crio.api.listen`, `crio.runtime.runtimes.NAME.KEY`) set by a file or a flag.
  public var explicitlySet: Set<String>
  /// The files read, in the order they were applied.
  public var files: [String]
}

/// Loads crio.conf, its drop-ins and command-line overrides, in that order:
/// flags override files, later files override earlier ones, files override the
/// built-in defaults.
public enum ConfigLoader {
  public static let defaultConfigFile = "/etc/crio/crio.conf"
  public static let defaultConfigDir = "/etc/crio/crio.conf.d"

  /// - Parameters:
  ///   - configFile: the main file. A missing file is an error only when `configFileRequired`
  ///     (the admin named it); the default location may be absent.
  ///   - configDir: drop-in directory; its `*.conf` files are applied in lexical order. A
  ///     missing directory is not an error.
  public static func load(
    configFile: String?,
    configFileRequired: Bool = false,
    configDir: String?,
    overrides: [ConfigOverride] = [],
    base: CRIOConfiguration = CRIOConfiguration()
  ) throws -> LoadedConfiguration {
    var loaded = LoadedConfiguration(config: base, warnings: [], explicitlySet: [], files: [])
    if let configFile {
      if let text = try readFile(configFile, required: configFileRequired) {
        try apply(text: text, path: configFile, to: &loaded)
      }
    }
    if let configDir {
      for file in try dropInFiles(in: configDir) {
        if let text = try readFile(file, required: true) {
          try apply(text: text, path: file, to: &loaded)
        }
      }
    }
    for override in overrides {
      guard let option = ConfigSchema.option(path: override.path) else {
        preconditionFailure("no config option \(override.path)")
      }
      option.apply(override.value, to: &loaded.config)
      loaded.explicitlySet.insert(option.path)
    }
    try ConfigValidator.validate(loaded.config)
    return loaded
  }

  /// Applies one TOML document on top of `loaded`. Exposed for tests.
  public static func apply(text: String, path: String, to loaded: inout LoadedConfiguration) throws {
    let document = try ConfigNode.parse(text, path: path)
    loaded.files.append(path)
    guard case .table(let top) = document else { return }
    for (key, node) in top {
      guard key == "crio" else {
        loaded.warnings.append("\(path): unknown table [\(key)] ignored")
        continue
      }
      try applySection("crio", node, path: path, to: &loaded)
    }
  }

  private static func applySection(
    _ section: String, _ node: ConfigNode, path: String, to loaded: inout LoadedConfiguration
  ) throws {
    guard case .table(let entries) = node else {
      throw ConfigError.wrongType(path: path, key: "[\(section)]", expected: .string, found: node.typeName)
    }
    for (key, child) in entries {
      let childSection = "\(section).\(key)"
      if section == "crio.runtime" && key == "runtimes" {
        try applyRuntimes(child, path: path, to: &loaded)
      } else if ConfigSchema.sections.contains(childSection) {
        try applySection(childSection, child, path: path, to: &loaded)
      } else if let option = ConfigSchema.option(section: section, key: key) {
        try applyOption(option, child, path: path, to: &loaded)
      } else if case .table = child {
        loaded.warnings.append("\(path): unknown or unsupported table [\(childSection)] ignored")
      } else {
        loaded.warnings.append("\(path): unknown or unsupported option [\(section)] \(key) ignored")
      }
    }
  }

  private static func applyOption(
    _ option: ConfigOption, _ node: ConfigNode, path: String, to loaded: inout LoadedConfiguration
  ) throws {
    guard case .value(let value) = node, value.kind == option.kind else {
      throw ConfigError.wrongType(path: path, key: option.displayName, expected: option.kind, found: node.typeName)
    }
    option.apply(value, to: &loaded.config)
    loaded.explicitlySet.insert(option.path)
  }

  private static func applyRuntimes(_ node: ConfigNode, path: String, to loaded: inout LoadedConfiguration) throws {
    guard case .table(let handlers) = node else {
      throw ConfigError.wrongType(path: path, key: "[crio.runtime.runtimes]", expected: .string, found: node.typeName)
    }
    for (name, handlerNode) in handlers {
      let section = "crio.runtime.runtimes.\(name)"
      guard case .table(let entries) = handlerNode else {
        loaded.warnings.append("\(path): [\(section)] is not a table; ignored")
        continue
      }
      var handler = loaded.config.runtime.runtimes[name] ?? CRIOConfiguration.RuntimeHandler()
      for (key, valueNode) in entries {
        guard ConfigSchema.runtimeHandlerKeys.contains(where: { $0.key == key }) else {
          loaded.warnings.append("\(path): unknown or unsupported option [\(section)] \(key) ignored")
          continue
        }
        guard case .value(.string(let value)) = valueNode else {
          throw ConfigError.wrongType(path: path, key: "[\(section)] \(key)", expected: .string, found: valueNode.typeName)
        }
        switch key {
        case "runtime_path": handler.runtimePath = value
        case "runtime_root": handler.runtimeRoot = value
        default: handler.runtimeType = value
        }
        loaded.explicitlySet.insert("\(section).\(key)")
      }
      loaded.config.runtime.runtimes[name] = handler
    }
  }

  /// `*.conf` files of a drop-in directory, in lexical order.
  static func dropInFiles(in dir: String) throws -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return [] }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: dir)
    } catch {
      throw ConfigError.unreadable(path: dir, reason: "\(error.localizedDescription)")
    }
    return names.filter { $0.hasSuffix(".conf") }.sorted().map { "\(dir)/\($0)" }
  }

  /// The file's text, or nil when it is absent and not required.
  static func readFile(_ path: String, required: Bool) throws -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      if !required && !FileManager.default.fileExists(atPath: path) { return nil }
      let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
      throw ConfigError.unreadable(path: path, reason: reason)
    }
    defer { try? handle.close() }
    do {
      let data = try handle.readToEnd() ?? Data()
      guard let text = String(data: data, encoding: .utf8) else {
        throw ConfigError.unreadable(path: path, reason: "not UTF-8 text")
      }
      return text
    } catch let error as ConfigError {
      throw error
    } catch {
      throw ConfigError.unreadable(path: path, reason: "\(error.localizedDescription)")
    }
  }
}
