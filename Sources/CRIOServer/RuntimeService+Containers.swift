import CRIAPI
import CRIOImage
import CRIORuntime
import Foundation
import GRPCCore
import OCI

/// Container RPCs.
extension RuntimeService {
  public func createContainer(
    request: Runtime_V1_CreateContainerRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_CreateContainerResponse {
    guard let sandbox = try await sandboxes.find(request.podSandboxID), !request.podSandboxID.isEmpty else {
      throw CRIError.notFound("pod sandbox \(request.podSandboxID) not found")
    }
    let config = request.config
    let image = try await resolveImage(config.image.image)
    let security = config.linux.securityContext
    var mounts: [ContainerSpec.Mount] = []
    for mount in config.mounts {
      let volume = mount.hasImage && !mount.image.image.isEmpty ? try await resolveImageVolume(mount) : nil
      mounts.append(try Self.mount(mount, image: volume))
    }
    var spec = ContainerSpec(
      name: config.metadata.name, attempt: config.metadata.attempt, command: config.command, args: config.args,
      workingDir: config.workingDir, env: config.envs.map { "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))" },
      labels: config.labels,
      annotations: config.annotations, logPath: config.logPath, tty: config.tty, stdin: config.stdin,
      mounts: mounts,
      runAsUser: security.hasRunAsUser ? security.runAsUser.value : nil,
      runAsGroup: security.hasRunAsGroup ? security.runAsGroup.value : nil, runAsUsername: security.runAsUsername,
      readonlyRootfs: security.readonlyRootfs, memoryLimit: config.linux.resources.memoryLimitInBytes,
      cpuShares: config.linux.resources.cpuShares, cpuQuota: config.linux.resources.cpuQuota,
      cpuPeriod: config.linux.resources.cpuPeriod, cpusetCpus: config.linux.resources.cpusetCpus,
      oomScoreAdj: config.linux.resources.oomScoreAdj, security: try Self.security(from: security))
    spec.stdinOnce = config.stdinOnce
    let resources = config.linux.resources
    spec.memorySwapLimit = resources.memorySwapLimitInBytes
    spec.cpusetMems = resources.cpusetMems
    spec.hugepageLimits = resources.hugepageLimits.map { .init(pageSize: $0.pageSize, limit: $0.limit) }
    spec.unified = resources.unified
    let record = try await containers.create(sandbox: sandbox, spec: spec, image: image)
    events.note(.created(record))
    var response = Runtime_V1_CreateContainerResponse()
    response.containerID = record.id
    return response
  }

  public func startContainer(
    request: Runtime_V1_StartContainerRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_StartContainerResponse {
    let id = try await containers.find(request.containerID)?.id ?? request.containerID
    events.note(.starting(id: id))
    do {
      try await containers.start(id)
    } catch {
      events.note(.startFailed(id: id))
      throw error
    }
    events.note(.started(id: id))
    return Runtime_V1_StartContainerResponse()
  }

  public func stopContainer(
    request: Runtime_V1_StopContainerRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_StopContainerResponse {
    try await containers.stop(request.containerID, timeout: request.timeout)
    if let record = try await containers.find(request.containerID) { events.note(.mayHaveExited(id: record.id)) }
    return Runtime_V1_StopContainerResponse()
  }

  public func removeContainer(
    request: Runtime_V1_RemoveContainerRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_RemoveContainerResponse {
    let record = try await containers.find(request.containerID)
    try await containers.remove(request.containerID)
    if let record { events.note(.removed(record)) }
    return Runtime_V1_RemoveContainerResponse()
  }

  public func containerStatus(
    request: Runtime_V1_ContainerStatusRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ContainerStatusResponse {
    guard let record = try await containers.find(request.containerID) else {
      throw CRIError.notFound("container \(request.containerID) not found")
    }
    var response = Runtime_V1_ContainerStatusResponse()
    response.status = Self.criStatus(record)
    if request.verbose {
      response.info["info"] = VerboseInfo.container(record)
    }
    return response
  }

  /// A container's CRI status (also attached to container events).
  static func criStatus(_ record: ContainerRecord) -> Runtime_V1_ContainerStatus {
    var status = Runtime_V1_ContainerStatus()
    status.id = record.id
    status.metadata.name = record.spec.name
    status.metadata.attempt = record.spec.attempt
    status.state = Self.criState(record.state)
    status.createdAt = record.createdAt
    status.startedAt = record.startedAt
    status.finishedAt = record.finishedAt
    status.exitCode = record.exitCode
    status.image.image = record.image.name
    status.imageRef = record.image.ref
    status.imageID = record.image.id
    status.reason = record.reason
    status.message = record.message
    status.labels = record.spec.labels
    status.annotations = record.spec.annotations
    status.logPath = record.logPath
    status.mounts = record.spec.mounts.map(Self.criMount)
    status.resources.linux = Self.criResources(record.spec)
    status.user.linux.uid = Int64(record.uid)
    status.user.linux.gid = Int64(record.gid)
    status.user.linux.supplementalGroups = record.additionalGids.map(Int64.init)
    return status
  }

  public func listContainers(
    request: Runtime_V1_ListContainersRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ListContainersResponse {
    let filter = request.hasFilter ? request.filter : nil
    var response = Runtime_V1_ListContainersResponse()
    for record in await containers.list() {
      if let filter {
        if !filter.id.isEmpty && !record.id.hasPrefix(filter.id) { continue }
        if !filter.podSandboxID.isEmpty && !record.sandboxID.hasPrefix(filter.podSandboxID) { continue }
        if filter.hasState && filter.state.state != Self.criState(record.state) { continue }
        if !filter.labelSelector.allSatisfy({ record.spec.labels[$0.key] == $0.value }) { continue }
      }
      var container = Runtime_V1_Container()
      container.id = record.id
      container.podSandboxID = record.sandboxID
      container.metadata.name = record.spec.name
      container.metadata.attempt = record.spec.attempt
      container.image.image = record.image.name
      container.imageRef = record.image.ref
      container.imageID = record.image.id
      container.state = Self.criState(record.state)
      container.createdAt = record.createdAt
      container.labels = record.spec.labels
      container.annotations = record.spec.annotations
      response.containers.append(container)
    }
    return response
  }

  public func execSync(
    request: Runtime_V1_ExecSyncRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ExecSyncResponse {
    // A client that gives up cancels the command: it must not run on unobserved.
    let containers = self.containers
    let exec = Task { try await containers.execSync(request.containerID, command: request.cmd, timeout: request.timeout) }
    let result = try await withRPCCancellationHandler {
      try await exec.value
    } onCancelRPC: {
      exec.cancel()
    }
    var response = Runtime_V1_ExecSyncResponse()
    response.stdout = result.stdout
    response.stderr = result.stderr
    response.exitCode = result.exitCode
    return response
  }

  /// The CRI's container security context in crio's terms.
  static func security(from context: Runtime_V1_LinuxContainerSecurityContext) throws -> ContainerSecurity {
    var security = ContainerSecurity(
      privileged: context.privileged, addCapabilities: context.capabilities.addCapabilities,
      dropCapabilities: context.capabilities.dropCapabilities, noNewPrivileges: context.noNewPrivs,
      maskedPaths: context.maskedPaths, readonlyPaths: context.readonlyPaths,
      supplementalGroups: context.supplementalGroups,
      supplementalGroupsPolicy: context.supplementalGroupsPolicy == .strict ? .strict : .merge,
      seccomp: try seccompProfile(context.hasSeccomp ? context.seccomp : nil, path: context.seccompProfilePath),
      apparmorProfile: apparmorProfile(context.hasApparmor ? context.apparmor : nil, name: context.apparmorProfile),
      selinuxLabel: context.hasSelinuxOptions ? selinuxLabel(context.selinuxOptions) : "")
    if context.hasNamespaceOptions {
      security.pidMode = mode(context.namespaceOptions.pid)
      security.pidTargetID = context.namespaceOptions.targetID
    }
    return security
  }

  /// A seccomp request: the `seccomp` message when set, else the deprecated path string.
  static func seccompProfile(_ profile: Runtime_V1_SecurityProfile?, path: String) throws -> SecurityProfile? {
    guard let profile else { return try SecurityProfile.parse(path: path) }
    switch profile.profileType {
    case .runtimeDefault: return .runtimeDefault
    case .unconfined: return .unconfined
    case .localhost: return try SecurityProfile.localhost(ref: profile.localhostRef)
    case .UNRECOGNIZED(let value): throw CRIError.invalidArgument("unknown seccomp profile type \(value)")
    }
  }

  /// An AppArmor request, as a name for the log ("" when none).
  static func apparmorProfile(_ profile: Runtime_V1_SecurityProfile?, name: String) -> String {
    guard let profile else { return name }
    switch profile.profileType {
    case .runtimeDefault: return "runtime/default"
    case .unconfined: return "unconfined"
    case .localhost: return "localhost/\(profile.localhostRef)"
    case .UNRECOGNIZED(let value): return "unknown(\(value))"
    }
  }

  static func selinuxLabel(_ options: Runtime_V1_SELinuxOption) -> String {
    [options.user, options.role, options.type, options.level].contains { !$0.isEmpty }
      ? "\(options.user):\(options.role):\(options.type):\(options.level)" : ""
  }

  static func criState(_ state: ContainerRecord.State) -> Runtime_V1_ContainerState {
    switch state {
    case .created: .containerCreated
    case .running: .containerRunning
    case .exited: .containerExited
    }
  }

  /// The image an image volume names (KEP-4639). As CRI-O, crio does not
  /// pull it: the kubelet does, first, with the pod's pull secrets and pull
  /// policy, which a pull here would bypass.
  func resolveImageVolume(_ mount: Runtime_V1_Mount) async throws -> ContainerSpec.ImageVolume {
    let name = mount.image.image
    guard let record = await images.lookup(name) else {
      throw CRIError.notFound("image \(name) of the image volume at \(mount.containerPath) not found: pull it first")
    }
    return ContainerSpec.ImageVolume(
      name: name, id: record.id, layers: record.layers.map { images.layout.layerDiff(chainID: $0) },
      subPath: mount.imageSubPath)
  }

  /// The image a container names, with what the runtime needs from its config.
  func resolveImage(_ name: String) async throws -> ContainerImage {
    guard !name.isEmpty else { throw CRIError.invalidArgument("CreateContainer needs an image") }
    guard let record = await images.lookup(name) else {
      throw CRIError.notFound("image \(name) not found: pull it first")
    }
    let config = await images.readBlob(record.configDigest)
      .flatMap { try? JSONDecoder().decode(ImageConfiguration.self, from: $0) }
    let execution = config?.config
    return ContainerImage(
      id: record.id, name: name, ref: record.repoDigests.first ?? record.id,
      layers: record.layers.map { images.layout.layerDiff(chainID: $0) }, env: execution?.env ?? [],
      entrypoint: execution?.entrypoint ?? [], cmd: execution?.cmd ?? [], workingDir: execution?.workingDir ?? "",
      user: execution?.user ?? "", stopSignal: execution?.stopSignal ?? "")
  }
}
