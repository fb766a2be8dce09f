import Foundation
import Testing

@testable import CRIORuntime

/// Deleting an exited runc container without runc: its cgroups and state
/// directory go; anything alive or unknown is left to `runc delete`.
@Suite struct RuncStoppedContainerTests {
  private func scratch() throws -> String {
    let dir = NSTemporaryDirectory() + "runcstate-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  private func writeState(
    _ root: String, id: String, pid: Int32, start: UInt64, cgroups: [String: String], systemd: Bool = false
  ) throws {
    try FileManager.default.createDirectory(atPath: "\(root)/\(id)", withIntermediateDirectories: true)
    let state: [String: Any] = [
      "id": id, "init_process_pid": pid, "init_process_start": start, "cgroup_paths": cgroups,
      "config": ["cgroups": ["Systemd": systemd, "Rootless": false]],
    ]
    try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: "\(root)/\(id)/state.json"))
  }

  /// A real cgroup directory (needs root and the v1 pids controller, as on the project's hosts).
  private func cgroup() throws -> String {
    let path = "/sys/fs/cgroup/pids/crio-unit-\(UUID().uuidString.prefix(8))"
    guard mkdir(path, 0o755) == 0 else {
      Issue.record("cannot create the cgroup \(path) (root and cgroup v1 pids are needed): errno \(errno)")
      throw CocoaError(.fileWriteNoPermission)
    }
    return path
  }

  @Test func anExitedContainerLosesItsCgroupsAndState() throws {
    let root = try scratch()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let group = try cgroup()
    defer { rmdir(group) }
    let gone = Process()
    gone.executableURL = URL(fileURLWithPath: "/bin/true")
    try gone.run()
    gone.waitUntilExit()
    try writeState(root, id: "c1", pid: gone.processIdentifier, start: 1, cgroups: ["pids": group, "": ""])
    #expect(RuncStoppedContainer.delete(runtimeRoot: root, id: "c1"))
    #expect(access(group, F_OK) != 0)
    #expect(access("\(root)/c1", F_OK) != 0)
  }

  @Test func aLiveInitIsLeftToRunc() throws {
    let root = try scratch()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let group = try cgroup()
    defer { rmdir(group) }
    let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
    let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
    let start = try #require(UInt64(fields[19]))
    try writeState(root, id: "c2", pid: getpid(), start: start, cgroups: ["pids": group])
    #expect(!RuncStoppedContainer.delete(runtimeRoot: root, id: "c2"))
    #expect(access(group, F_OK) == 0)
    #expect(access("\(root)/c2/state.json", F_OK) == 0)
  }

  @Test func aRecycledPidDoesNotCountAsTheInit() throws {
    let root = try scratch()
    defer { try? FileManager.default.removeItem(atPath: root) }
    // Our pid, but another start time: the container's init is gone.
    try writeState(root, id: "c3", pid: getpid(), start: 1, cgroups: [:])
    #expect(RuncStoppedContainer.delete(runtimeRoot: root, id: "c3"))
    #expect(access("\(root)/c3", F_OK) != 0)
  }

  @Test func unknownOrOddStateIsLeftToRunc() throws {
    let root = try scratch()
    defer { try? FileManager.default.removeItem(atPath: root) }
    #expect(RuncStoppedContainer.delete(runtimeRoot: root, id: "none"))
    try FileManager.default.createDirectory(atPath: "\(root)/bad", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: "\(root)/bad/state.json", contents: Data("not json".utf8))
    #expect(!RuncStoppedContainer.delete(runtimeRoot: root, id: "bad"))
    try writeState(root, id: "outside", pid: 0, start: 0, cgroups: ["pids": "/tmp"])
    #expect(!RuncStoppedContainer.delete(runtimeRoot: root, id: "outside"))
    #expect(access("/tmp", F_OK) == 0)
    #expect(!RuncStoppedContainer.delete(runtimeRoot: root, id: "../bad"))
    // The systemd driver's cgroups belong to a unit: runc stops it.
    try writeState(root, id: "unit", pid: 0, start: 0, cgroups: [:], systemd: true)
    #expect(!RuncStoppedContainer.delete(runtimeRoot: root, id: "unit"))
    #expect(access("\(root)/unit/state.json", F_OK) == 0)
  }
}
