import CRIOConfig
import CRIOSystem
import Foundation
import Glibc
import Logging

/// What the daemon does at start-up, before it serves: make the host match
/// the records, whatever happened while it was down.
///
/// 1. **Reboot.** The version file lives on a tmpfs (`/var/run`); when it is
///    missing the node has rebooted (or it is the first start): no pod
///    process or namespace survived, so every sandbox and container is
///    removed, releasing what outlives a reboot (IP allocations, rootfs
///    directories, records), as CRI-O's `internal_wipe` does. Images stay.
/// 2. **Removals and orphans.** Removals a previous daemon began (their
///    records moved to `removing-containers/`) are finished. Container IDs that own something (rootfs, bundle, exit
///    file, runtime state) without a record are released.
/// 3. **The journal.** An operation the daemon died in is rolled back (a
///    creation) or carried through (a stop, a removal).
/// 4. **Orphaned sandboxes.** Sandbox IDs that own namespaces, run
///    directories or CNI allocations without a record are released.
/// 5. **The truth.** Recorded containers are checked against the OCI runtime
///    and conmon: a start the daemon did not record, a container whose
///    process and conmon are both gone.
/// 6. **The network.** CNI CHECK runs for every ready pod; one whose
///    network fails it is not ready any more.
/// 7. The version file is written.
public struct RuntimeRecovery: Sendable {
  let sandboxes: SandboxManager
  let containers: ContainerManager
  let journal: OperationJournal
  let versionFile: String
  let logger: Logger

  public init(config: CRIOConfiguration, sandboxes: SandboxManager, containers: ContainerManager, logger: Logger) {
    self.sandboxes = sandboxes
    self.containers = containers
    journal = OperationJournal(root: config.root)
    versionFile = config.versionFile
    self.logger = logger
  }

  public struct Report: Sendable, Equatable {
    public var rebooted = false
    /// Operations found in the journal, as `operation id`.
    public var journal: [String] = []
    /// IDs released because they owned something without a record.
    public var orphans: [String] = []
  }

  public func run() async throws -> Report {
    var report = Report()
    if !FileManager.default.fileExists(atPath: versionFile) {
      report.rebooted = true
      let containerIDs = await containers.recordedIDs()
      let sandboxIDs = await sandboxes.recordedIDs()
      if !containerIDs.isEmpty || !sandboxIDs.isEmpty {
        logger.info(
          "No version file: the node rebooted; removing every pod and container",
          metadata: ["file": "\(versionFile)", "pods": "\(sandboxIDs.count)", "containers": "\(containerIDs.count)"])
      }
      for id in containerIDs { await containers.purge(id) }
      for id in sandboxIDs { await purgeSandbox(id) }
    }
    // Removals a previous daemon left half done (their records are tombstones) finish first.
    await containers.settleRemovals()
    for id in await containers.unrecordedIDs() {
      report.orphans.append(id)
      logger.warning("Releasing what an unrecorded container owned", metadata: ["id": "\(id)"])
      await containers.purge(id)
    }
    for (entry, ticket) in journal.pending() {
      report.journal.append("\(entry.operation.rawValue) \(entry.id)")
      logger.info("Finishing an operation the daemon died in",
                  metadata: ["operation": "\(entry.operation.rawValue)", "id": "\(entry.id)"])
      await finish(entry)
      journal.end(ticket)
    }
    for id in await sandboxes.unrecordedIDs() {
      report.orphans.append(id)
      logger.warning("Releasing what an unrecorded pod sandbox owned", metadata: ["id": "\(id)"])
      await purgeSandbox(id)
    }
    await containers.reconcile()
    await sandboxes.checkNetworks()
    try writeVersionFile()
    return report
  }

  /// Rolls a creation back; carries a stop or a removal through.
  private func finish(_ entry: OperationJournal.Entry) async {
    switch entry.operation {
    case .runSandbox:
      await containers.removeInfra(entry.id)
      await purgeSandbox(entry.id)
    case .stopSandbox:
      for container in await containers.inSandbox(entry.id) {
        try? await containers.stop(container.id, timeout: 0)
      }
      await containers.stopInfra(entry.id)
      do {
        try await sandboxes.stopOwnResources(entry.id)
      } catch {
        logger.warning("Could not finish stopping a pod sandbox", metadata: ["id": "\(entry.id)", "error": "\(error)"])
      }
    case .removeSandbox:
      for container in await containers.inSandbox(entry.id) { await containers.purge(container.id) }
      await containers.removeInfra(entry.id)
      await purgeSandbox(entry.id)
    case .createContainer:
      await containers.purge(entry.id)
    }
  }

  private func purgeSandbox(_ id: String) async {
    do {
      try await sandboxes.purge(id)
    } catch {
      logger.warning("Could not release a pod sandbox's network", metadata: ["id": "\(id)", "error": "\(error)"])
    }
  }

  private func writeVersionFile() throws {
    let directory = (versionFile as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: versionFile, contents: Data("\(CRIOVersion.version)\n".utf8)) else {
      throw OperationJournal.JournalError(description: "cannot write the version file \(versionFile)")
    }
  }
}
