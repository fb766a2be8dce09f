/// Where a container's cgroup is, in the OCI spec's `cgroupsPath` form for
/// each cgroup driver, as CRI-O and runc spell it.
///
/// - `cgroupfs`: a path, `<parent>/crio-<id>` (parent `/crio` when the pod
///   names none).
/// - `systemd`: `<slice>:crio:<id>`, which runc (started with
///   `--systemd-cgroup`, conmon's `-s`) turns into the transient unit
///   `crio-<id>.scope` in `<slice>` (`system.slice` when the pod names
///   none). The pod's parent must then be a slice, as CRI-O requires.
///   Not testable on a host without systemd.
enum CgroupPaths {
  static func container(manager: String, parent: String, id: String) throws -> String {
    guard manager == "systemd" else { return "\(parent.isEmpty ? "/crio" : parent)/crio-\(id)" }
    if parent.isEmpty { return "system.slice:crio:\(id)" }
    let slice = parent.split(separator: "/").last.map(String.init) ?? parent
    guard slice.hasSuffix(".slice") else {
      throw ContainerError.invalid(
        "the systemd cgroup manager needs a slice as the pod's cgroup parent, not \(parent)")
    }
    return "\(slice):crio:\(id)"
  }

  /// The cgroup directory (below a controller's root) of a `cgroupsPath`:
  /// the path itself for cgroupfs; for systemd's `slice:prefix:name`, the
  /// slice expanded by systemd's rule (`a-b.slice` lives in `a.slice`) and
  /// the scope `prefix-name.scope`.
  static func directory(_ cgroupsPath: String) -> String? {
    guard cgroupsPath.contains(":") else {
      return cgroupsPath.hasPrefix("/") ? cgroupsPath : "/\(cgroupsPath)"
    }
    let parts = cgroupsPath.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 3, parts[0].hasSuffix(".slice"), !parts[2].isEmpty else { return nil }
    var path = ""
    let name = String(parts[0].dropLast(".slice".count))
    if name != "-" {
      var prefix = ""
      for component in name.split(separator: "-") {
        prefix += prefix.isEmpty ? component : "-\(component)"
        path += "/\(prefix).slice"
      }
    }
    return "\(path)/\(parts[1].isEmpty ? "" : "\(parts[1])-")\(parts[2]).scope"
  }
}
