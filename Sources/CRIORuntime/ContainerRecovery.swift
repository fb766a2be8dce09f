import CRIOSystem
import Foundation
import Glibc

/// What a restarted daemon does for containers: release everything an ID
/// owns (`purge`), find IDs that own something without a record, and ask
/// the OCI runtime and conmon for the truth about recorded containers.
extension ContainerManager {
  /// Releases everything container `id` (a CRI container or an infra
  /// container) may own, with or without a record: the runtime's state
  /// (killing the process), conmon, the rootfs mount and directories, the
  /// bundle, the exit file, the attach socket link and the record.
  func purge(_ id: String) async {
    let infraEntry = infraContainers.first { $0.value.id == id }
    let record = containers[id] ?? infraEntry?.value
    var phases = PhaseTimes()
    await releaseResources(id: id, record: record, phases: &phases)
    unlink(recordPath(id))
    unlink(removalPath(id))
    unlink("\(infraDirectory)/\(id).json")
    if let record = containers[id] {
      names[Self.reservedName(record.spec, sandboxID: record.sandboxID)] = nil
      containers[id] = nil
    }
    if let sandboxID = infraEntry?.key { infraContainers[sandboxID] = nil }
  }

  /// Releases what container `id` owns on the host, not its record: the
  /// runtime's state (and process, and cgroup), conmon, the rootfs mount and
  /// upper dir, the bundle, conmon's socket links and the exit file. The
  /// file work runs off the cooperative pool (an overlay unmount syncs).
  func releaseResources(id: String, record: ContainerRecord?, phases: inout PhaseTimes) async {
    let bundle = record?.bundle ?? "\(bundlesDirectory)/\(id)"
    for handler in purgeHandlers(record) {
      await OCIRuntimeCommand(path: handler.path, root: handler.root).delete(id)
    }
    phases.mark("runtime_delete")
    Failpoint.containerRemoveAfterRuntime.hit()
    await stopConmon(bundle: bundle, id: id)
    let (layerDirectory, socketDirectory, exitFile) = (
      record?.layerDirectory ?? "\(layersDirectory)/\(id)", socketDirectory, "\(exitDirectory)/\(id)"
    )
    await OffPool.run {
      Self.removeFiles(id: id, layerDirectory: layerDirectory, bundle: bundle, socketDirectory: socketDirectory)
      unlink(exitFile)
    }
    phases.mark("files")
    Failpoint.containerRemoveAfterFiles.hit()
  }

  /// The runtimes to delete a container with: its own, or (no record) every configured one.
  private func purgeHandlers(_ record: ContainerRecord?) -> [(path: String, root: String)] {
    if let record, let handler = try? runtimeHandler(record.runtimeHandler) { return [handler] }
    return config.runtime.runtimes.keys.sorted().compactMap { try? runtimeHandler($0) }
  }

