import CRIOConfig
import CRIOSystem
import Foundation
import Glibc
import Logging

/// What a pod got from CNI: its addresses.
public struct PodNetworkStatus: Sendable, Codable, Equatable {
  /// Addresses without prefix length, primary first.
  public var ips: [String]
  public var network: String
}

/// Attaches pods to the default CNI network and detaches them, caching what
/// was done (the exact plugin configurations and the ADD result) on disk so
/// that DEL gets the right `prevResult`, even after a restart or a change of
/// the configuration files.
public struct PodNetworks: Sendable {
  let directory: String
  let defaultNetwork: String
  let runner: CNIPluginRunner
  public let cacheDirectory: String
  let logger: Logger

  public init(config: CRIOConfiguration, cacheDirectory: String, logger: Logger) {
    directory = config.network.networkDir
    defaultNetwork = config.network.cniDefaultNetwork
    runner = CNIPluginRunner(pluginDirectories: config.network.pluginDirs)
    self.cacheDirectory = cacheDirectory
    self.logger = logger
  }

  /// What DEL needs: the configurations ADD ran with, and its result.
  struct CacheEntry: Codable {
    var network: String
    var cniVersion: String
    var plugins: [Data]
    var attachment: CNIAttachment
    var result: Data
    var disableCheck: Bool?
  }

  /// Runs ADD through the default network's plugin chain.
  public func attach(_ attachment: CNIAttachment) async throws -> PodNetworkStatus {
    let scanned = CNIConfigDirectory.scan(directory)
    for rejected in scanned.rejected {
      logger.warning("Skipping CNI configuration", metadata: ["file": "\(rejected.file)", "error": "\(rejected.reason)"])
    }
    guard let chosen = scanned.defaultNetwork(preferred: defaultNetwork) else {
      throw CNIError.noNetwork(directory: directory)
    }
    let network: CNINetwork
    do {
      network = try CNINetwork(file: chosen.file)
    } catch {
      throw CNIError.invalidResult(type: "config", detail: "\(error)")
    }
    var previous: Any?
    var done: [(type: String, config: Data)] = []
    // The cache entry is written before the first ADD, so a daemon that dies
    // half-way through the chain still knows what to DEL after a restart
    // (plugins accept a DEL without a previous result).
    var entry = CacheEntry(
      network: network.name, cniVersion: network.cniVersion, plugins: network.plugins, attachment: attachment,
      result: Data(), disableCheck: network.disableCheck)
    do {
      try save(entry, id: attachment.containerID)
      for plugin in network.plugins {
        let config = try Self.configuration(plugin, previous: previous, attachment: attachment)
        let type = Self.type(of: plugin)
        let output = try await runner.run(command: "ADD", type: type, config: config, attachment: attachment)
        done.append((type, config))
        Failpoint.sandboxRunDuringNetwork.hit()
        previous = try Self.result(output, type: type)
      }
      entry.result = try JSONSerialization.data(withJSONObject: previous ?? [:])
      try save(entry, id: attachment.containerID)
    } catch {
      // Undo the plugins that succeeded, last first.
      for (type, config) in done.reversed() {
        _ = try? await runner.run(command: "DEL", type: type, config: config, attachment: attachment)
      }
      unlink(cachePath(attachment.containerID))
      throw error
    }
    return PodNetworkStatus(ips: Self.ips(in: previous), network: network.name)
  }

  /// Runs DEL, last plugin first, with the configuration and result ADD
  /// cached. Without a cache entry there is nothing to undo. Idempotent.
  public func detach(containerID: String) async throws {
    let path = cachePath(containerID)
    guard let data = FileManager.default.contents(atPath: path) else { return }
    guard let entry = try? JSONDecoder().decode(CacheEntry.self, from: data) else {
      logger.warning("Dropping unreadable CNI cache entry", metadata: ["file": "\(path)"])
      unlink(path)
      return
    }
    let previous = try? JSONSerialization.jsonObject(with: entry.result)
    var failures: [String] = []
    for plugin in entry.plugins.reversed() {
      let type = Self.type(of: plugin)
      do {
        let config = try Self.configuration(plugin, previous: previous, attachment: entry.attachment)
        _ = try await runner.run(command: "DEL", type: type, config: config, attachment: entry.attachment)
      } catch {
        failures.append("\(error)")
      }
    }
    guard failures.isEmpty else {
      throw CNIError.pluginFailed(type: "chain", command: "DEL", message: failures.joined(separator: "; "))
    }
    unlink(path)
  }

