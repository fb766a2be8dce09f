import Foundation
import OCI

/// Whether the kernel's OOM killer struck a container. Two witnesses, either
/// is enough: conmon's `oom` file in the bundle (conmon's `--persist-dir`;
/// it watches `memory.oom_control` through an eventfd on cgroup v1 and
/// `memory.events` on v2), and the `oom_kill` counter of the container's
/// memory cgroup, which also covers an exit conmon saw before the OOM event.
enum OOMDetection {
  static func killed(bundle: String, cgroupRoot: String = "/sys/fs/cgroup") -> Bool {
    if FileManager.default.fileExists(atPath: "\(bundle)/oom") { return true }
    guard let data = FileManager.default.contents(atPath: "\(bundle)/config.json"),
          let spec = try? JSONDecoder().decode(RuntimeSpec.self, from: data),
          let path = spec.linux.cgroupsPath
    else { return false }
    for file in counterFiles(cgroupsPath: path, root: cgroupRoot) {
      // cgroup files have no size: read to the end.
      guard let handle = FileHandle(forReadingAtPath: file) else { continue }
      defer { try? handle.close() }
      if let count = oomKills(String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)), count > 0 {
        return true
      }
    }
    return false
  }

  /// Where the container's cgroup keeps its OOM kill counter: v1's
  /// `memory.oom_control`, v2's `memory.events`.
  static func counterFiles(cgroupsPath: String, root: String) -> [String] {
    guard let relative = CgroupPaths.directory(cgroupsPath) else { return [] }
    return ["\(root)/memory\(relative)/memory.oom_control", "\(root)\(relative)/memory.events"]
  }

  /// The `oom_kill N` line of `memory.oom_control` (v1) or `memory.events` (v2).
  static func oomKills(_ text: String) -> Int? {
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 2, fields[0] == "oom_kill" { return Int(fields[1]) }
    }
    return nil
  }
}
