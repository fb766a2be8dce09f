import ArgumentParser
import CRIOConfig
import CRIOServer
import Foundation
import Logging

struct CrioCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crio",
    abstract: "A lightweight Kubernetes container runtime: the CRI over a unix socket.",
    discussion: "Without a subcommand, runs the daemon in the foreground.",
    version: CRIOVersion.version,
    subcommands: [ConfigCommand.self, StatusCommand.self, VersionCommand.self])

  @OptionGroup var options: DaemonOptions

  func run() async throws {
    let loaded = try loadOrExit(options)
    let level = LogfmtLogHandler.level(named: loaded.config.runtime.logLevel)
    let logger = Logger(label: "crio") { _ in LogfmtLogHandler(logLevel: level) }
    do {
      try await CRIODaemon(loaded: loaded, logger: logger).run()
    } catch let error as DaemonError {
      logger.critical("\(error.description)")
      throw ExitCode(1)
    }
  }
}

/// Loads the configuration, or exits 1 with the reason on one line.
func loadOrExit(_ options: DaemonOptions) throws -> LoadedConfiguration {
  do {
    return try options.load()
  } catch let error as ConfigError {
    FileHandle.standardError.write(Data("crio: \(error.description)\n".utf8))
    throw ExitCode(1)
  }
}

struct ConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "config",
    abstract: "Print the effective configuration as TOML that `crio --config` accepts back.")

  @ParentCommand var parent: CrioCommand

  func run() throws {
    let loaded = try loadOrExit(parent.options)
    for warning in loaded.warnings {
      FileHandle.standardError.write(Data("crio: warning: \(warning)\n".utf8))
    }
    print(ConfigRenderer.toml(loaded.config), terminator: "")
  }
}

struct VersionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "version", abstract: "Print version information.")

  @Flag(help: "Print as JSON.") var json = false

  func run() throws {
    let info: [(String, String)] = [
      ("version", CRIOVersion.version),
      ("runtimeName", CRIOVersion.runtimeName),
      ("runtimeApiVersion", CRIOVersion.runtimeAPIVersion),
      ("swiftVersion", Self.swiftVersion),
      ("os", "linux"),
      ("arch", Self.arch),
    ]
    if json {
      let object = Dictionary(uniqueKeysWithValues: info)
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      let width = info.map(\.0.count).max() ?? 0
      for (key, value) in info {
        print(key.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value)
      }
    }
  }

  static var arch: String {
    #if arch(x86_64)
      "amd64"
    #elseif arch(arm64)
      "arm64"
    #else
      "unknown"
    #endif
  }

  static var swiftVersion: String {
    #if swift(>=6.3)
      "6.3"
    #elseif swift(>=6.2)
      "6.2"
    #else
      "6.x"
    #endif
  }
}
