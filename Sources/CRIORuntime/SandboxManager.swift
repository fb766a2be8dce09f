import CRIOConfig
import CRIONetwork
import CRIOSystem
import Foundation
import Glibc
import Logging

/// Runs pod sandboxes: their pinned network, IPC and UTS namespaces, their
/// hostname, hosts and resolv.conf files and their /dev/shm, and remembers
/// them across daemon restarts (records under `[crio] root`, run files under
/// `[crio] runroot`, pins under `[crio.runtime] namespaces_dir`).
///
/// Every step of creation is undone when a later one fails, so a failed
/// `run` leaves nothing behind.
public actor SandboxManager {
  let config: CRIOConfiguration
  let logger: Logger
  let recordsDirectory: String
  let runDirectory: String
  let namespacesDirectory: String
  let networks: PodNetworks
  private var sandboxes: [String: SandboxRecord] = [:]
  /// Reserved names, to their sandbox ID.
  private var names: [String: String] = [:]

  public static let shmSize: UInt64 = 64 * 1024 * 1024

  public init(config: CRIOConfiguration, logger: Logger) async throws {
    self.config = config
    self.logger = logger
    recordsDirectory = "\(config.root)/crio/sandboxes"
    runDirectory = "\(config.runroot)/crio/sandboxes"
    namespacesDirectory = config.runtime.namespacesDir
    networks = PodNetworks(config: config, cacheDirectory: "\(config.root)/crio/cni-cache", logger: logger)
    try FileManager.default.createDirectory(atPath: recordsDirectory, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
    await recover()
  }

  // MARK: queries

  public func list() -> [SandboxRecord] {
    sandboxes.values.sorted { $0.createdAt < $1.createdAt }
  }

  /// The sandbox with this ID, or the only one whose ID starts with it.
  public func find(_ idOrPrefix: String) throws -> SandboxRecord? {
    if let exact = sandboxes[idOrPrefix] { return exact }
    guard !idOrPrefix.isEmpty else { return nil }
    let matches = sandboxes.values.filter { $0.id.hasPrefix(idOrPrefix) }
    if matches.count > 1 { throw SandboxError.ambiguous(idOrPrefix) }
    return matches.first
  }

  // MARK: life cycle

  public func run(_ spec: SandboxSpec) async throws -> SandboxRecord {
    try validate(spec)
    for note in SecurityContext.unsupportedNotes(apparmor: spec.security.apparmorProfile, selinux: spec.security.selinuxLabel) {
      logger.info("\(note)", metadata: ["sandbox": "\(spec.reservedName)"])
    }
    if let existing = names[spec.reservedName] {
      throw SandboxError.nameInUse(name: spec.reservedName, id: existing)
    }
    let id = Self.newID()
    names[spec.reservedName] = id
    var cleanup: [@Sendable () async -> Void] = []
    do {
      let record = try await create(id: id, spec: spec, cleanup: &cleanup)
      sandboxes[id] = record
      try save(record)
      logger.info("Ran pod sandbox", metadata: ["id": "\(id)", "name": "\(spec.reservedName)"])
      return record
    } catch {
      for undo in cleanup.reversed() { await undo() }
      sandboxes[id] = nil
      names[spec.reservedName] = nil
      unlink(recordPath(id))
      if let error = error as? SandboxError { throw error }
      throw SandboxError.setupFailed("\(error)")
    }
  }

  /// Stops the sandbox: releases its namespaces and shm. Unknown IDs and
  /// repeated calls succeed (the kubelet retries).
  public func stop(_ idOrPrefix: String) async throws {
    guard var record = try find(idOrPrefix) else { return }
    // The network goes first: its plugins need the namespace to still exist.
    try await networks.detach(containerID: record.id)
    release(record)
    if record.state != .notReady {
      record.state = .notReady
      sandboxes[record.id] = record
      try save(record)
      logger.info("Stopped pod sandbox", metadata: ["id": "\(record.id)"])
    }
  }

  /// Removes the sandbox and everything it owns. Unknown IDs succeed.
  public func remove(_ idOrPrefix: String) async throws {
    guard let record = try find(idOrPrefix) else { return }
    try await networks.detach(containerID: record.id)
    release(record)
    try? FileManager.default.removeItem(atPath: record.runDirectory)
    unlink(recordPath(record.id))
    sandboxes[record.id] = nil
    names[record.spec.reservedName] = nil
    logger.info("Removed pod sandbox", metadata: ["id": "\(record.id)"])
  }

  // MARK: creation steps

  private func create(
    id: String, spec: SandboxSpec, cleanup: inout [@Sendable () async -> Void]
  ) async throws -> SandboxRecord {
    let hostNetwork = spec.networkMode == .node
    let hostname = spec.hostname.isEmpty ? Self.hostHostname() : spec.hostname
    let runDir = "\(runDirectory)/\(id)"
    try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    cleanup.append { try? FileManager.default.removeItem(atPath: runDir) }

    let sysctls = try sysctlsFor(spec)
    let pins: NamespacePins
    do {
      pins = try NamespacePins.create(
        id: id, under: namespacesDirectory, network: !hostNetwork, ipc: spec.ipcMode != .node, uts: !hostNetwork,
        hostname: hostname, sysctls: sysctls)
    } catch {
      throw SandboxError.setupFailed("\(error)")
    }
    cleanup.append { pins.release() }

    var shmPath: String?
    if spec.ipcMode != .node {
      let path = "\(runDir)/shm"
      try TmpfsMount.mount(at: path, sizeBytes: Self.shmSize)
      cleanup.append { TmpfsMount.unmount(path) }
      shmPath = path
    }

    var record = SandboxRecord(
      id: id, spec: spec, state: .ready, createdAt: Int64(Date().timeIntervalSince1970 * 1_000_000_000),
      pins: pins, runDirectory: runDir, shmPath: shmPath, hostname: hostname)
    try write("\(hostname)\n", to: record.hostnamePath)
    try write(hostsFile(hostname: hostname, hostNetwork: hostNetwork), to: record.hostsPath)
    try write(resolvConf(spec.dns), to: record.resolvConfPath)

    if let netns = pins.network {
      let attachment = CNIAttachment(
        containerID: id, netns: netns, podName: spec.name, podNamespace: spec.namespace, podUID: spec.uid,
        portMappings: spec.portMappings)
      let networks = self.networks
      do {
        record.ips = try await networks.attach(attachment).ips
      } catch {
        throw SandboxError.networkFailed("\(error)")
      }
      cleanup.append { try? await networks.detach(containerID: id) }
    }
    return record
  }

  /// Refuses a spec that can never run (`SandboxError.invalid`), before
  /// anything slow happens for it, such as pulling the pause image.
  public nonisolated func check(_ spec: SandboxSpec) throws {
    try validate(spec)
    _ = try sysctlsFor(spec)
  }

  private nonisolated func validate(_ spec: SandboxSpec) throws {
    for (field, value) in [("name", spec.name), ("namespace", spec.namespace), ("uid", spec.uid)] where value.isEmpty {
      throw SandboxError.invalid("PodSandboxConfig.metadata.\(field) is required")
    }
    if !spec.runtimeHandler.isEmpty && config.runtime.runtimes[spec.runtimeHandler] == nil {
      throw SandboxError.invalid("runtime handler \"\(spec.runtimeHandler)\" is not configured")
    }
    if spec.networkMode == .target || spec.ipcMode == .target {
      throw SandboxError.invalid("a pod's network and IPC namespaces cannot target a container")
    }
  }

  /// The pod's sysctls (after `default_sysctls`), each checked to be one its
  /// own namespaces hold, as CRI-O does.
  private nonisolated func sysctlsFor(_ spec: SandboxSpec) throws -> [(key: String, value: String)] {
    var all: [String: String] = [:]
    for entry in config.runtime.defaultSysctls {
      let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if parts.count == 2 { all[parts[0]] = parts[1] }
    }
    all.merge(spec.sysctls) { $1 }
    var result: [(key: String, value: String)] = []
    for (key, value) in all.sorted(by: { $0.key < $1.key }) {
      let normalized = key.replacingOccurrences(of: "/", with: ".")
      guard !normalized.contains(".."), !normalized.hasPrefix(".") else {
        throw SandboxError.invalid("invalid sysctl \(key)")
      }
      let network = normalized.hasPrefix("net.")
      let ipc = ["kernel.shm", "kernel.msg", "fs.mqueue."].contains { normalized.hasPrefix($0) } || normalized == "kernel.sem"
      if network && spec.networkMode == .node {
        throw SandboxError.invalid("sysctl \(key) is not allowed in a pod that uses the host network")
      }
      if ipc && spec.ipcMode == .node {
        throw SandboxError.invalid("sysctl \(key) is not allowed in a pod that uses the host IPC namespace")
      }
      guard network || ipc else {
        throw SandboxError.invalid("sysctl \(key) is not namespaced: a pod cannot set it")
      }
      result.append((normalized, value))
    }
    return result
  }

  private func hostsFile(hostname: String, hostNetwork: Bool) -> String {
    if hostNetwork, let host = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) { return host }
    return """
      127.0.0.1\tlocalhost
      ::1\tlocalhost ip6-localhost ip6-loopback
      fe00::0\tip6-localnet
      ff00::0\tip6-mcastprefix
      ff02::1\tip6-allnodes
      ff02::2\tip6-allrouters
      127.0.1.1\t\(hostname)

      """
  }

  private func resolvConf(_ dns: SandboxSpec.DNS?) -> String {
    guard let dns, !(dns.servers.isEmpty && dns.searches.isEmpty && dns.options.isEmpty) else {
      return (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
    }
    var lines: [String] = []
    if !dns.searches.isEmpty { lines.append("search " + dns.searches.joined(separator: " ")) }
    lines += dns.servers.map { "nameserver \($0)" }
    if !dns.options.isEmpty { lines.append("options " + dns.options.joined(separator: " ")) }
    return lines.joined(separator: "\n") + "\n"
  }

  private func release(_ record: SandboxRecord) {
    if let shm = record.shmPath { TmpfsMount.unmount(shm) }
    record.pins.release()
  }

  // MARK: persistence

  private func recordPath(_ id: String) -> String { "\(recordsDirectory)/\(id).json" }

  private func save(_ record: SandboxRecord) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(record)
    let temp = recordPath(record.id) + ".tmp"
    guard FileManager.default.createFile(atPath: temp, contents: data), rename(temp, recordPath(record.id)) == 0 else {
      throw SandboxError.setupFailed("cannot write \(recordPath(record.id))")
    }
  }

  /// Loads the records of a previous run. A sandbox whose pins are gone (a
  /// reboot, or a crash between steps) is no longer ready; its leftovers are
  /// released. A record that cannot be read is not trusted: whatever its ID
  /// may own (pins, shm, network) is released by name and the record dropped.
  private func recover() async {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: recordsDirectory)) ?? []
    for file in files where file.hasSuffix(".tmp") {
      unlink("\(recordsDirectory)/\(file)")
    }
    for file in files where file.hasSuffix(".json") {
      let path = "\(recordsDirectory)/\(file)"
      guard let data = FileManager.default.contents(atPath: path),
            var record = try? JSONDecoder().decode(SandboxRecord.self, from: data)
      else {
        let id = String(file.dropLast(".json".count))
        logger.warning("Releasing what an unreadable sandbox record owned", metadata: ["file": "\(path)"])
        try? await networks.detach(containerID: id)
        let guessed = "\(runDirectory)/\(id)"
        TmpfsMount.unmount("\(guessed)/shm")
        NamespacePins(
          network: "\(namespacesDirectory)/netns/\(id)", ipc: "\(namespacesDirectory)/ipcns/\(id)",
          uts: "\(namespacesDirectory)/utsns/\(id)"
        ).release()
        try? FileManager.default.removeItem(atPath: guessed)
        unlink(path)
        continue
      }
      if record.state == .ready && !record.pins.areMounted {
        release(record)
        record.state = .notReady
        try? save(record)
      }
      sandboxes[record.id] = record
      names[record.spec.reservedName] = record.id
    }
  }

  private func write(_ text: String, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
    else { throw SandboxError.setupFailed("cannot write \(path)") }
  }

  static func newID() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
  }

  static func hostHostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count)
    return String(cString: buffer)
  }
}
