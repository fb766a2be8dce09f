import CRIOSystem
import CRIOTestSupport
import Foundation
import Glibc

/// Everything a test daemon can leave on the host, taken from the host
/// itself (not from crio): mounts, files under its directories, runc
/// containers whose bundle is in its run root, veths on the test bridge,
/// host-local allocations, portmap's iptables rules, cgroups below the test pods' cgroup parent and
/// the processes in them (and conmon processes naming the directory).
///
/// IDs are random, so 64- (and 63-, conmon's truncated socket link) digit
/// hex names are replaced by `<id>` outside the image store, where names
/// are content digests and stay as they are: an inventory describes what
/// kind of things exist and how many, and two inventories of the same
/// state compare equal.
struct HostInventory: Equatable, CustomStringConvertible {
  var mounts: [String] = []
  var files: [String] = []
  var runtimeContainers: [String] = []
  var veths = 0
  var allocatedIPs = 0
  var iptablesRules: [String] = []
  var cgroups: [String] = []
  var processes: [String] = []

  static func take(dir: DaemonDirectory, network: TestBridgeNetwork?, cgroupParent: String) -> HostInventory {
    var inventory = HostInventory()
    inventory.mounts = MountTable.mountPoints(under: dir.path).map(normalized).sorted()
    let imageStore = ["overlay/", "overlay-images/", "overlay-layers/"].map { "\(dir.root)/\($0)" }
    // Files, not directories (a directory made on first use, like the CNI
    // cache's, is not a leak). host-local's allocations are counted below.
    for top in [dir.root, "\(dir.path)/run", dir.namespacesDir] {
      for sub in (try? FileManager.default.subpathsOfDirectory(atPath: top)) ?? [] {
        let path = "\(top)/\(sub)"
        guard !isDirectory(path) else { continue }
        inventory.files.append(imageStore.contains { path.hasPrefix($0) } ? path : normalized(path))
      }
    }
    inventory.files.sort()
    if let listed = try? run("/usr/sbin/runc", ["list", "--format", "json"]).output,
      let entries = try? JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]]
    {
      inventory.runtimeContainers = entries.compactMap { entry in
        guard let bundle = entry["bundle"] as? String, bundle.hasPrefix(dir.path + "/") else { return nil }
        return "\(normalized(bundle)) \(entry["status"] as? String ?? "?")"
      }.sorted()
    }
    if let network {
      let links = (try? run("/usr/sbin/ip", ["-o", "link", "show", "master", network.bridge]).output) ?? ""
      inventory.veths = links.split(separator: "\n").count
      inventory.allocatedIPs = network.allocatedIPs.count
      inventory.iptablesRules = network.iptablesRules.map {
        normalized($0).replacingOccurrences(of: "CNI-[A-Z]+-[0-9a-f]{16,}", with: "CNI-<chain>", options: .regularExpression)
      }.sorted()
    }
    for controller in ["memory", "pids"] {
      let top = "/sys/fs/cgroup/\(controller)\(cgroupParent)"
      for sub in (try? FileManager.default.subpathsOfDirectory(atPath: top)) ?? [] where isDirectory("\(top)/\(sub)") {
        inventory.cgroups.append("\(controller)/\(normalized(sub))")
      }
    }
    inventory.cgroups.sort()
    for pid in ProcessFacts.allPids() {
      let argv = ProcessFacts.commandLine(pid)
      guard let program = argv.first else { continue }
      let cgroup = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
      if cgroup.contains(":\(cgroupParent)/") || (program.hasSuffix("conmon") && argv.contains { $0.contains(dir.path) }) {
        inventory.processes.append(normalized(((program as NSString).lastPathComponent + " " + argv.dropFirst().prefix(2).joined(separator: " "))))
      }
    }
    inventory.processes.sort()
    return inventory
  }

  /// Lines in one inventory and not the other, for failure messages.
  func difference(from other: HostInventory) -> String {
    var lines: [String] = []
    func compare(_ name: String, _ mine: [String], _ theirs: [String]) {
      let extra = mine.filter { !theirs.contains($0) }
      let missing = theirs.filter { !mine.contains($0) }
      if !extra.isEmpty { lines.append("\(name) +: \(extra)") }
      if !missing.isEmpty { lines.append("\(name) -: \(missing)") }
      if extra.isEmpty && missing.isEmpty && mine.count != theirs.count {
        lines.append("\(name): \(mine.count) vs \(theirs.count)")
      }
    }
    compare("mounts", mounts, other.mounts)
    compare("files", files, other.files)
    compare("runc", runtimeContainers, other.runtimeContainers)
    compare("cgroups", cgroups, other.cgroups)
    compare("processes", processes, other.processes)
    compare("iptables", iptablesRules, other.iptablesRules)
    if veths != other.veths { lines.append("veths: \(veths) vs \(other.veths)") }
    if allocatedIPs != other.allocatedIPs { lines.append("allocated IPs: \(allocatedIPs) vs \(other.allocatedIPs)") }
    return lines.isEmpty ? "(equal)" : lines.joined(separator: "\n")
  }

  var description: String {
    "mounts \(mounts.count), files \(files.count), runc \(runtimeContainers.count), veths \(veths), IPs \(allocatedIPs), iptables \(iptablesRules.count), "
      + "cgroups \(cgroups.count), processes \(processes)"
  }

  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  static func normalized(_ text: String) -> String {
    text.replacingOccurrences(of: "[0-9a-f]{63,64}", with: "<id>", options: .regularExpression)
  }
}
