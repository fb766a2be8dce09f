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
  let journal: OperationJournal
  private var sandboxes: [String: SandboxRecord] = [:]
  /// The node's pod CIDRs, from the kubelet's `UpdateRuntimeConfig` (for
  /// CNI plugins with the `ipRanges` capability). Not persisted: the
  /// kubelet sends them again after a restart.
  private var podCIDRs: [String] = []
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
    journal = OperationJournal(root: config.root)
    try FileManager.default.createDirectory(atPath: recordsDirectory, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
    try journal.prepare()
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

  /// Runs a pod sandbox: namespaces, shm, pod files, then its network (CNI
  /// ADD) and `infra` (its infra container, when it needs one) at the same
  /// time: both only need the pinned namespaces, and each is mostly another
  /// process (CNI plugins; conmon and `runc create`) waiting on its own.
  /// When one fails, the other is undone too (`undoInfra` removes an infra
  /// container that `infra` made), and so is everything before. The record
  /// is written last, so a sandbox is listed only once complete; a journal
  /// entry covers the steps before.
  public func run(
    _ spec: SandboxSpec, infra: @escaping @Sendable (SandboxRecord) async throws -> Void = { _ in },
    undoInfra: @escaping @Sendable (SandboxRecord) async -> Void = { _ in }
  ) async throws -> SandboxRecord {
    try validate(spec)
    if spec.userNamespace != nil, case .unsupported(let reason) = userNamespaceSupport() {
      throw SandboxError.invalid("user namespaces are not supported on this host: \(reason)")
    }
    for note in SecurityContext.unsupportedNotes(apparmor: spec.security.apparmorProfile, selinux: spec.security.selinuxLabel) {
      logger.info("\(note)", metadata: ["sandbox": "\(spec.reservedName)"])
    }
    if let existing = names[spec.reservedName] {
      throw SandboxError.nameInUse(name: spec.reservedName, id: existing)
    }
    let id = Self.newID()
    names[spec.reservedName] = id
    let ticket: OperationJournal.Ticket
    do {
      ticket = try journal.begin(.runSandbox, id: id)
    } catch {
      names[spec.reservedName] = nil
      throw SandboxError.setupFailed("\(error)")
    }
    defer { journal.end(ticket) }
    var cleanup: [@Sendable () async -> Void] = []
    do {
      let (created, attachment) = try await create(id: id, spec: spec, cleanup: &cleanup)
      var record = created
      let networks = self.networks
      async let attached = Self.outcome { () async throws -> [String] in
        guard let attachment else { return [] }
        do {
          return try await networks.attach(attachment).ips
        } catch {
          throw SandboxError.networkFailed("\(error)")
        }
      }
      let infraOutcome = await Self.outcome { try await infra(record) }
      let networkOutcome = await attached
      if case .success = infraOutcome { cleanup.append { await undoInfra(created) } }
      if case .success(let ips) = networkOutcome, attachment != nil {
        record.ips = ips
        cleanup.append { try? await networks.detach(containerID: id) }
      }
      if case .failure(let error) = networkOutcome { throw error }
      if case .failure(let error) = infraOutcome { throw error }
      if attachment != nil { Failpoint.sandboxRunAfterNetwork.hit() }
      Failpoint.sandboxRunAfterInfra.hit()
      sandboxes[id] = record
      try save(record)
      Failpoint.sandboxRunAfterRecord.hit()
      logger.info("Ran pod sandbox", metadata: ["id": "\(id)", "name": "\(spec.reservedName)"])
      return record
    } catch {
      for undo in cleanup.reversed() { await undo() }
      sandboxes[id] = nil
      names[spec.reservedName] = nil
      unlink(recordPath(id))
      if let error = error as? SandboxError { throw error }
      if error is ContainerError { throw error }
      throw SandboxError.setupFailed("\(error)")
    }
  }

  /// Stops the sandbox: `stopContainers` (what still runs in the pod: the
  /// kubelet has stopped what it wanted to stop gracefully) and, at the same
  /// time, its network (CNI DEL needs only the pinned network namespace);
  /// then its namespaces and shm. Unknown IDs and repeated calls succeed
  /// (the kubelet retries). A journal entry lets a restart finish a stop the
  /// daemon died in.
  public func stop(
    _ idOrPrefix: String, stopContainers: @Sendable (SandboxRecord) async throws -> Void = { _ in }
  ) async throws {
    guard let record = try find(idOrPrefix) else { return }
    let ticket = try journal.begin(.stopSandbox, id: record.id)
    defer { journal.end(ticket) }
    let networks = self.networks
    async let detached = Self.outcome { try await networks.detach(containerID: record.id) }
    let containersOutcome = await Self.outcome { try await stopContainers(record) }
    let networkOutcome = await detached
    try containersOutcome.get()
    Failpoint.sandboxStopAfterContainers.hit()
    try networkOutcome.get()
    try await stopOwnResources(record.id, networkDetached: true)
  }

  /// What `body` returned or threw: two steps that run at the same time
  /// both finish before either's failure is acted on.
  private nonisolated static func outcome<T: Sendable>(
    _ body: () async throws -> T
  ) async -> Result<T, any Error> {
    do {
      return .success(try await body())
    } catch {
      return .failure(error)
    }
  }

  /// The sandbox's own part of a stop: network (first: its plugins need the
  /// namespace to still exist; already done when `networkDetached`),
  /// namespaces, shm, and the record's state.
  func stopOwnResources(_ id: String, networkDetached: Bool = false) async throws {
    guard var record = sandboxes[id] else { return }
    if !networkDetached { try await networks.detach(containerID: record.id) }
    Failpoint.sandboxStopAfterNetwork.hit()
    release(record)
    if record.state != .notReady {
      record.state = .notReady
      sandboxes[record.id] = record
      try save(record)
      logger.info("Stopped pod sandbox", metadata: ["id": "\(record.id)"])
    }
  }

  /// Removes the sandbox and everything it owns, after `removeContainers`.
  /// Unknown IDs succeed. A restart finishes a removal the daemon died in.
  public func remove(
    _ idOrPrefix: String, removeContainers: @Sendable (SandboxRecord) async throws -> Void = { _ in }
  ) async throws {
    guard let record = try find(idOrPrefix) else { return }
    let ticket = try journal.begin(.removeSandbox, id: record.id)
    defer { journal.end(ticket) }
    try await removeContainers(record)
    Failpoint.sandboxRemoveAfterContainers.hit()
    try await purge(record.id)
    logger.info("Removed pod sandbox", metadata: ["id": "\(record.id)"])
  }

  /// Releases everything a sandbox ID may own, with or without a record:
  /// network (CNI DEL from its cache), shm, pinned namespaces, run
  /// directory, record. Used by removal, by rollback and by recovery.
  func purge(_ id: String) async throws {
    try await networks.detach(containerID: id)
    Failpoint.sandboxRemoveAfterNetwork.hit()
    let runDir = sandboxes[id]?.runDirectory ?? "\(runDirectory)/\(id)"
    TmpfsMount.unmount("\(runDir)/shm")
    Self.pins(id: id, under: namespacesDirectory).release()
    if let pins = sandboxes[id]?.pins { pins.release() }
    Failpoint.sandboxRemoveAfterNamespaces.hit()
    try? FileManager.default.removeItem(atPath: runDir)
    unlink(recordPath(id))
    if let record = sandboxes[id] { names[record.spec.reservedName] = nil }
    sandboxes[id] = nil
  }

  /// Sets the pod CIDRs (comma-separated, as the kubelet sends them) that
  /// pods created from now on get as CNI `ipRanges`.
  public func updatePodCIDRs(_ text: String) throws {
    let cidrs = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    for cidr in cidrs where !Self.isCIDR(cidr) {
      throw SandboxError.invalid("pod CIDR \"\(cidr)\" is not an address/prefix")
    }
    if cidrs != podCIDRs {
      podCIDRs = cidrs
      logger.info("Pod CIDRs updated", metadata: ["cidrs": "\(cidrs.joined(separator: ","))"])
    }
  }

  static func isCIDR(_ text: String) -> Bool {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let prefix = Int(parts[1]) else { return false }
    var v4 = in_addr()
    var v6 = in6_addr()
    if inet_pton(AF_INET, String(parts[0]), &v4) == 1 { return (0...32).contains(prefix) }
    if inet_pton(AF_INET6, String(parts[0]), &v6) == 1 { return (0...128).contains(prefix) }
    return false
  }

  /// Runs CNI CHECK for every ready pod (after a restart): a pod whose
  /// network is no longer what ADD made (an interface or address gone) is
  /// not ready, so the kubelet makes a new one.
  func checkNetworks() async {
    for record in sandboxes.values where record.state == .ready && record.pins.network != nil {
      do {
        try await networks.check(containerID: record.id)
      } catch {
        logger.warning("Pod network check failed; the pod is not ready", metadata: ["id": "\(record.id)", "error": "\(error)"])
        var updated = record
        updated.state = .notReady
        sandboxes[record.id] = updated
        try? save(updated)
      }
    }
  }

  /// IDs of every recorded sandbox.
  func recordedIDs() -> [String] { Array(sandboxes.keys) }

  /// Where the pins of sandbox `id` would be.
  static func pins(id: String, under directory: String) -> NamespacePins {
    NamespacePins(
      network: "\(directory)/netns/\(id)", ipc: "\(directory)/ipcns/\(id)", uts: "\(directory)/utsns/\(id)",
      user: "\(directory)/userns/\(id)")
  }

  // MARK: creation steps

  /// Everything of a pod before its network and infra container; returns the
  /// record and the pod's network attachment (nil for the host's network).
  private func create(
    id: String, spec: SandboxSpec, cleanup: inout [@Sendable () async -> Void]
  ) async throws -> (SandboxRecord, CNIAttachment?) {
    let hostNetwork = spec.networkMode == .node
    let hostname = spec.hostname.isEmpty ? Self.hostHostname() : spec.hostname
    let runDir = "\(runDirectory)/\(id)"
    try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    cleanup.append { try? FileManager.default.removeItem(atPath: runDir) }

    let sysctls = try sysctlsFor(spec)
    let bandwidth: PodBandwidth?
    do {
      bandwidth = try PodBandwidth(annotations: spec.annotations)
    } catch {
      throw SandboxError.invalid("\(error)")
    }
    let pins: NamespacePins
    do {
      pins = try NamespacePins.create(
        id: id, under: namespacesDirectory, network: !hostNetwork, ipc: spec.ipcMode != .node, uts: !hostNetwork,
        hostname: hostname, sysctls: sysctls, uids: spec.userNamespace?.uids, gids: spec.userNamespace?.gids)
    } catch {
      throw SandboxError.setupFailed("\(error)")
    }
    cleanup.append { pins.release() }
    Failpoint.sandboxRunAfterNamespaces.hit()

    var shmPath: String?
    if spec.ipcMode != .node {
      let path = "\(runDir)/shm"
      try TmpfsMount.mount(at: path, sizeBytes: Self.shmSize)
      cleanup.append { TmpfsMount.unmount(path) }
      if let userns = spec.userNamespace { chown(path, userns.rootUID, userns.rootGID) }
      shmPath = path
      Failpoint.sandboxRunAfterShm.hit()
    }

    let record = SandboxRecord(
      id: id, spec: spec, state: .ready, createdAt: Int64(Date().timeIntervalSince1970 * 1_000_000_000),
      pins: pins, runDirectory: runDir, shmPath: shmPath, hostname: hostname)
    try write("\(hostname)\n", to: record.hostnamePath)
    try write(hostsFile(hostname: hostname, hostNetwork: hostNetwork), to: record.hostsPath)
    try write(resolvConf(spec.dns), to: record.resolvConfPath)
    if let userns = spec.userNamespace {
      // The pod's root owns its files, as CRI-O does.
      for path in [record.hostnamePath, record.hostsPath, record.resolvConfPath] {
        chown(path, userns.rootUID, userns.rootGID)
      }
    }

    let attachment = pins.network.map { netns in
      CNIAttachment(
        containerID: id, netns: netns, podName: spec.name, podNamespace: spec.namespace, podUID: spec.uid,
        portMappings: spec.portMappings, bandwidth: bandwidth,
        dns: spec.dns.map { CNIAttachment.DNS(servers: $0.servers, searches: $0.searches, options: $0.options) },
        podCIDRs: podCIDRs)
    }
    return (record, attachment)
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
    if let userns = spec.userNamespace { try validate(userns, spec: spec) }
  }

  /// Where the user namespace probe works (and cleans up).
  var userNamespaceProbeDirectory: String { "\(runDirectory)/.userns-probe" }

  /// Whether pods can run in user namespaces here (probed once).
  public func userNamespaceSupport() -> UserNamespaceSupport.Result {
    UserNamespaceSupport.probe(scratch: userNamespaceProbeDirectory)
  }

  /// As CRI-O: UID and GID mappings the kernel takes (any number of
  /// ranges, see `UserNamespace.problem`), mapping container ID 0, and the
  /// pod's own network, IPC and PID namespaces (a user namespace must own
  /// them; Kubernetes' API validation refuses hostNetwork, hostIPC and
  /// hostPID with hostUsers: false too).
  private nonisolated func validate(_ userns: SandboxSpec.UserNamespace, spec: SandboxSpec) throws {
    let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
    for (kind, mappings) in [("UID", userns.uids), ("GID", userns.gids)] {
      if let problem = SandboxSpec.UserNamespace.problem(in: mappings, kind: kind, pageSize: pageSize) {
        throw SandboxError.invalid("user namespace: \(problem)")
      }
    }
    // The host's network is allowed (the kubelet's UserNamespacesHostNetworkSupport):
    // the pod's user namespace then owns only its IPC (and PID) namespaces.
    if spec.ipcMode == .node || spec.pidMode == .node {
      throw SandboxError.invalid(
        "user namespace: a pod in its own user namespace cannot use the host's IPC or PID namespace")
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

  /// Sandbox IDs that own something on this host without a record (a
  /// daemon that died before writing it, or an unreadable one): run
  /// directories, pinned namespaces, CNI cache entries.
  func unrecordedIDs() -> Set<String> {
    var ids = Set<String>()
    func add(_ directory: String, suffix: String = "") {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(suffix) {
        let id = String(name.dropLast(suffix.count))
        if Self.isID(id) && sandboxes[id] == nil { ids.insert(id) }
      }
    }
    add(runDirectory)
    for kind in ["netns", "ipcns", "utsns", "userns"] { add("\(namespacesDirectory)/\(kind)") }
    add(networks.cacheDirectory, suffix: ".json")
    return ids
  }

  /// Whether `text` looks like an ID crio made (64 lowercase hex digits).
  static func isID(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
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
    do {
      try RecordFile.write(data, to: recordPath(record.id))
    } catch {
      throw SandboxError.setupFailed("\(error)")
    }
  }

  /// Loads the records of a previous run. A sandbox whose pins are gone (a
  /// reboot, or a crash between steps) is no longer ready; its leftovers are
  /// released. A record that cannot be read is not trusted: whatever its ID
  /// may own (pins, shm, network) is released by name and the record dropped.
  private func recover() async {
    RecordFile.removeLeftovers(in: recordsDirectory)
    let files = (try? FileManager.default.contentsOfDirectory(atPath: recordsDirectory)) ?? []
    for file in files where file.hasSuffix(".json") {
      let path = "\(recordsDirectory)/\(file)"
      guard let data = FileManager.default.contents(atPath: path),
            var record = try? JSONDecoder().decode(SandboxRecord.self, from: data)
      else {
        let id = String(file.dropLast(".json".count))
        logger.warning("Releasing what an unreadable sandbox record owned", metadata: ["file": "\(path)"])
        try? await purge(id)
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
