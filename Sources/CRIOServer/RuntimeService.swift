import CRIAPI
import CRIOConfig
import CRIOImage
import CRIONetwork
import CRIORuntime
import CRIOStreaming
import GRPCCore

/// The CRI `RuntimeService`. RPCs without an implementation yet live in
/// `RuntimeService+Unimplemented.swift`.
public struct RuntimeService: Runtime_V1_RuntimeService.SimpleServiceProtocol {
  let config: CRIOConfiguration
  let runtimeHealth: RuntimeHealth
  let networkHealth: NetworkHealth
  let sandboxes: SandboxManager
  let containers: ContainerManager
  let images: ImageStore
  let streaming: StreamingServer
  /// Pulls the pause image for pods that need an infra container.
  let puller: ImagePuller?
  /// Samples container and pod usage (stats and metrics).
  let stats: ContainerStatsCollector
  /// Container life-cycle events (GetContainerEvents).
  let events: ContainerEventHub

  public init(
    config: CRIOConfiguration, runtimeHealth: RuntimeHealth, networkHealth: NetworkHealth, sandboxes: SandboxManager,
    containers: ContainerManager, images: ImageStore, streaming: StreamingServer, puller: ImagePuller? = nil,
    stats: ContainerStatsCollector? = nil, events: ContainerEventHub? = nil
  ) {
    self.stats = stats ?? ContainerStatsCollector(layersDirectory: containers.writableLayersDirectory)
    self.events = events ?? ContainerEventHub(enabled: config.runtime.enablePodEvents)
    self.streaming = streaming
    self.config = config
    self.runtimeHealth = runtimeHealth
    self.networkHealth = networkHealth
    self.sandboxes = sandboxes
    self.containers = containers
    self.images = images
    self.puller = puller
  }

  public func version(
    request: Runtime_V1_VersionRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_VersionResponse {
    var response = Runtime_V1_VersionResponse()
    response.version = CRIOVersion.kubeletAPIVersion
    response.runtimeName = CRIOVersion.runtimeName
    response.runtimeVersion = CRIOVersion.version
    response.runtimeApiVersion = CRIOVersion.runtimeAPIVersion
    return response
  }

  public func status(
    request: Runtime_V1_StatusRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_StatusResponse {
    let runtime = await runtimeHealth.check()
    let network = networkHealth.check()
    var response = Runtime_V1_StatusResponse()
    response.status.conditions = [
      condition("RuntimeReady", runtime.ready, runtime.reason, runtime.message),
      condition("NetworkReady", network.ready, network.reason, network.message),
    ]
    // The default handler is reported under the empty name, then every configured handler.
    let names = [""] + config.runtime.runtimes.keys.sorted()
    for name in names {
      var handler = Runtime_V1_RuntimeHandler()
      handler.name = name
      handler.features = Runtime_V1_RuntimeHandlerFeatures()
      handler.features.recursiveReadOnlyMounts = await containers.supportsRecursiveReadOnly(handler: name)
      // runc joins the pod's pinned user namespace; crio makes the idmapped mounts.
      let hasRuntime = await containers.hasRuntime(handler: name)
      let userns = await sandboxes.userNamespaceSupport()
      handler.features.userNamespaces = hasRuntime && userns.isSupported
      response.runtimeHandlers.append(handler)
    }
    // Image volumes are supported (in user-namespace pods too) but have no
    // flag in the CRI (the kubelet's ImageVolume gate decides).
    response.features = Runtime_V1_RuntimeFeatures()
    response.features.supplementalGroupsPolicy = true
    // A pod in a user namespace may use the host's network (its /sys is then the host's, read-only).
    response.features.userNamespacesHostNetwork = await sandboxes.userNamespaceSupport().isSupported
    if request.verbose {
      response.info["config"] = ConfigRenderer.json(config)
    }
    return response
  }

  public func runtimeConfig(
    request: Runtime_V1_RuntimeConfigRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_RuntimeConfigResponse {
    var response = Runtime_V1_RuntimeConfigResponse()
    response.linux.cgroupDriver = config.runtime.cgroupManager == "systemd" ? .systemd : .cgroupfs
    return response
  }

  private func condition(_ type: String, _ ready: Bool, _ reason: String, _ message: String)
    -> Runtime_V1_RuntimeCondition
  {
    var condition = Runtime_V1_RuntimeCondition()
    condition.type = type
    condition.status = ready
    condition.reason = reason
    condition.message = message
    return condition
  }
}
