import CRIOConfig
import CRIOSystem
import Foundation
import Glibc
import Logging
import OCI

/// A pod's infra ("pause") container. crio pins the network, IPC and UTS
/// namespaces without one (CRI-O's `drop_infra_ctr = true`); a PID
/// namespace cannot be pinned, so a pod whose containers share one
/// (`NamespaceMode.POD` for pid), or every pod when `drop_infra_ctr` is
/// false, gets a `pause_image` process that owns it as PID 1. It runs
/// through conmon and runc like any container, but is not one the CRI
/// lists; its record lives under `<root>/crio/infra-containers`.
extension ContainerManager {
  /// Whether a pod with this spec gets an infra container.
  public nonisolated func needsInfraContainer(_ spec: SandboxSpec) -> Bool {
    spec.pidMode == .pod || !config.runtime.dropInfraCtr
  }

  /// CRI-O's score for infra containers: the last thing to be OOM-killed
  /// (limited to what this host allows).
  static let infraOOMScoreAdj = -998

  /// The pod's infra container, its state refreshed from conmon's exit file.
  public func infraContainer(_ sandboxID: String) -> ContainerRecord? {
    guard var record = infraContainers[sandboxID] else { return nil }
    let exitFile = "\(exitDirectory)/\(record.id)"
    if record.state == .running, access(exitFile, F_OK) == 0, let text = try? String(contentsOfFile: exitFile, encoding: .utf8) {
      record.state = .exited
      record.exitCode = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
      record.finishedAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
      infraContainers[sandboxID] = record
      try? saveInfra(record)
    }
    return record
  }

  /// The infra container with this ID (not a sandbox ID), refreshed as above.
  public func infraContainer(id: String) -> ContainerRecord? {
    guard let sandboxID = infraContainers.first(where: { $0.value.id == id })?.key else { return nil }
    return infraContainer(sandboxID)
  }

