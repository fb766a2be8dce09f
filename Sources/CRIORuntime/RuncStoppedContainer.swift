import CRIOSystem
import Foundation
import Glibc

/// What `runc delete` does for a container whose init process has exited,
/// without starting runc (a Go program, 7 to 20 ms of CPU here): remove the
/// container's cgroups (`cgroup_paths` of runc's `<root>/<id>/state.json`)
/// and its state directory. Anything else (the init still alive, a cgroup
/// still holding processes, a state this does not recognise) is left to
/// `runc delete --force`.
enum RuncStoppedContainer {
  /// True when the state of `id` under `runtimeRoot` is gone (deleted here,
  /// or there was none); false when `runc delete --force` must do it.
  static func delete(runtimeRoot: String, id: String) -> Bool {
    guard !id.isEmpty, !id.contains("/"), id != ".", id != ".." else { return false }
    let directory = "\(runtimeRoot)/\(id)"
    guard let data = FileManager.default.contents(atPath: "\(directory)/state.json") else {
      // No state: nothing to delete, unless the directory exists without one (leave it to runc).
      return access(directory, F_OK) != 0
    }
    guard let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let pid = (state["init_process_pid"] as? NSNumber)?.int32Value,
          let startTime = (state["init_process_start"] as? NSNumber)?.uint64Value,
          let cgroups = state["cgroup_paths"] as? [String: String]
    else { return false }
    // A systemd-managed cgroup belongs to a transient unit that runc stops through systemd.
    let cgroupConfig = (state["config"] as? [String: Any])?["cgroups"] as? [String: Any]
    if cgroupConfig?["Systemd"] as? Bool == true || cgroupConfig?["Rootless"] as? Bool == true { return false }
    if pid > 0, isAlive(pid: pid, startTime: startTime) { return false }
    for path in Set(cgroups.values) where !path.isEmpty {
      guard path.hasPrefix("/sys/fs/cgroup/"), !path.contains("/../") else { return false }
      // EBUSY: processes (or child cgroups) are still in it: runc kills them.
      if rmdir(path) != 0 && errno != ENOENT { return false }
    }
    do {
      try FileManager.default.removeItem(atPath: directory)
    } catch {
      return access(directory, F_OK) != 0
    }
    return true
  }

  /// Whether `pid` is still the container's init (same start time) and not a zombie.
  private static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")")
    else { return false }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3); the start time is field 22.
    guard fields.count > 19 else { return false }
    if fields[0] == "Z" || fields[0] == "X" { return false }
    return UInt64(fields[19]) == startTime
  }
}
