import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Testing

/// `crio status` against a running daemon: the HTTP/1 inspect endpoints
/// served on the CRI socket next to gRPC.
@Suite(.serialized) struct StatusTests {
  @Test func statusReadsInfoConfigAndContainersFromTheRunningDaemon() async throws {
    let f = try await ContainerTests.Fixture()
    let crio = try Binaries.path(of: "crio")
    let socket = ["status", "--socket", f.dir.socket]
    let pod = try await f.runPod("inspect")
    let id = try await f.create(pod, name: "sleeper", command: ["sleep", "600"]) {
      $0.labels = ["app": "sleepy"]
      $0.annotations = ["note": "hello"]
    }
    try await f.start(id)
    let pid = try await f.call {
      var request = Runtime_V1_ContainerStatusRequest()
      request.containerID = id
      request.verbose = true
      return try await $0.runtime.containerStatus(request, options: $0.options).info["info"] ?? ""
    }

    // info: the daemon's storage and cgroup driver; without --socket, [crio.api] listen of the flags' configuration.
    let info = try runCommand(crio, socket + ["info"])
    #expect(info.status == 0, "\(info.output)")
    #expect(info.output.contains("cgroup driver: cgroupfs\n"))
    #expect(info.output.contains("storage driver: overlay\n"))
    #expect(info.output.contains("storage graph root: \(f.dir.root)\n"))
    #expect(info.output.contains("default UID mappings (format <container>:<host>:<size>):\n  0:0:4294967295\n"))
    let viaConfig = try runCommand(crio, f.dir.isolationFlags + ["status", "info"])
    #expect(viaConfig.status == 0 && viaConfig.output == info.output, "\(viaConfig.output)")
    let json = try runCommand(crio, socket + ["info", "--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
    #expect(Set(object.keys) == ["storage_driver", "storage_image", "storage_root", "cgroup_driver", "default_id_mappings"])
    #expect(object["storage_root"] as? String == f.dir.root)

    // config: TOML that crio reads back to the same configuration.
    let config = try runCommand(crio, socket + ["config"])
    #expect(config.status == 0)
    #expect(config.output.contains("root = \"\(f.dir.root)\""))
    #expect(config.output.contains("listen = \"\(f.dir.socket)\""))
    let file = "\(f.dir.path)/status-config.toml"
    try config.output.write(toFile: file, atomically: true, encoding: .utf8)
    let emptyDir = "\(f.dir.path)/no-drop-ins"
    try FileManager.default.createDirectory(atPath: emptyDir, withIntermediateDirectories: true)
    let reread = try runCommand(crio, ["--config", file, "--config-dir", emptyDir, "config"])
    #expect(reread.status == 0)
    #expect(reread.output == config.output, "the daemon's TOML parses back to the same configuration")

    // containers --id: a running container, by full ID and by prefix.
    let shown = try runCommand(crio, socket + ["containers", "--id", id])
    #expect(shown.status == 0, "\(shown.output)")
    let lines = shown.output.split(separator: "\n").map(String.init)
    #expect(lines.first == "name: k8s_sleeper_inspect_default_uid-inspect_0")
    let shownPID = try #require(lines.first { $0.hasPrefix("pid: ") }.flatMap { Int32($0.dropFirst(5)) })
    let cmdline = String(decoding: FileManager.default.contents(atPath: "/proc/\(shownPID)/cmdline") ?? Data(), as: UTF8.self)
    #expect(cmdline.hasPrefix("sleep\u{0}600"), "pid \(shownPID) is the container's process: \(cmdline)")
    #expect(pid.contains("\"pid\": \(shownPID)") || pid.contains("\"pid\":\(shownPID)"), "the same pid as ContainerStatus' verbose info")
    #expect(lines.contains("image: registry.test/test/busybox:1"))
    #expect(lines.contains("  app: sleepy"))
    #expect(lines.contains("  note: hello"))
    #expect(lines.contains("sandbox: \(pod.0)"))
    #expect(lines.contains { $0.hasPrefix("log path: \(f.dir.path)/pod-logs/inspect/sleeper.log") })
    #expect(lines.contains("graph root: \(f.dir.root)/overlay-containers/\(id)/merged"))
    let byPrefix = try runCommand(crio, socket + ["cs", "-i", String(id.prefix(12))])
    #expect(byPrefix.output == shown.output)
    let containerJSON = try runCommand(crio, socket + ["containers", "--id", id, "--json"])
    let container = try #require(try JSONSerialization.jsonObject(with: Data(containerJSON.output.utf8)) as? [String: Any])
    for key in ["name", "pid", "image", "image_ref", "created_time", "labels", "annotations", "log_path", "root", "sandbox", "ip_addresses"] {
      #expect(container[key] != nil, "\(key) in \(containerJSON.output)")
    }
    let podNetwork = try await f.call {
      var request = Runtime_V1_PodSandboxStatusRequest()
      request.podSandboxID = pod.0
      return try await $0.runtime.podSandboxStatus(request, options: $0.options).status.network
    }
    let podIPs = ([podNetwork.ip] + podNetwork.additionalIps.map(\.ip)).filter { !$0.isEmpty }
    #expect(container["ip_addresses"] as? [String] == podIPs, "the pod's addresses, as PodSandboxStatus has them")
    #expect(lines.contains("ips: \(podIPs.joined(separator: ", "))"))

    // An unknown ID fails with the daemon's reason; so does a daemon that is not there.
    let unknown = try runCommand(crio, socket + ["containers", "--id", "0123456789abcdef"])
    #expect(unknown.status == 1)
    #expect(unknown.output.contains("can't find the container with id 0123456789abcdef"), "\(unknown.output)")
    let nobody = try runCommand(crio, ["status", "--socket", "\(f.dir.path)/absent.sock", "info"])
    #expect(nobody.status == 1)
    #expect(nobody.output.contains("cannot connect to \(f.dir.path)/absent.sock"), "\(nobody.output)")

    // gRPC on the same socket is unaffected.
    #expect(try await f.status(id).state == .containerRunning)
    try await f.remove(id)
    try await f.removePod(pod.0)
    try await f.images.stop()
  }
}