  /// conmon exits by itself once its container is gone; one still there
  /// after a second (it never got its container, say) is killed.
  private func stopConmon(bundle: String, id: String) async {
    guard let text = try? String(contentsOfFile: "\(bundle)/conmon-pidfile", encoding: .utf8),
      let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), isConmon(pid, id: id)
    else { return }
    for _ in 0..<100 where ProcessFacts.isAlive(pid) {
      try? await Task.sleep(for: .milliseconds(10))
    }
    if ProcessFacts.isAlive(pid) && isConmon(pid, id: id) {
      logger.warning("Killing a conmon left without its container", metadata: ["id": "\(id)", "pid": "\(pid)"])
      kill(pid, SIGKILL)
    }
    // Its temporary exit files (GLib writes `<id>.XXXXXX`, then renames).
    for name in (try? FileManager.default.contentsOfDirectory(atPath: exitDirectory)) ?? [] where name.hasPrefix(id + ".") {
      unlink("\(exitDirectory)/\(name)")
    }
  }

  private func isConmon(_ pid: Int32, id: String) -> Bool {
    let argv = ProcessFacts.commandLine(pid)
    guard let program = argv.first, program.hasSuffix("conmon"), let flag = argv.firstIndex(of: "-c") else { return false }
    return flag + 1 < argv.count && argv[flag + 1] == id
  }

  /// Container IDs that own something on this host without a record:
  /// rootfs directories, bundles, exit files, and runtime state whose
  /// bundle is one of crio's.
  func unrecordedIDs() async -> Set<String> {
    let known = Set(containers.keys).union(infraContainers.values.map(\.id))
    var ids = Set<String>()
    for directory in [layersDirectory, bundlesDirectory, exitDirectory] {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
        let id = String(name.prefix(64))
        if SandboxManager.isID(id) && !known.contains(id) { ids.insert(id) }
      }
    }
    for name in config.runtime.runtimes.keys.sorted() {
      guard let handler = try? runtimeHandler(name), FileManager.default.fileExists(atPath: handler.root) else { continue }
      let runtime = OCIRuntimeCommand(path: handler.path, root: handler.root)
      guard let result = try? await runtime.run(["list", "--format", "json"]), result.exitCode == 0,
        let entries = try? JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]]
      else { continue }
      for entry in entries {
        guard let id = entry["id"] as? String, let bundle = entry["bundle"] as? String,
          bundle.hasPrefix(bundlesDirectory + "/"), !known.contains(id)
        else { continue }
        ids.insert(id)
      }
    }
    return ids
  }

  /// Brings records up to date with what happened while crio was down:
  /// exits conmon recorded, a start that ran but was not recorded, and
  /// containers whose process and conmon are both gone (exit code unknown).
  func reconcile() async {
    for record in containers.values where record.state != .exited {
      if let updated = await reconciled(refreshed(record)) {
        containers[record.id] = updated
        try? save(updated)
      }
    }
    for (sandboxID, record) in infraContainers where record.state != .exited {
      guard infraContainer(sandboxID)?.state != .exited, let current = infraContainers[sandboxID],
        let updated = await reconciled(current)
      else { continue }
      infraContainers[sandboxID] = updated
      try? saveInfra(updated)
    }
  }

  private func reconciled(_ record: ContainerRecord) async -> ContainerRecord? {
    guard record.state != .exited else { return nil }
    let status = await runtimeStatus(record)
    var updated = record
    switch status {
    case "running", "paused":
      guard record.state == .created else { return nil }
      // Started, but the daemon died before it recorded that.
      updated.state = .running
      updated.startedAt = ProcessFacts.startTime(record.pid).map { Int64($0 * 1_000_000_000) }
        ?? Int64(Date().timeIntervalSince1970 * 1_000_000_000)
      logger.info("Recovered a started container", metadata: ["id": "\(record.id)"])
      return updated
    case "created":
      return nil
    default:
      // Stopped or unknown to the runtime: conmon writes the exit file if it still runs.
      if let text = try? String(contentsOfFile: "\(record.bundle)/conmon-pidfile", encoding: .utf8),
        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), ProcessFacts.isAlive(pid),
        isConmon(pid, id: record.id)
      {
        return nil
      }
      updated.state = .exited
      updated.exitCode = 255
      updated.reason = "Error"
      updated.message = "the container and its conmon were gone when crio restarted; its exit code is unknown"
      updated.finishedAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
      logger.warning("A container vanished while crio was down", metadata: ["id": "\(record.id)"])
      return updated
    }
  }

  /// The OCI runtime's status of the container (`runc state`), nil when it does not know it.
  private func runtimeStatus(_ record: ContainerRecord) async -> String? {
    guard let handler = try? runtimeHandler(record.runtimeHandler),
      let result = try? await OCIRuntimeCommand(path: handler.path, root: handler.root).run(["state", record.id]),
      result.exitCode == 0,
      let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
    else { return nil }
    return object["status"] as? String
  }

  /// Every container and infra container ID with a record.
  func recordedIDs() -> [String] {
    Array(containers.keys) + infraContainers.values.map(\.id)
  }
}