  /// Creates and starts the pod's infra container from `image` (the pause
  /// image). On failure nothing of it is left behind.
  public func startInfra(sandbox: SandboxRecord, image: ContainerImage) async throws -> ContainerRecord {
    if let existing = infraContainers[sandbox.id] { return existing }
    let id = SandboxManager.newID()
    let layerDirectory = "\(layersDirectory)/\(id)"
    let bundle = "\(bundlesDirectory)/\(id)"
    let name = "k8s_POD_\(sandbox.spec.name)_\(sandbox.spec.namespace)_\(sandbox.spec.uid)_\(sandbox.spec.attempt)"
    let handler = try runtimeHandler(sandbox.spec.runtimeHandler)
    let runtime = OCIRuntimeCommand(path: handler.path, root: handler.root)
    do {
      for dir in ["\(layerDirectory)/upper", "\(layerDirectory)/work", "\(layerDirectory)/merged", bundle] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      }
      try Self.mountRootfs(image: image, layerDirectory: layerDirectory, sandbox: sandbox)
      var spec = ContainerSpec(
        name: "POD", attempt: sandbox.spec.attempt, runAsUser: sandbox.spec.security.runAsUser,
        runAsGroup: sandbox.spec.security.runAsUser == nil ? nil : sandbox.spec.security.runAsGroup)
      spec.security.supplementalGroupsPolicy = .strict
      let user = try ContainerUser.resolve(spec: spec, imageUser: image.user, rootfs: "\(layerDirectory)/merged")
      let (runtimeSpec, notes) = try Self.infraSpec(
        config: config, sandbox: sandbox, image: image, user: user, rootfs: "\(layerDirectory)/merged", id: id)
      for note in notes { logger.debug("\(note)", metadata: ["sandbox": "\(sandbox.id)"]) }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      try encoder.encode(runtimeSpec).write(to: URL(fileURLWithPath: "\(bundle)/config.json"))
      let pid = try await ConmonLauncher.create(
        .init(
          conmon: try conmonPath(), runtime: handler.path, runtimeRoot: handler.root, id: id, name: name,
          bundle: bundle, logPath: "\(bundle)/infra.log", exitDirectory: exitDirectory,
          socketDirectory: socketDirectory, terminal: false, stdin: false, logSizeMax: config.runtime.logSizeMax,
          systemdCgroup: config.runtime.cgroupManager == "systemd"))
      let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
      var record = ContainerRecord(
        id: id, sandboxID: sandbox.id, runtimeHandler: sandbox.spec.runtimeHandler, spec: spec, image: image,
        state: .created, createdAt: now, startedAt: 0, finishedAt: 0, exitCode: 0, reason: "", message: "", pid: pid,
        logPath: "\(bundle)/infra.log", bundle: bundle, layerDirectory: layerDirectory, uid: user.uid, gid: user.gid,
        additionalGids: user.additionalGids, pidStartTime: ProcessHandle.startTime(of: pid) ?? 0)
      infraContainers[sandbox.id] = record
      try saveInfra(record)
      try await runtime.start(id, pid: pid)
      record.state = .running
      record.startedAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
      infraContainers[sandbox.id] = record
      try saveInfra(record)
      logger.info("Started infra container", metadata: ["sandbox": "\(sandbox.id)", "id": "\(id)", "pid": "\(pid)"])
      return record
    } catch {
      await runtime.delete(id)
      cleanupFiles(id: id, layerDirectory: layerDirectory, bundle: bundle)
      unlink("\(exitDirectory)/\(id)")
      unlink(infraRecordPath(id))
      infraContainers[sandbox.id] = nil
      throw error
    }
  }

  /// Kills the pod's infra container (SIGKILL: pause may not have installed
  /// its SIGTERM handler yet) and waits for conmon to see it exit.
  public func stopInfra(_ sandboxID: String) async {
    guard let record = infraContainer(sandboxID), record.state != .exited else { return }
    let process = record.state == .running ? ProcessHandle(pid: record.pid, startTime: record.pidStartTime) : nil
    if let handler = try? runtimeHandler(record.runtimeHandler) {
      await Self.send("KILL", to: record.id, process: process, runtime: OCIRuntimeCommand(path: handler.path, root: handler.root))
    }
    _ = await waitForExit(process: process, seconds: 10, exited: { infraContainer(sandboxID)?.state == .exited })
    guard var stopped = infraContainers[sandboxID], stopped.state != .exited else { return }
    // Never started, or conmon is gone: nothing will write the exit file.
    stopped.state = .exited
    stopped.exitCode = 137
    stopped.finishedAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
    infraContainers[sandboxID] = stopped
    try? saveInfra(stopped)
  }

  /// Stops and deletes the pod's infra container: runtime state, rootfs,
  /// bundle, exit file and record. Fine when there is none.
  public func removeInfra(_ sandboxID: String) async {
    guard let record = infraContainers[sandboxID] else { return }
    await stopInfra(sandboxID)
    if let handler = try? runtimeHandler(record.runtimeHandler) {
      await OCIRuntimeCommand(path: handler.path, root: handler.root).delete(record.id)
    }
    cleanupFiles(id: record.id, layerDirectory: record.layerDirectory, bundle: record.bundle)
    unlink("\(exitDirectory)/\(record.id)")
    unlink(infraRecordPath(record.id))
    infraContainers[sandboxID] = nil
    logger.info("Removed infra container", metadata: ["sandbox": "\(sandboxID)", "id": "\(record.id)"])
  }

  private func infraRecordPath(_ id: String) -> String { "\(infraDirectory)/\(id).json" }

  func saveInfra(_ record: ContainerRecord) throws {
    let data = try JSONEncoder().encode(record)
    let path = infraRecordPath(record.id)
    do {
      try RecordFile.write(data, to: path)
    } catch {
      throw ContainerError.runtimeFailed("\(error)")
    }
  }

  /// The infra container's spec: `pause_command` (else the image's
  /// entrypoint and command) as PID 1 of a new PID namespace (the host's
  /// for a host-PID pod), in the pod's pinned namespaces, read-only, with
  /// no capabilities, no_new_privs and the pod's seccomp profile.
  static func infraSpec(
    config: CRIOConfiguration, sandbox: SandboxRecord, image: ContainerImage, user: ContainerUser, rootfs: String,
    id: String
  ) throws -> (RuntimeSpec, [String]) {
    let args = config.image.pauseCommand.isEmpty ? image.entrypoint + image.cmd : [config.image.pauseCommand]
    guard !args.isEmpty else {
      throw ContainerError.invalid("pause image \(image.name) names no command and pause_command is empty")
    }
    var namespaces: [RuntimeSpec.Namespace] = [.init(type: "mount")]
    if sandbox.spec.pidMode != .node { namespaces.append(.init(type: "pid")) }
    namespaces += podNamespaces(sandbox: sandbox)
    var notes: [String] = []
    let (oomScoreAdj, note) = OOMScore.clamp(infraOOMScoreAdj)
    if let note { notes.append(note) }
    var runtimeSpec = RuntimeSpec(
      process: .init(
        terminal: false, user: .init(uid: user.uid, gid: user.gid, additionalGids: user.additionalGids), args: args,
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + image.env, cwd: "/",
        capabilities: .init([]), noNewPrivileges: true),
      root: .init(path: rootfs, readonly: true),
      hostname: sandbox.pins.uts == nil ? nil : sandbox.hostname,
      mounts: baseMounts(sandbox: sandbox),
      linux: .init(
        namespaces: namespaces, cgroupsPath: try CgroupPaths.container(
          manager: config.runtime.cgroupManager, parent: sandbox.spec.cgroupParent, id: id), resources: RuntimeSpec.Resources(),
        maskedPaths: SecurityContext.defaultMaskedPaths, readonlyPaths: SecurityContext.defaultReadonlyPaths))
    runtimeSpec.process.oomScoreAdj = oomScoreAdj
    applyUserNamespace(sandbox: sandbox, to: &runtimeSpec)
    runtimeSpec.linux.seccomp = try SeccompProfile.filter(for: sandbox.spec.security.seccomp, capabilities: [])
    return (runtimeSpec, notes)
  }
}
