import CCRIOSys
import CRIAPI
import CRIClient
import CRIOSystem
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Restarts with running containers, and reboots.
@Suite(.serialized) struct RecoveryTests {
  /// A running container keeps running (and logging) through a restart by
  /// SIGTERM or SIGKILL; one that exits while crio is down is found exited
  /// with its exit code; streaming, stats and events work on what was
  /// recovered; removing everything leaves the host as it was.
  @Test(arguments: [SIGTERM, SIGKILL])
  func containersOutliveARestartAndExitsWhileDownAreRecorded(_ signal: Int32) async throws {
    let fixture = try await NodeFixture()
    let baseline = fixture.inventory
    let pod = try await fixture.runPod("survivor")
    let ticker = try await fixture.createContainer(
      in: pod, podName: "survivor", name: "ticker",
      command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"])
    let short = try await fixture.createContainer(
      in: pod, podName: "survivor", name: "short",
      command: ["sh", "-c", "while [ ! -e /tmp/exit-now ]; do sleep 0.05; done; exit 3"])
    for id in [ticker, short] { try await fixture.startContainer(id) }
    let ip = try await fixture.podStatus(pod).network.ip
    let running = fixture.inventory

    #expect(try await fixture.images.daemon.stop(signal) == (signal == SIGKILL ? SIGKILL : 0))
    let downAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
    // `short` exits while the daemon is down: told so through its rootfs.
    FileManager.default.createFile(atPath: "\(fixture.dir.root)/overlay-containers/\(short)/merged/tmp/exit-now", contents: nil)
    let logPath = fixture.logPath(pod: "survivor", container: "ticker")
    let logSizeWhileDown = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
    try await Task.sleep(for: .seconds(1))
    try await fixture.restart()

    // Same IDs, same states, the exit that happened meanwhile.
    let pods = try await fixture.pods()
    #expect(pods.map(\.id) == [pod])
    #expect(pods.first?.state == .sandboxReady)
    #expect(try await fixture.podStatus(pod).network.ip == ip)
    let tickerStatus = try await fixture.containerStatus(ticker)
    #expect(tickerStatus.state == .containerRunning)
    let shortStatus = try await fixture.containerStatus(short)
    #expect(shortStatus.state == .containerExited)
    #expect(shortStatus.exitCode == 3)
    #expect(shortStatus.finishedAt > downAt)

    // The log kept flowing while crio was down and after.
    try await Task.sleep(for: .milliseconds(500))
    let logSize = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
    #expect(logSize > logSizeWhileDown, "log \(logPath) grew from \(logSizeWhileDown) to \(logSize)")

    // Exec, stats and events work on the recovered container.
    let exec = try await fixture.execSync(ticker, ["echo", "still here"])
    #expect(String(decoding: exec.stdout, as: UTF8.self) == "still here\n")
    let stats = try await fixture.call {
      var request = Runtime_V1_ContainerStatsRequest()
      request.containerID = ticker
      return try await $0.runtime.containerStats(request, options: $0.options).stats
    }
    #expect(stats.memory.workingSetBytes.value > 0)
    let events = Task {
      try await fixture.call { connection in
        try await connection.runtime.getContainerEvents(
          Runtime_V1_GetEventsRequest(), options: connection.options
        ) { response in
          var seen: [Runtime_V1_ContainerEventResponse] = []
          for try await event in response.messages {
            seen.append(event)
            if event.containerEventType == .containerStoppedEvent { break }
          }
          return seen
        }
      }
    }
    try await Task.sleep(for: .milliseconds(300))
    try await fixture.stopContainer(ticker)
    let seen = try await events.value
    #expect(seen.last?.containerID == ticker)
    #expect(seen.last?.containerEventType == .containerStoppedEvent)
    #expect(running.processes.count > fixture.inventory.processes.count)

    try await fixture.removeEverything()
    let end = fixture.inventory
    #expect(end == baseline, "\(end.difference(from: baseline))")
    try await fixture.finish()
  }

  /// After a reboot (every process gone, the run root a fresh tmpfs) the
  /// daemon finds no version file and removes every pod and container,
  /// releasing what outlived the reboot: addresses, rootfs directories,
  /// records. Images stay.
  @Test func aRebootIsDetectedAndEveryPodIsRemovedButImagesStay() async throws {
    let fixture = try await NodeFixture()
    let baseline = fixture.inventory
    let pod = try await fixture.runPod("rebooted")
    let container = try await fixture.createContainer(in: pod, podName: "rebooted", name: "app")
    try await fixture.startContainer(container)
    #expect(fixture.network.allocatedIPs.count == 1)
    #expect(try await fixture.images.daemon.stop(SIGKILL) == SIGKILL)

    // The reboot: processes die, mounts go, the run root is empty again.
    fixture.simulateReboot()
    try await fixture.restart()
    #expect(try await fixture.pods().isEmpty)
    #expect(try await fixture.containers().isEmpty)
    #expect(fixture.network.allocatedIPs.isEmpty)
    #expect(try await fixture.hasImage(NodeFixture.busybox))
    #expect(fixture.images.daemon.log.contains("the node rebooted"))
    let after = fixture.inventory
    #expect(after == baseline, "\(after.difference(from: baseline))")
    // And it works as before.
    let again = try await fixture.runPod("rebooted")
    try await fixture.stopPod(again)
    try await fixture.removePod(again)
    try await fixture.finish()
  }
}

extension NodeFixture {
  func podStatus(_ id: String) async throws -> Runtime_V1_PodSandboxStatus {
    try await call {
      var request = Runtime_V1_PodSandboxStatusRequest()
      request.podSandboxID = id
      return try await $0.runtime.podSandboxStatus(request, options: $0.options).status
    }
  }

  func containerStatus(_ id: String) async throws -> Runtime_V1_ContainerStatus {
    try await call {
      var request = Runtime_V1_ContainerStatusRequest()
      request.containerID = id
      return try await $0.runtime.containerStatus(request, options: $0.options).status
    }
  }

  /// What a reboot does to the node while crio is down: every process of
  /// the test's pods and their conmons dies, runc's state (a tmpfs) is
  /// gone, every mount below the test directory goes, the run root is empty.
  func simulateReboot() {
    for _ in 0..<3 {
      for pid in ProcessFacts.allPids() {
        let argv = ProcessFacts.commandLine(pid)
        let cgroup = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
        if cgroup.contains(":\(cgroupParent)/") || (argv.first?.hasSuffix("conmon") == true && argv.contains { $0.contains(dir.path) }) {
          kill(pid, SIGKILL)
        }
      }
      usleep(100_000)
    }
    if let listed = try? run("/usr/sbin/runc", ["list", "--format", "json"]).output,
      let entries = try? JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]]
    {
      for entry in entries {
        guard let id = entry["id"] as? String, let bundle = entry["bundle"] as? String, bundle.hasPrefix(dir.path + "/")
        else { continue }
        _ = try? run("/usr/sbin/runc", ["delete", "--force", id])
      }
    }
    for mount in MountTable.mountPoints(under: dir.path).sorted(by: { $0.count > $1.count }) {
      _ = crio_unmount(mount)
    }
    try? FileManager.default.removeItem(atPath: "\(dir.path)/run")
    for kind in ["netns", "ipcns", "utsns"] {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(dir.namespacesDir)/\(kind)")) ?? [] {
        unlink("\(dir.namespacesDir)/\(kind)/\(name)")
      }
    }
  }
}