  /// Runs CHECK through the chain with what ADD was given and returned:
  /// whether the pod's network is still as ADD left it. Returns false
  /// without running anything when CHECK does not apply (no attachment, a
  /// CNI version before 0.4.0, `disableCheck`); throws the failing
  /// plugin's error.
  @discardableResult
  public func check(containerID: String) async throws -> Bool {
    guard let data = FileManager.default.contents(atPath: cachePath(containerID)),
      let entry = try? JSONDecoder().decode(CacheEntry.self, from: data), !entry.result.isEmpty,
      CNINetwork.supportsCheck(entry.cniVersion), entry.disableCheck != true
    else { return false }
    let previous = try? JSONSerialization.jsonObject(with: entry.result)
    for plugin in entry.plugins {
      let config = try Self.configuration(plugin, previous: previous, attachment: entry.attachment)
      _ = try await runner.run(command: "CHECK", type: Self.type(of: plugin), config: config, attachment: entry.attachment)
    }
    return true
  }

  public func hasAttachment(_ containerID: String) -> Bool {
    FileManager.default.fileExists(atPath: cachePath(containerID))
  }

  // MARK: helpers

  private func cachePath(_ id: String) -> String { "\(cacheDirectory)/\(id).json" }

  private func save(_ entry: CacheEntry, id: String) throws {
    try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
    let data = try JSONEncoder().encode(entry)
    let temp = cachePath(id) + ".tmp"
    guard FileManager.default.createFile(atPath: temp, contents: data), rename(temp, cachePath(id)) == 0 else {
      throw CNIError.invalidResult(type: "cache", detail: "cannot write \(cachePath(id))")
    }
  }

  static func type(of plugin: Data) -> String {
    ((try? JSONSerialization.jsonObject(with: plugin)) as? [String: Any])?["type"] as? String ?? ""
  }

  /// A plugin's stdin: its configuration plus `prevResult` and the
  /// `runtimeConfig` for the capabilities it declares.
  static func configuration(_ plugin: Data, previous: Any?, attachment: CNIAttachment) throws -> Data {
    guard var object = try JSONSerialization.jsonObject(with: plugin) as? [String: Any] else {
      throw CNIError.invalidResult(type: "config", detail: "plugin configuration is not an object")
    }
    if let previous { object["prevResult"] = previous }
    if let capabilities = object["capabilities"] as? [String: Any] {
      let values = attachment.runtimeConfig(capabilities: capabilities)
      if !values.isEmpty {
        object["runtimeConfig"] = (object["runtimeConfig"] as? [String: Any] ?? [:]).merging(values) { $1 }
      }
    }
    return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
  }

  /// A plugin's ADD result, as it is handed to the next plugin as `prevResult`.
  static func result(_ output: Data, type: String) throws(CNIError) -> Any {
    guard let result = try? JSONSerialization.jsonObject(with: output) else {
      throw CNIError.invalidResult(type: type, detail: "not JSON: \(String(decoding: output.prefix(200), as: UTF8.self))")
    }
    return result
  }

  /// Addresses of a CNI result (versions 0.3.x, 0.4.0 and 1.x share `ips`), IPv4 first.
  static func ips(in result: Any?) -> [String] {
    guard let object = result as? [String: Any], let ips = object["ips"] as? [[String: Any]] else { return [] }
    let addresses = ips.compactMap { ($0["address"] as? String)?.split(separator: "/").first.map(String.init) }
    return addresses.filter { !$0.contains(":") } + addresses.filter { $0.contains(":") }
  }
}
