import CRIAPI
import CRIORuntime
import GRPCCore

/// Container RPCs that change a running container: resources, log reopening;
/// and the CRI <-> crio translations of mounts and resources.
extension RuntimeService {
  public func updateContainerResources(
    request: Runtime_V1_UpdateContainerResourcesRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
    // Windows resources mean nothing here; no Linux resources: nothing to do (as CRI-O).
    if request.hasLinux {
      try await containers.updateResources(request.containerID, Self.resourceUpdate(request.linux))
    } else if try await containers.find(request.containerID) == nil {
      throw CRIError.notFound("container \(request.containerID) not found")
    }
    return Runtime_V1_UpdateContainerResourcesResponse()
  }

  public func reopenContainerLog(
    request: Runtime_V1_ReopenContainerLogRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ReopenContainerLogResponse {
    try await containers.reopenLog(request.containerID)
    return Runtime_V1_ReopenContainerLogResponse()
  }

  static func resourceUpdate(_ linux: Runtime_V1_LinuxContainerResources) -> ResourceUpdate {
    var update = ResourceUpdate()
    update.cpuPeriod = linux.cpuPeriod
    update.cpuQuota = linux.cpuQuota
    update.cpuShares = linux.cpuShares
    update.memoryLimit = linux.memoryLimitInBytes
    update.memorySwapLimit = linux.memorySwapLimitInBytes
    update.cpusetCpus = linux.cpusetCpus
    update.cpusetMems = linux.cpusetMems
    update.hugepageLimits = linux.hugepageLimits.map { .init(pageSize: $0.pageSize, limit: $0.limit) }
    update.unified = linux.unified
    return update
  }

  /// A container's resources as `ContainerStatus` reports them: what it was
  /// created with, as later updates changed it.
  static func criResources(_ spec: ContainerSpec) -> Runtime_V1_LinuxContainerResources {
    var linux = Runtime_V1_LinuxContainerResources()
    linux.cpuPeriod = spec.cpuPeriod
    linux.cpuQuota = spec.cpuQuota
    linux.cpuShares = spec.cpuShares
    linux.memoryLimitInBytes = spec.memoryLimit
    linux.memorySwapLimitInBytes = spec.memorySwapLimit
    linux.oomScoreAdj = spec.oomScoreAdj
    linux.cpusetCpus = spec.cpusetCpus
    linux.cpusetMems = spec.cpusetMems
    linux.hugepageLimits = spec.hugepageLimits.map {
      var limit = Runtime_V1_HugepageLimit()
      limit.pageSize = $0.pageSize
      limit.limit = $0.limit
      return limit
    }
    linux.unified = spec.unified
    return linux
  }

  /// A CRI mount in crio's terms: a bind mount, or an image volume
  /// (`image`, resolved in the store by the caller; `host_path` is ignored then).
  static func mount(_ mount: Runtime_V1_Mount, image: ContainerSpec.ImageVolume? = nil) throws -> ContainerSpec.Mount {
    guard !mount.containerPath.isEmpty else { throw CRIError.invalidArgument("a mount needs a container_path") }
    guard image != nil || !mount.hostPath.isEmpty else {
      throw CRIError.invalidArgument("mount \(mount.containerPath) needs a host_path")
    }
    let propagation: ContainerSpec.Mount.Propagation =
      switch mount.propagation {
      case .propagationPrivate: .private
      case .propagationHostToContainer: .hostToContainer
      case .propagationBidirectional: .bidirectional
      case .UNRECOGNIZED(let value):
        throw CRIError.invalidArgument("unknown mount propagation \(value) for \(mount.containerPath)")
      }
    return ContainerSpec.Mount(
      containerPath: mount.containerPath, hostPath: image == nil ? mount.hostPath : "",
      readonly: image != nil || mount.readonly, propagation: propagation,
      recursiveReadOnly: mount.recursiveReadOnly, selinuxRelabel: mount.selinuxRelabel, image: image)
  }

  static func criMount(_ mount: ContainerSpec.Mount) -> Runtime_V1_Mount {
    var m = Runtime_V1_Mount()
    m.containerPath = mount.containerPath
    m.hostPath = mount.hostPath
    m.readonly = mount.readonly
    m.recursiveReadOnly = mount.recursiveReadOnly
    m.selinuxRelabel = mount.selinuxRelabel
    if let image = mount.image {
      // As CRI-O: the image's ID, and the host path its read-only mount (or sub path) is bound from.
      m.image.image = image.id
      m.imageSubPath = image.subPath
    }
    m.propagation =
      switch mount.propagation {
      case .private: .propagationPrivate
      case .hostToContainer: .propagationHostToContainer
      case .bidirectional: .propagationBidirectional
      }
    return m
  }
}
