import CRIAPI
import CRIONetwork
import CRIORuntime
import CRIOSystem
import Foundation
import GRPCCore

/// Pod sandbox RPCs.
extension RuntimeService {
  public func runPodSandbox(
    request: Runtime_V1_RunPodSandboxRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_RunPodSandboxResponse {
    let spec = try Self.spec(from: request.config, handler: request.runtimeHandler)
    // A request that can never run is refused at once, not after pulling the pause image.
    try sandboxes.check(spec)
    // The pause image is there before anything of the pod is made.
    let pause = containers.needsInfraContainer(spec) ? try await pauseImage() : nil
    let containers = self.containers
    let record = try await sandboxes.run(
      spec,
      infra: { record in
        guard let pause else { return }
        do {
          _ = try await containers.startInfra(sandbox: record, image: pause)
        } catch {
          await containers.removeInfra(record.id)
          throw error
        }
      },
      undoInfra: { record in await containers.removeInfra(record.id) })
    events.note(.sandboxCreated(id: record.id))
    var response = Runtime_V1_RunPodSandboxResponse()
    response.podSandboxID = record.id
    return response
  }

  /// The kubelet's node-wide network config: the pod CIDRs, handed to CNI
  /// plugins with the `ipRanges` capability (as containerd does; CRI-O
  /// ignores them).
  public func updateRuntimeConfig(
    request: Runtime_V1_UpdateRuntimeConfigRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_UpdateRuntimeConfigResponse {
    try await sandboxes.updatePodCIDRs(request.runtimeConfig.networkConfig.podCidr)
    return Runtime_V1_UpdateRuntimeConfigResponse()
  }

  public func stopPodSandbox(
    request: Runtime_V1_StopPodSandboxRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_StopPodSandboxResponse {
    guard !request.podSandboxID.isEmpty else { throw CRIError.invalidArgument("StopPodSandbox needs a pod_sandbox_id") }
    let sandbox = try await sandboxes.find(request.podSandboxID)
    let containers = self.containers
    let events = self.events
    try await sandboxes.stop(request.podSandboxID) { sandbox in
      // Whatever still runs in the pod is killed: the kubelet has stopped what it wanted to stop gracefully.
      for container in await containers.inSandbox(sandbox.id) {
        try await containers.stop(container.id, timeout: 0)
        events.note(.mayHaveExited(id: container.id))
      }
      await containers.stopInfra(sandbox.id)
    }
    if let sandbox, sandbox.state == .ready { events.note(.sandboxStopped(id: sandbox.id)) }
    return Runtime_V1_StopPodSandboxResponse()
  }

  public func removePodSandbox(
    request: Runtime_V1_RemovePodSandboxRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_RemovePodSandboxResponse {
    guard !request.podSandboxID.isEmpty else { throw CRIError.invalidArgument("RemovePodSandbox needs a pod_sandbox_id") }
    let sandbox = try await sandboxes.find(request.podSandboxID)
    let containers = self.containers
    let events = self.events
    try await sandboxes.remove(request.podSandboxID) { sandbox in
      for container in await containers.inSandbox(sandbox.id) {
        try await containers.remove(container.id)
        events.note(.removed(container))
      }
      await containers.removeInfra(sandbox.id)
      // Nothing of the pod's containers outlives the pod (their files are released in the background).
      await containers.settleRemovals(sandboxID: sandbox.id)
    }
    // A sandbox without a record has nothing of its own, but its infra container's record may remain.
    if sandbox == nil { await containers.removeInfra(request.podSandboxID) }
    if let sandbox { events.note(.sandboxRemoved(sandbox)) }
    return Runtime_V1_RemovePodSandboxResponse()
  }

  public func podSandboxStatus(
    request: Runtime_V1_PodSandboxStatusRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_PodSandboxStatusResponse {
    guard let record = try await sandboxes.find(request.podSandboxID), !request.podSandboxID.isEmpty else {
      throw CRIError.notFound("pod sandbox \(request.podSandboxID) not found")
    }
    let infra = await containers.infraContainer(record.id)
    var response = Runtime_V1_PodSandboxStatusResponse()
    response.status = Self.criStatus(record, infra: infra)
    if request.verbose {
      response.info["info"] = VerboseInfo.pod(record, infra: infra)
    }
    return response
  }

  /// A pod's CRI status (also attached to container events).
  static func criStatus(_ record: SandboxRecord, infra: ContainerRecord?) -> Runtime_V1_PodSandboxStatus {
    var status = Runtime_V1_PodSandboxStatus()
    status.id = record.id
    status.metadata = Self.metadata(record.spec)
    status.state = Self.isReady(record, infra: infra) ? .sandboxReady : .sandboxNotready
    status.createdAt = record.createdAt
    status.network = Runtime_V1_PodSandboxNetworkStatus()
    if let primary = record.ips.first {
      status.network.ip = primary
      status.network.additionalIps = record.ips.dropFirst().map { ip in
        var additional = Runtime_V1_PodIP()
        additional.ip = ip
        return additional
      }
    }
    status.linux.namespaces.options.network = Self.criMode(record.spec.networkMode)
    status.linux.namespaces.options.pid = Self.criMode(record.spec.pidMode)
    status.linux.namespaces.options.ipc = Self.criMode(record.spec.ipcMode)
    if let userns = record.spec.userNamespace {
      func mappings(_ list: [IDMapping]) -> [Runtime_V1_IDMapping] {
        list.map {
          var mapping = Runtime_V1_IDMapping()
          mapping.containerID = $0.containerID
          mapping.hostID = $0.hostID
          mapping.length = $0.length
          return mapping
        }
      }
      status.linux.namespaces.options.usernsOptions.mode = .pod
      status.linux.namespaces.options.usernsOptions.uids = mappings(userns.uids)
      status.linux.namespaces.options.usernsOptions.gids = mappings(userns.gids)
    }
    status.labels = record.spec.labels
    status.annotations = record.spec.annotations
    status.runtimeHandler = record.spec.runtimeHandler
    return status
  }

  public func listPodSandbox(
    request: Runtime_V1_ListPodSandboxRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ListPodSandboxResponse {
    let filter = request.hasFilter ? request.filter : nil
    var response = Runtime_V1_ListPodSandboxResponse()
    for record in await sandboxes.list() {
      if let filter {
        if !filter.id.isEmpty && !record.id.hasPrefix(filter.id) { continue }
        if filter.hasState,
           (filter.state.state == .sandboxReady) != Self.isReady(record, infra: await containers.infraContainer(record.id))
        {
          continue
        }
        if !filter.labelSelector.allSatisfy({ record.spec.labels[$0.key] == $0.value }) { continue }
      }
      var item = Runtime_V1_PodSandbox()
      item.id = record.id
      item.metadata = Self.metadata(record.spec)
      item.state = Self.isReady(record, infra: await containers.infraContainer(record.id)) ? .sandboxReady : .sandboxNotready
      item.createdAt = record.createdAt
      item.labels = record.spec.labels
      item.annotations = record.spec.annotations
      item.runtimeHandler = record.spec.runtimeHandler
      response.items.append(item)
    }
    return response
  }

  /// A pod is ready while its namespaces are, and its infra container (if it has one) runs.
  static func isReady(_ record: SandboxRecord, infra: ContainerRecord?) -> Bool {
    record.state == .ready && (infra.map { $0.state == .running } ?? true)
  }

  /// The pause image, pulled (through registries.conf, without credentials) when the store lacks it.
  func pauseImage() async throws -> ContainerImage {
    let name = config.image.pauseImage
    if await images.lookup(name) == nil {
      guard let puller else {
        throw CRIError.failedPrecondition("the pause image \(name) is not in the image store")
      }
      _ = try await puller.pull(name)
    }
    return try await resolveImage(name)
  }

  static func spec(from config: Runtime_V1_PodSandboxConfig, handler: String) throws -> SandboxSpec {
    let options = config.linux.securityContext.namespaceOptions
    let context = config.linux.securityContext
    var dns: SandboxSpec.DNS?
    if config.hasDnsConfig {
      dns = SandboxSpec.DNS(
        servers: config.dnsConfig.servers, searches: config.dnsConfig.searches, options: config.dnsConfig.options)
    }
    return SandboxSpec(
      name: config.metadata.name, namespace: config.metadata.namespace, uid: config.metadata.uid,
      attempt: config.metadata.attempt, hostname: config.hostname, logDirectory: config.logDirectory, dns: dns,
      labels: config.labels, annotations: config.annotations, runtimeHandler: handler,
      networkMode: mode(options.network), pidMode: mode(options.pid), ipcMode: mode(options.ipc),
      sysctls: config.linux.sysctls, cgroupParent: config.linux.cgroupParent,
      // As CRI-O: a mapping without a host port gives portmap nothing to do
      // (and portmap rejects host port 0).
      portMappings: config.portMappings.filter { $0.hostPort > 0 }.map {
        CNIAttachment.PortMapping(
          hostPort: Int($0.hostPort), containerPort: Int($0.containerPort),
          protocol: $0.protocol == .udp ? "udp" : $0.protocol == .sctp ? "sctp" : "tcp", hostIP: $0.hostIp)
      },
      security: SandboxSecurity(
        privileged: context.privileged,
        seccomp: try seccompProfile(context.hasSeccomp ? context.seccomp : nil, path: context.seccompProfilePath),
        runAsUser: context.hasRunAsUser ? context.runAsUser.value : nil,
        runAsGroup: context.hasRunAsGroup ? context.runAsGroup.value : nil,
        apparmorProfile: apparmorProfile(context.hasApparmor ? context.apparmor : nil, name: ""),
        selinuxLabel: context.hasSelinuxOptions ? selinuxLabel(context.selinuxOptions) : ""),
      userNamespace: try userNamespace(options))
  }

  /// The pod's user namespace: nil for the host's (NODE, or no options);
  /// CONTAINER and TARGET are refused, as CRI-O does.
  static func userNamespace(_ options: Runtime_V1_NamespaceOption) throws -> SandboxSpec.UserNamespace? {
    guard options.hasUsernsOptions else { return nil }
    let userns = options.usernsOptions
    func mappings(_ list: [Runtime_V1_IDMapping]) -> [IDMapping] {
      list.map { IDMapping(containerID: $0.containerID, hostID: $0.hostID, length: $0.length) }
    }
    switch userns.mode {
    case .node:
      guard userns.uids.isEmpty && userns.gids.isEmpty else {
        throw SandboxError.invalid("user namespace mode NODE takes no ID mappings")
      }
      return nil
    case .pod:
      return SandboxSpec.UserNamespace(uids: mappings(userns.uids), gids: mappings(userns.gids))
    case .container, .target, .UNRECOGNIZED:
      throw SandboxError.invalid("unsupported user namespace mode \(userns.mode): only POD and NODE are")
    }
  }

  static func mode(_ mode: Runtime_V1_NamespaceMode) -> SandboxSpec.NamespaceMode {
    switch mode {
    case .pod: .pod
    case .container: .container
    case .node: .node
    case .target: .target
    case .UNRECOGNIZED: .pod
    }
  }

  static func criMode(_ mode: SandboxSpec.NamespaceMode) -> Runtime_V1_NamespaceMode {
    switch mode {
    case .pod: .pod
    case .container: .container
    case .node: .node
    case .target: .target
    }
  }

  static func metadata(_ spec: SandboxSpec) -> Runtime_V1_PodSandboxMetadata {
    var metadata = Runtime_V1_PodSandboxMetadata()
    metadata.name = spec.name
    metadata.namespace = spec.namespace
    metadata.uid = spec.uid
    metadata.attempt = spec.attempt
    return metadata
  }
}
