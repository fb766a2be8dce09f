import CRIAPI
import CRIORuntime
import GRPCCore

/// Container RPCs that change a running container: resources, log reopening;
/// and the CRI <-> crio translations of resources.
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
}
