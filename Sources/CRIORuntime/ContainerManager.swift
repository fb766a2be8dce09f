import CRIOConfig
import CRIOSystem
import Foundation
import Glibc
import Logging
import OCI

/// Creates, starts, stops and removes containers: an overlay rootfs over the
/// image's layers, an OCI bundle whose spec joins the pod's namespaces, and
/// conmon running the OCI runtime. Records live under `[crio] root` so
/// containers (which outlive crio) are found again after a restart.
public actor ContainerManager {
  let config: CRIOConfiguration
  let logger: Logger
  let recordsDirectory: String
  let bundlesDirectory: String
  let exitDirectory: String
  let socketDirectory: String
  let layersDirectory: String
  /// Records of the pods' infra (pause) containers.
  let infraDirectory: String
  let journal: OperationJournal
  var containers: [String: ContainerRecord] = [:]
  var names: [String: String] = [:]
  /// Removed containers whose files are still being released (ContainerRemoval.swift).
  var removals: [String: PendingRemoval] = [:]
  let removingDirectory: String
  /// Infra containers by sandbox ID (see InfraContainer.swift); not containers the CRI lists.
  var infraContainers: [String: ContainerRecord] = [:]
  /// Image IDs (the image and its image volumes) of containers being
  /// created, by container ID: in use before the record exists.
  var creatingImages: [String: Set<String>] = [:]
  /// Told once about each container the OOM killer stopped: when its record
  /// first turns exited with an OOM kill (see `refreshed`), never again, also
  /// not after a restart finds the record already exited.
  let onOOMKill: @Sendable (ContainerRecord) -> Void

  public init(
    config: CRIOConfiguration, logger: Logger, onOOMKill: @escaping @Sendable (ContainerRecord) -> Void = { _ in }
  ) async throws {
    self.config = config
    self.logger = logger
    self.onOOMKill = onOOMKill
    recordsDirectory = "\(config.root)/crio/containers"
    bundlesDirectory = "\(config.runroot)/crio/containers"
    exitDirectory = "\(config.runroot)/crio/exits"
    socketDirectory = "\(config.runroot)/crio/attach"
    layersDirectory = "\(config.root)/overlay-containers"
    infraDirectory = "\(config.root)/crio/infra-containers"
    journal = OperationJournal(root: config.root)
    try journal.prepare()
    removingDirectory = "\(config.root)/crio/removing-containers"
    for dir in [recordsDirectory, bundlesDirectory, exitDirectory, socketDirectory, layersDirectory, infraDirectory, removingDirectory] {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    // What a write cut short by a crash left (the records themselves are whole: written, then renamed).
    RecordFile.removeLeftovers(in: recordsDirectory)
    RecordFile.removeLeftovers(in: infraDirectory)
    let files = (try? FileManager.default.contentsOfDirectory(atPath: recordsDirectory)) ?? []
    for file in files where file.hasSuffix(".json") {
      guard let data = FileManager.default.contents(atPath: "\(recordsDirectory)/\(file)"),
            let record = try? JSONDecoder().decode(ContainerRecord.self, from: data)
      else { continue }
      containers[record.id] = record
      names[Self.reservedName(record.spec, sandboxID: record.sandboxID)] = record.id
    }
    for file in (try? FileManager.default.contentsOfDirectory(atPath: infraDirectory)) ?? [] where file.hasSuffix(".json") {
      guard let data = FileManager.default.contents(atPath: "\(infraDirectory)/\(file)"),
            let record = try? JSONDecoder().decode(ContainerRecord.self, from: data)
      else { continue }
      infraContainers[record.sandboxID] = record
    }
    resumeRemovals()
  }

  static func reservedName(_ spec: ContainerSpec, sandboxID: String) -> String {
    "k8s_\(spec.name)_\(sandboxID)_\(spec.attempt)"
  }

  // MARK: queries

  public func find(_ idOrPrefix: String) throws -> ContainerRecord? {
    guard !idOrPrefix.isEmpty else { return nil }
    let record = containers[idOrPrefix] ?? {
      let matches = containers.values.filter { $0.id.hasPrefix(idOrPrefix) }
      return matches.count == 1 ? matches[0] : nil
    }()
    guard let record else { return nil }
    return refreshed(record)
  }

  public func list() -> [ContainerRecord] {
    containers.values.map(refreshed).sorted { $0.createdAt < $1.createdAt }
  }

  public func inSandbox(_ sandboxID: String) -> [ContainerRecord] {
    // Only the pod's containers are refreshed (each an exit file read).
    containers.values.filter { $0.sandboxID == sandboxID }.map(refreshed).sorted { $0.createdAt < $1.createdAt }
  }

  /// Image IDs some container uses (for RemoveImage): its image, its image
  /// volumes, also while it is being created. Removed containers whose
  /// rootfs is still being released count until it is.
  public func imagesInUse() async -> Set<String> {
    Set(await imageUsers().keys)
  }

  /// Who uses each image in use, for a clear `RemoveImage` error: image ID
  /// to "container <id>", "an image volume of container <id>", "the infra
  /// container of pod <id>" or "container <id> being created".
  public func imageUsers() async -> [String: String] {
    // A removed container's rootfs stays mounted on the image's layers until released.
    await settleRemovals()
    var users: [String: String] = [:]
    for record in containers.values.sorted(by: { $0.createdAt < $1.createdAt }) {
      users[record.image.id] = users[record.image.id] ?? "container \(record.id)"
      for volume in record.spec.mounts.compactMap(\.image) {
        users[volume.id] = users[volume.id] ?? "an image volume of container \(record.id)"
      }
    }
    for record in infraContainers.values {
      users[record.image.id] = users[record.image.id] ?? "the infra container of pod \(record.sandboxID)"
    }
    for (id, images) in creatingImages {
      for image in images { users[image] = users[image] ?? "container \(id) being created" }
    }
    return users
  }

  /// A record updated from conmon's exit file.
  func refreshed(_ record: ContainerRecord) -> ContainerRecord {
    guard record.state != .exited else { return record }
    let exitFile = "\(exitDirectory)/\(record.id)"
    // The usual answer (still running) without Foundation building an error for the missing file.
    guard access(exitFile, F_OK) == 0, let text = try? String(contentsOfFile: exitFile, encoding: .utf8) else { return record }
    var updated = record
    updated.state = .exited
    updated.exitCode = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    if let attributes = try? FileManager.default.attributesOfItem(atPath: exitFile),
       let date = attributes[.modificationDate] as? Date
    {
      updated.finishedAt = Int64(date.timeIntervalSince1970 * 1_000_000_000)
    }
    updated.reason = updated.exitCode == 0 ? "Completed" : "Error"
    if OOMDetection.killed(bundle: record.bundle) {
      updated.oomKilled = true
      updated.reason = "OOMKilled"
    }
    containers[record.id] = updated
    try? save(updated)
    // The one transition to exited: a record read back exited is returned above.
    if updated.oomKilled { onOOMKill(updated) }
    return updated
  }

  // MARK: life cycle

  public func create(sandbox: SandboxRecord, spec: ContainerSpec, image: ContainerImage) async throws -> ContainerRecord {
    guard !spec.name.isEmpty else { throw ContainerError.invalid("ContainerConfig.metadata.name is required") }
    guard sandbox.state == .ready else { throw ContainerError.sandboxNotReady(sandbox.id) }
    if let infra = infraContainer(sandbox.id), infra.state != .running {
      throw ContainerError.sandboxNotReady(sandbox.id)
    }
    try SecurityContext.validate(spec, sandbox: sandbox.spec)
    let pidNamespace = try pidNamespace(spec: spec, sandbox: sandbox)
    let reserved = Self.reservedName(spec, sandboxID: sandbox.id)
    if let existing = names[reserved] { throw ContainerError.nameInUse(name: reserved, id: existing) }
    let args = Self.arguments(spec: spec, image: image)
    guard !args.isEmpty else { throw ContainerError.invalid("no command: neither the container nor the image \(image.name) names one") }
    var spec = spec.withEffectiveSwap(.current)
    for mount in spec.mounts {
      if let image = mount.image { try ImageVolumes.validate(subPath: image.subPath, image: image.name) }
    }
    if sandbox.spec.userNamespace != nil {
      if let mount = spec.mounts.first(where: { $0.image == nil && $0.propagation == .bidirectional }) {
        // runc makes the container's mount namespace inside the pod's user
        // namespace: a less privileged one, where the host's shared mounts
        // are slaves, so what the container mounts never reaches the host.
        throw ContainerError.invalid(
          "mount \(mount.containerPath): propagation \(mount.propagation.criName) is not supported in a pod with a user namespace: "
            + "mounts made in a mount namespace owned by the pod's user namespace do not propagate back to the host")
      }
    }
    let id = SandboxManager.newID()
    // In use for RemoveImage from here (the await below lets it run) until the record exists.
    creatingImages[id] = Set([image.id] + spec.mounts.compactMap(\.image?.id))
    defer { creatingImages[id] = nil }
    let binds = spec.mounts.filter { $0.image == nil }
    if !binds.isEmpty {
      // The host's mount table is long on a busy node: read only when there is something to check.
      try BindMounts.validate(
        binds, table: MountInfoEntry.current(),
        recursiveReadOnlySupported: await supportsRecursiveReadOnly(handler: sandbox.spec.runtimeHandler))
    }
    names[reserved] = id
    var phases = PhaseTimes()
    let layerDirectory = "\(layersDirectory)/\(id)"
    let bundle = "\(bundlesDirectory)/\(id)"
    let ticket: OperationJournal.Ticket
    do {
      ticket = try journal.begin(.createContainer, id: id, sandboxID: sandbox.id)
    } catch {
      names[reserved] = nil
      throw ContainerError.runtimeFailed("\(error)")
    }
    defer { journal.end(ticket) }
    do {
      for dir in ["\(layerDirectory)/upper", "\(layerDirectory)/work", "\(layerDirectory)/merged", bundle] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      }
      // A missing bind mount source becomes a directory, as CRI-O does.
      for mount in spec.mounts where mount.image == nil && !FileManager.default.fileExists(atPath: mount.hostPath) {
        try FileManager.default.createDirectory(atPath: mount.hostPath, withIntermediateDirectories: true)
      }
      try Self.mountRootfs(image: image, layerDirectory: layerDirectory, sandbox: sandbox)
      spec.mounts = try ImageVolumes.mount(
        spec.mounts, under: ImageVolumes.directory(layerDirectory: layerDirectory),
        userns: sandbox.spec.userNamespace == nil ? nil : sandbox.pins.user)
      Failpoint.containerCreateAfterRootfs.hit()
      phases.mark("rootfs")
      let user = try ContainerUser.resolve(spec: spec, imageUser: image.user, rootfs: "\(layerDirectory)/merged")
      if let userns = sandbox.spec.userNamespace { try Self.checkMapped(user, in: userns) }
      let logPath = sandbox.spec.logDirectory.isEmpty || spec.logPath.isEmpty
        ? "\(bundle)/container.log" : "\(sandbox.spec.logDirectory)/\(spec.logPath)"
      try FileManager.default.createDirectory(
        atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      let (builtSpec, notes) = try Self.buildSpec(
        config: config, sandbox: sandbox, spec: spec, image: image, args: args, user: user,
        rootfs: "\(layerDirectory)/merged", id: id, pidNamespace: pidNamespace)
      var runtimeSpec = builtSpec
      let volumeSources = try Self.idmapVolumes(spec.mounts, layerDirectory: layerDirectory, sandbox: sandbox)
      for index in runtimeSpec.mounts.indices {
        if let source = volumeSources[runtimeSpec.mounts[index].destination],
           spec.mounts.contains(where: { $0.containerPath == runtimeSpec.mounts[index].destination && $0.hostPath == runtimeSpec.mounts[index].source })
        {
          runtimeSpec.mounts[index].source = source
        }
      }
      for note in notes.messages {
        logger.info("\(note)", metadata: ["container": "\(reserved)"])
      }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      try encoder.encode(runtimeSpec).write(to: URL(fileURLWithPath: "\(bundle)/config.json"))
      phases.mark("spec")
      let handler = try runtimeHandler(sandbox.spec.runtimeHandler)
      let pid = try await ConmonLauncher.create(
        .init(
          conmon: try conmonPath(), runtime: handler.path, runtimeRoot: handler.root, id: id, name: reserved,
          bundle: bundle, logPath: logPath, exitDirectory: exitDirectory, socketDirectory: socketDirectory,
          terminal: spec.tty, stdin: spec.stdin, logSizeMax: config.runtime.logSizeMax,
          leaveStdinOpen: !(spec.stdinOnce ?? false), systemdCgroup: config.runtime.cgroupManager == "systemd"))
      Failpoint.containerCreateAfterConmon.hit()
      let record = ContainerRecord(
        id: id, sandboxID: sandbox.id, runtimeHandler: sandbox.spec.runtimeHandler, spec: spec, image: image, state: .created,
        createdAt: Int64(Date().timeIntervalSince1970 * 1_000_000_000), startedAt: 0, finishedAt: 0, exitCode: 0,
        reason: "", message: "", pid: pid, logPath: logPath, bundle: bundle, layerDirectory: layerDirectory,
        uid: user.uid, gid: user.gid, additionalGids: user.additionalGids,
        fullName: ContainerRecord.fullName(spec, pod: sandbox.spec),
        pidStartTime: ProcessHandle.startTime(of: pid) ?? 0)
      phases.mark("conmon_runtime_create")
      containers[id] = record
      try save(record)
      phases.mark("record")
      Failpoint.containerCreateAfterRecord.hit()
      logger.info("Created container", metadata: ["id": "\(id)", "name": "\(reserved)"])
      logger.debug("Create phases", metadata: ["id": "\(id)", "phases": "\(phases.summary)"])
      return record
    } catch {
      if let handler = try? runtimeHandler(sandbox.spec.runtimeHandler) {
        await OCIRuntimeCommand(path: handler.path, root: handler.root).delete(id)
      }
      cleanupFiles(id: id, layerDirectory: layerDirectory, bundle: bundle)
      unlink("\(exitDirectory)/\(id)")
      unlink("\(recordsDirectory)/\(id).json")
      containers[id] = nil
      names[reserved] = nil
      throw error
    }
  }

  public func start(_ idOrPrefix: String) async throws {
    guard var record = try find(idOrPrefix) else { throw ContainerError.notFound(idOrPrefix) }
    guard record.state == .created else {
      throw ContainerError.failedPrecondition("container \(record.id) is \(record.state.rawValue), not created")
    }
    let handler = try runtimeHandler(handlerName(record))
    try await OCIRuntimeCommand(path: handler.path, root: handler.root).start(record.id, pid: record.pid)
    Failpoint.containerStartAfterRuntime.hit()
    record.state = .running
    record.startedAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
    containers[record.id] = record
    try save(record)
  }

  func cleanupFiles(id: String, layerDirectory: String, bundle: String) {
    if !Self.removeFiles(id: id, layerDirectory: layerDirectory, bundle: bundle, socketDirectory: socketDirectory) {
      logger.error("A mount is still in place: not removing the layer directory", metadata: ["directory": "\(layerDirectory)"])
    }
  }

  /// Unmounts everything mounted under the layer directory (the rootfs, image
  /// volumes, a user-namespace pod's idmapped layers and volumes), deepest
  /// first, and deletes it (only when nothing is mounted there any more: a
  /// recursive delete must never reach into an image layer or a host
  /// directory), the bundle and conmon's socket links. False when something
  /// stayed mounted.
  @discardableResult
  static func removeFiles(id: String, layerDirectory: String, bundle: String, socketDirectory: String) -> Bool {
    DirectoryMounts.unmountAll(under: layerDirectory)
    let stillMounted = MountInfoEntry.current().contains {
      $0.mountPoint == layerDirectory || $0.mountPoint.hasPrefix(layerDirectory + "/")
    }
    if !stillMounted { try? FileManager.default.removeItem(atPath: layerDirectory) }
    try? FileManager.default.removeItem(atPath: bundle)
    // conmon's link from the socket directory to the bundle (one character
    // shorter when the full path would be exactly as long as a socket path may be).
    unlink("\(socketDirectory)/\(id)")
    unlink("\(socketDirectory)/\(id.dropLast())")
    return !stillMounted
  }

  // MARK: pieces

  func handlerName(_ record: ContainerRecord) -> String { record.runtimeHandler }

  func runtimeHandler(_ name: String) throws -> (path: String, root: String) {
    let handlerName = name.isEmpty ? config.runtime.defaultRuntime : name
    guard let handler = config.runtime.runtimes[handlerName] else {
      throw ContainerError.invalid("runtime handler \"\(handlerName)\" is not configured")
    }
    guard let path = ExecutableLookup.find(handler.runtimePath.isEmpty ? handlerName : handler.runtimePath) else {
      throw ContainerError.runtimeFailed("OCI runtime \(handlerName) not found")
    }
    return (path, handler.effectiveRuntimeRoot(name: handlerName))
  }

  func conmonPath() throws -> String {
    guard let path = ExecutableLookup.find(config.runtime.conmon.isEmpty ? "conmon" : config.runtime.conmon) else {
      throw ContainerError.runtimeFailed("conmon not found")
    }
    return path
  }

  func save(_ record: ContainerRecord) throws {
    try writeRecord(record, to: recordPath(record.id))
  }

  /// Entrypoint and command as Kubernetes combines them with the image's.
  static func arguments(spec: ContainerSpec, image: ContainerImage) -> [String] {
    if !spec.command.isEmpty { return spec.command + spec.args }
    return image.entrypoint + (spec.args.isEmpty ? image.cmd : spec.args)
  }

  /// The PID namespace a new container joins: the infra container's for a
  /// pod that shares one, a target container's, its own, or the host's (nil).
  private func pidNamespace(spec: ContainerSpec, sandbox: SandboxRecord) throws -> RuntimeSpec.Namespace? {
    switch spec.security.pidMode ?? sandbox.spec.pidMode {
    case .node:
      return nil
    case .container:
      return .init(type: "pid")
    case .pod:
      if let infra = infraContainer(sandbox.id), infra.state == .running {
        return .init(type: "pid", path: "/proc/\(infra.pid)/ns/pid")
      }
      logger.warning(
        "Pod shares its PID namespace but has no running infra container: the container gets its own",
        metadata: ["sandbox": "\(sandbox.id)"])
      return .init(type: "pid")
    case .target:
      guard let target = try find(spec.security.pidTargetID), target.sandboxID == sandbox.id,
            target.state == .running
      else {
        throw ContainerError.invalid(
          "PID namespace target \(spec.security.pidTargetID) is not a running container of pod \(sandbox.id)")
      }
      return .init(type: "pid", path: "/proc/\(target.pid)/ns/pid")
    }
  }

  /// The mounts every container of the pod starts from.
  static func baseMounts(sandbox: SandboxRecord) -> [RuntimeSpec.Mount] {
    [
      .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
      .init(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
      .init(destination: "/dev/pts", type: "devpts", source: "devpts",
            options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
      .init(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
      sysMount(sandbox: sandbox),
      .init(destination: "/dev/shm", type: "bind", source: sandbox.shmPath ?? "/dev/shm", options: ["rbind", "rw"]),
    ]
  }

  /// `/sys`: a new sysfs, except in a pod with its own user namespace on the
  /// host's network, where the kernel refuses sysfs (its network namespace
  /// is not owned by the user namespace): the host's `/sys`, bound read-only
  /// (as CRI-O does).
  static func sysMount(sandbox: SandboxRecord) -> RuntimeSpec.Mount {
    if sandbox.pins.user != nil && sandbox.pins.network == nil {
      return .init(destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
    }
    return .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"])
  }

  /// The pod's pinned network, IPC and UTS namespaces (and user namespace).
  static func podNamespaces(sandbox: SandboxRecord) -> [RuntimeSpec.Namespace] {
    var namespaces: [RuntimeSpec.Namespace] = []
    if let user = sandbox.pins.user { namespaces.append(.init(type: "user", path: user)) }
    if let net = sandbox.pins.network { namespaces.append(.init(type: "network", path: net)) }
    if let ipc = sandbox.pins.ipc { namespaces.append(.init(type: "ipc", path: ipc)) }
    if let uts = sandbox.pins.uts { namespaces.append(.init(type: "uts", path: uts)) }
    return namespaces
  }

  /// Puts the container in the pod's user namespace: runc joins the pinned
  /// namespace and is told its mappings (it requires them).
  static func applyUserNamespace(sandbox: SandboxRecord, to spec: inout RuntimeSpec) {
    guard let userns = sandbox.spec.userNamespace, sandbox.pins.user != nil else { return }
    spec.linux.uidMappings = userns.uids.map { .init(containerID: $0.containerID, hostID: $0.hostID, size: $0.length) }
    spec.linux.gidMappings = userns.gids.map { .init(containerID: $0.containerID, hostID: $0.hostID, size: $0.length) }
  }

  /// Refuses a user the pod's user namespace cannot represent (runc would
  /// fail with a bare EINVAL from setresuid or setgroups).
  static func checkMapped(_ user: ContainerUser, in userns: SandboxSpec.UserNamespace) throws {
    guard userns.hostUID(user.uid) != nil else {
      throw ContainerError.invalid("user namespace: the container's UID \(user.uid) is not mapped in the pod's user namespace")
    }
    for gid in [user.gid] + user.additionalGids where userns.hostGID(gid) == nil {
      throw ContainerError.invalid("user namespace: the container's GID \(gid) is not mapped in the pod's user namespace")
    }
  }

  /// Mounts a container's overlay rootfs on `<layerDirectory>/merged`: over
  /// idmapped lower layers for a pod in a user namespace (so the image's
  /// files owned by 0 are owned by the container's root), else as is.
  static func mountRootfs(image: ContainerImage, layerDirectory: String, sandbox: SandboxRecord) throws {
    if let userns = sandbox.spec.userNamespace, let user = sandbox.pins.user {
      try UserNamespaceSupport.mountOverlay(
        lowerDirectories: image.layers.reversed(), layerDirectory: layerDirectory, userns: user,
        rootUID: userns.rootUID, rootGID: userns.rootGID)
    } else {
      try OverlayMount.mount(
        lowerDirectories: image.layers.reversed(), upper: "\(layerDirectory)/upper", work: "\(layerDirectory)/work",
        target: "\(layerDirectory)/merged")
    }
  }

  /// Idmapped copies of the container's bind mounts (volumes) for a pod in
  /// a user namespace, under `<layerDirectory>/volumes/<n>`, so files owned
  /// by 0 on the host are owned by the container's root (runc 1.1 cannot
  /// make idmapped mounts itself). A copy is private, or a slave of the
  /// host's mount for host-to-container propagation (what the host mounts
  /// there later shows in the container, not idmapped: it is a new mount).
  /// Image volumes are skipped: their overlay is over idmapped layers
  /// already (`ImageVolumes.mount`). Returns the source to use for each
  /// container path.
  static func idmapVolumes(
    _ mounts: [ContainerSpec.Mount], layerDirectory: String, sandbox: SandboxRecord
  ) throws -> [String: String] {
    guard sandbox.spec.userNamespace != nil, let user = sandbox.pins.user, !mounts.isEmpty else { return [:] }
    let directory = "\(layerDirectory)/volumes"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var sources: [String: String] = [:]
    for (index, mount) in mounts.enumerated() where mount.image == nil {
      let target = "\(directory)/\(index)"
      var isDirectory: ObjCBool = false
      _ = FileManager.default.fileExists(atPath: mount.hostPath, isDirectory: &isDirectory)
      if isDirectory.boolValue {
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
      } else {
        guard FileManager.default.createFile(atPath: target, contents: nil) else {
          throw ContainerError.runtimeFailed("cannot create \(target)")
        }
      }
      do {
        try IDMappedMount.mount(
          source: mount.hostPath, target: target, userns: user, recursive: true,
          propagation: mount.propagation == .hostToContainer ? .slave : .private)
      } catch {
        throw ContainerError.runtimeFailed("volume \(mount.containerPath): \(error)")
      }
      sources[mount.containerPath] = target
    }
    return sources
  }

  /// The OCI runtime spec of a container: its process, rootfs, mounts, the
  /// pod's namespaces, cgroup resources, then its security context.
  static func buildSpec(
    config: CRIOConfiguration, sandbox: SandboxRecord, spec: ContainerSpec, image: ContainerImage, args: [String],
    user: ContainerUser, rootfs: String, id: String, pidNamespace: RuntimeSpec.Namespace?,
    bounding: Set<String> = Capabilities.boundingSet, cgroups: CgroupSupport = .current
  ) throws -> (RuntimeSpec, SecurityContext.Notes) {
    var env: [String] = []
    var seen: [String: Int] = [:]
    for entry in ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + image.env
      + ["HOSTNAME=\(sandbox.hostname)"] + spec.env
    {
      let key = String(entry.split(separator: "=", maxSplits: 1).first ?? "")
      if let index = seen[key] { env[index] = entry } else { seen[key] = env.count; env.append(entry) }
    }
    let cwd = !spec.workingDir.isEmpty ? spec.workingDir : (image.workingDir.isEmpty ? "/" : image.workingDir)
    var mounts = baseMounts(sandbox: sandbox) + [
      .init(destination: "/etc/hostname", type: "bind", source: sandbox.hostnamePath, options: ["rbind", "ro"]),
      .init(destination: "/etc/hosts", type: "bind", source: sandbox.hostsPath, options: ["rbind", "rw"]),
      .init(destination: "/etc/resolv.conf", type: "bind", source: sandbox.resolvConfPath, options: ["rbind", "ro"]),
    ]
    mounts += spec.mounts.map(BindMounts.ociMount)
    var namespaces: [RuntimeSpec.Namespace] = [.init(type: "mount")]
    if let pidNamespace { namespaces.append(pidNamespace) }
    namespaces += podNamespaces(sandbox: sandbox)
    let (resources, skipped) = try Self.resources(spec: spec, pidsLimit: config.runtime.pidsLimit, cgroups: cgroups)
    var runtimeSpec = RuntimeSpec(
      process: .init(
        terminal: spec.tty, user: .init(uid: user.uid, gid: user.gid, additionalGids: user.additionalGids),
        args: args, env: env, cwd: cwd, capabilities: nil, noNewPrivileges: false),
      root: .init(path: rootfs, readonly: spec.readonlyRootfs),
      hostname: sandbox.pins.uts == nil ? nil : sandbox.hostname,
      mounts: mounts,
      linux: .init(
        namespaces: namespaces,
        cgroupsPath: try CgroupPaths.container(
          manager: config.runtime.cgroupManager, parent: sandbox.spec.cgroupParent, id: id),
        resources: resources, maskedPaths: nil,
        readonlyPaths: nil))
    runtimeSpec.annotations = spec.annotations
    applyUserNamespace(sandbox: sandbox, to: &runtimeSpec)
    runtimeSpec.linux.rootfsPropagation = BindMounts.rootfsPropagation(spec.mounts)
    var notes = try SecurityContext.apply(
      spec.security, oomScoreAdj: spec.oomScoreAdj, to: &runtimeSpec,
      defaultCapabilities: config.runtime.defaultCapabilities, bounding: bounding)
    notes.messages += skipped.map { "Resource not applied on this host: \($0)" }
    return (runtimeSpec, notes)
  }
}

extension ContainerManager {
  /// The output of a command run in a container.
  public struct ExecResult: Sendable {
    public var stdout: Data
    public var stderr: Data
    public var exitCode: Int32
  }

  /// Runs `command` in the running container and waits for it: `runc exec`
  /// with a process spec derived from the container's. On `timeout` (> 0)
  /// the exec'd process is killed, reaped, and the call fails.
  public func execSync(_ idOrPrefix: String, command: [String], timeout: Int64) async throws -> ExecResult {
    guard let record = try find(idOrPrefix) else { throw ContainerError.notFound(idOrPrefix) }
    guard record.state == .running else {
      throw ContainerError.failedPrecondition("container \(record.id) is not running")
    }
    guard !command.isEmpty else { throw ContainerError.invalid("ExecSync needs a command") }
    let handler = try runtimeHandler(handlerName(record))
    let specData = try Data(contentsOf: URL(fileURLWithPath: "\(record.bundle)/config.json"))
    var process = try JSONDecoder().decode(RuntimeSpec.self, from: specData).process
    process.args = command
    process.terminal = false
    let execID = UUID().uuidString.prefix(8)
    let processFile = "\(record.bundle)/exec-\(execID).json"
    let pidFile = "\(record.bundle)/exec-\(execID).pid"
    try JSONEncoder().encode(process).write(to: URL(fileURLWithPath: processFile))
    defer {
      unlink(processFile)
      unlink(pidFile)
    }
    return try await Self.runExec(
      runtime: handler.path, root: handler.root, id: record.id, processFile: processFile, pidFile: pidFile,
      timeout: timeout)
  }

  private static func runExec(
    runtime: String, root: String, id: String, processFile: String, pidFile: String, timeout: Int64
  ) async throws -> ExecResult {
    let result = try await ExecSyncRunner.run(
      runtime: runtime, arguments: ["--root", root, "exec", "--process", processFile, "--pid-file", pidFile, id],
      pidFile: pidFile, timeout: timeout)
    return ExecResult(stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode)
  }
}
