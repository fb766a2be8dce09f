extension ContainerManager {
  /// The cgroup (cgroupfs `cgroupsPath`) of a container: `crio-<id>` under
  /// the pod's cgroup parent, else under `/crio`. The OCI spec and the stats
  /// both use this one definition.
  public static func cgroupPath(cgroupParent: String, id: String) -> String {
    let parent = cgroupParent.isEmpty ? "/crio" : cgroupParent
    return "\(parent)/crio-\(id)"
  }

  public static func cgroupPath(sandbox: SandboxRecord, id: String) -> String {
    cgroupPath(cgroupParent: sandbox.spec.cgroupParent, id: id)
  }
}

extension ContainerManager {
  /// Where conmon writes `<id>` when a container exits (for `ExitWatcher`).
  public nonisolated var exitsDirectory: String { exitDirectory }
  /// Where the containers' overlay layers live.
  public nonisolated var writableLayersDirectory: String { layersDirectory }
}
