import CCRIOSys
import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Containers run for real: a busybox image from a local registry, a pod
/// sandbox, conmon and runc.
@Suite(.serialized) struct ContainerTests {
  final class Fixture: @unchecked Sendable {
    let images: ImageFixture
    let image: TestImage
    var dir: DaemonDirectory { images.dir }

    init(extraConfig: String = "") async throws {
      images = try await ImageFixture(extraConfig: extraConfig)
      image = try TestImage.busybox()
      try await image.push(to: images.registry.host, repository: "test/busybox", tag: "1")
      try SandboxFixture.loopbackOnly.write(toFile: "\(images.dir.cniDir)/10-lo.conflist", atomically: true, encoding: .utf8)
      _ = try await images.pull("registry.test/test/busybox:1")
    }

    func call<R: Sendable>(_ body: (CRIConnection) async throws -> R) async throws -> R {
      try await CRIConnection.with(dir.endpoint, timeout: .seconds(60), body)
    }

    func runPod(_ name: String) async throws -> (String, Runtime_V1_PodSandboxConfig) {
      var config = podConfig(name, hostname: name)
      config.logDirectory = "\(dir.path)/pod-logs/\(name)"
      let id = try await call {
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config = config
        return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
      }
      return (id, config)
    }

    func create(_ pod: (String, Runtime_V1_PodSandboxConfig), name: String, command: [String]) async throws -> String {
      try await call {
        var request = Runtime_V1_CreateContainerRequest()
        request.podSandboxID = pod.0
        request.sandboxConfig = pod.1
        request.config.metadata.name = name
        request.config.image.image = "registry.test/test/busybox:1"
        request.config.command = command
        request.config.logPath = "\(name).log"
        var env = Runtime_V1_KeyValue()
        env.key = "GREETING"
        env.value = Data("hello".utf8)
        request.config.envs = [env]
        return try await $0.runtime.createContainer(request, options: $0.options).containerID
      }
    }

    func start(_ id: String) async throws {
      try await call {
        var request = Runtime_V1_StartContainerRequest()
        request.containerID = id
        _ = try await $0.runtime.startContainer(request, options: $0.options)
      }
    }

    func status(_ id: String) async throws -> Runtime_V1_ContainerStatus {
      try await call {
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = id
        return try await $0.runtime.containerStatus(request, options: $0.options).status
      }
    }

    func stop(_ id: String, timeout: Int64) async throws {
      try await call {
        var request = Runtime_V1_StopContainerRequest()
        request.containerID = id
        request.timeout = timeout
        _ = try await $0.runtime.stopContainer(request, options: $0.options)
      }
    }

    func remove(_ id: String) async throws {
      try await call {
        var request = Runtime_V1_RemoveContainerRequest()
        request.containerID = id
        _ = try await $0.runtime.removeContainer(request, options: $0.options)
      }
    }

    func execSync(_ id: String, _ cmd: [String], timeout: Int64) async throws -> Runtime_V1_ExecSyncResponse {
      try await call {
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = id
        request.cmd = cmd
        request.timeout = timeout
        return try await $0.runtime.execSync(request, options: $0.options)
      }
    }

    func waitFor(_ id: String, state: Runtime_V1_ContainerState) async throws -> Runtime_V1_ContainerStatus {
      for _ in 0..<500 {
        let current = try await status(id)
        if current.state == state { return current }
        try await Task.sleep(for: .milliseconds(20))
      }
      return try await status(id)
    }

    var mounts: [String] { MountTable.mountPoints(under: dir.path) }
  }

  @Test func aContainerRunsLogsStopsAndIsRemovedWithoutLeaks() async throws {
    let f = try await Fixture()
    let pod = try await f.runPod("app")
    let id = try await f.create(
      pod, name: "main",
      command: ["sh", "-c", "echo $GREETING from $(hostname); trap 'exit 3' TERM; while true; do sleep 0.1; done"])
    #expect(try await f.status(id).state == .containerCreated)
    try await f.start(id)
    let running = try await f.waitFor(id, state: .containerRunning)
    #expect(running.state == .containerRunning)
    #expect(running.startedAt > 0)
    #expect(running.imageRef.contains("registry.test/test/busybox@sha256:"))

    // conmon writes the CRI log format.
    let logPath = "\(f.dir.path)/pod-logs/app/main.log"
    var log = ""
    for _ in 0..<200 where !log.contains("hello") {
      log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
      try await Task.sleep(for: .milliseconds(20))
    }
    #expect(log.contains(" stdout F hello from app"), "\(log)")

    // ExecSync: output, exit code, and a timeout that kills what it started.
    let exec = try await f.execSync(id, ["sh", "-c", "echo out; echo err >&2; exit 5"], timeout: 10)
    #expect(String(decoding: exec.stdout, as: UTF8.self) == "out\n")
    #expect(String(decoding: exec.stderr, as: UTF8.self) == "err\n")
    #expect(exec.exitCode == 5)
    // The exec'd process starts with no signal blocked or ignored (crio's
    // threads block some; `busybox ping -c 5` hung on one).
    let signals = String(decoding: try await f.execSync(id, ["cat", "/proc/self/status"], timeout: 10).stdout, as: UTF8.self)
    #expect(signals.contains("SigBlk:\t0000000000000000"), "\(signals)")
    let ignored = signals.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
      .flatMap { UInt64($0.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) }
    // glibc's own signals 32 and 33 aside (its posix_spawn leaves them ignored).
    #expect(ignored.map { $0 & ~((1 << 31) | (1 << 32)) } == 0, "\(signals)")
    let slow = await #expect(throws: RPCError.self) { try await f.execSync(id, ["sleep", "37"], timeout: 1) }
    #expect(slow?.code == .deadlineExceeded, "\(String(describing: slow))")
    let ps = try await f.execSync(id, ["ps"], timeout: 10)
    #expect(!String(decoding: ps.stdout, as: UTF8.self).contains("sleep 37"), "the timed-out process is gone")
    // A client that gives up first (its own deadline) also takes the command down.
    let abandoned = await #expect(throws: RPCError.self) {
      try await CRIConnection.with(f.dir.endpoint, timeout: .seconds(1)) {
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = id
        request.cmd = ["sleep", "38"]
        request.timeout = 30
        return try await $0.runtime.execSync(request, options: $0.options)
      }
    }
    #expect(abandoned?.code == .deadlineExceeded)
    try await Task.sleep(for: .milliseconds(300))
    let after = try await f.execSync(id, ["ps"], timeout: 10)
    #expect(!String(decoding: after.stdout, as: UTF8.self).contains("sleep 38"), "the abandoned process is gone")

    // Removing the image a container uses is refused.
    let inUse = await #expect(throws: RPCError.self) { try await f.images.remove(f.image.id) }
    #expect(inUse?.code == .failedPrecondition)

    try await f.stop(id, timeout: 10)
    let exited = try await f.status(id)
    #expect(exited.state == .containerExited)
    #expect(exited.exitCode == 3)
    #expect(exited.reason == "Error")
    #expect(exited.finishedAt >= exited.startedAt)
    try await f.stop(id, timeout: 10)  // again: fine

    try await f.remove(id)
    let gone = await #expect(throws: RPCError.self) { try await f.status(id) }
    #expect(gone?.code == .notFound)
    try await f.remove(id)  // again: fine
    try await f.call {
      var request = Runtime_V1_StopPodSandboxRequest()
      request.podSandboxID = pod.0
      _ = try await $0.runtime.stopPodSandbox(request, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = pod.0
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }

  /// RemoveContainer releases the container's runtime state, rootfs and
  /// bundle in the background, from a record moved aside first: a crio that
  /// dies before it is done finishes the job on its next start.
  @Test func aRemovalCutShortByACrashIsFinishedOnTheNextStart() async throws {
    let f = try await Fixture()
    let pod = try await f.runPod("crash")
    let id = try await f.create(pod, name: "doomed", command: ["sleep", "3600"])
    try await f.start(id)
    try await f.stop(id, timeout: 0)
    let owned = [
      "\(f.dir.path)/run/crio/containers/\(id)", "\(f.dir.root)/overlay-containers/\(id)", "/run/runc/\(id)",
      "\(f.dir.path)/run/crio/exits/\(id)",
    ]
    for path in owned { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
    #expect(f.mounts.contains { $0.contains(id) })
    #expect(try await f.images.daemon.stop(SIGKILL) == SIGKILL)
    // As if crio died right after RemoveContainer moved the record aside.
    #expect(rename("\(f.dir.root)/crio/containers/\(id).json", "\(f.dir.root)/crio/removing-containers/\(id).json") == 0)
    f.images.daemon = try await DaemonProcess.started(in: f.dir)
    let listed = try await f.call {
      try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options).containers
    }
    #expect(!listed.contains { $0.id == id })
    // The name is free again.
    let again = try await f.create(pod, name: "doomed", command: ["true"])
    try await f.remove(again)
    // RemovePodSandbox returns once the pod's containers are released, the recovered one included.
    try await f.call {
      var request = Runtime_V1_StopPodSandboxRequest()
      request.podSandboxID = pod.0
      _ = try await $0.runtime.stopPodSandbox(request, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = pod.0
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
    for path in owned + ["\(f.dir.root)/crio/removing-containers/\(id).json"] {
      #expect(!FileManager.default.fileExists(atPath: path), "\(path) is left")
    }
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }

  @Test func exitCodesAndListFilters() async throws {
    let f = try await Fixture()
    let pod = try await f.runPod("jobs")
    let ok = try await f.create(pod, name: "ok", command: ["true"])
    let bad = try await f.create(pod, name: "bad", command: ["sh", "-c", "exit 7"])
    for id in [ok, bad] { try await f.start(id) }
    let okStatus = try await f.waitFor(ok, state: .containerExited)
    let badStatus = try await f.waitFor(bad, state: .containerExited)
    #expect(okStatus.exitCode == 0)
    #expect(okStatus.reason == "Completed")
    let notRunning = await #expect(throws: RPCError.self) { try await f.execSync(ok, ["true"], timeout: 5) }
    #expect(notRunning?.code == .failedPrecondition)
    #expect(badStatus.exitCode == 7)
    let duplicate = await #expect(throws: RPCError.self) { try await f.create(pod, name: "ok", command: ["true"]) }
    #expect(duplicate?.code == .alreadyExists)
    let listed = try await f.call {
      var request = Runtime_V1_ListContainersRequest()
      request.filter.podSandboxID = pod.0
      request.filter.state.state = .containerExited
      return try await $0.runtime.listContainers(request, options: $0.options).containers
    }
    #expect(Set(listed.map(\.id)) == [ok, bad])
    // Removing the pod removes its containers.
    try await f.call {
      var stop = Runtime_V1_StopPodSandboxRequest()
      stop.podSandboxID = pod.0
      _ = try await $0.runtime.stopPodSandbox(stop, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = pod.0
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
    let after = try await f.call {
      try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options).containers
    }
    #expect(after.isEmpty)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }

  @Test func unknownContainersAndMissingImages() async throws {
    let f = try await Fixture()
    try await f.stop("0123456789abcdef", timeout: 1)
    try await f.remove("0123456789abcdef")
    let status = await #expect(throws: RPCError.self) { try await f.status("0123456789abcdef") }
    #expect(status?.code == .notFound)
    let pod = try await f.runPod("noimage")
    let missing = await #expect(throws: RPCError.self) {
      try await f.call {
        var request = Runtime_V1_CreateContainerRequest()
        request.podSandboxID = pod.0
        request.config.metadata.name = "x"
        request.config.image.image = "registry.test/test/absent:1"
        return try await $0.runtime.createContainer(request, options: $0.options).containerID
      }
    }
    #expect(missing?.code == .notFound)
    try await f.call {
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = pod.0
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
    try await f.images.stop()
  }

  @Test func crioctlDrivesPodsAndContainersFromJSONConfigs() async throws {
    let f = try await ContainerTests.Fixture()
    let crioctl = try Binaries.path(of: "crioctl")
    let endpoint = ["-r", "unix://\(f.dir.socket)"]
    let pod = "\(f.dir.path)/pod.json"
    let ctr = "\(f.dir.path)/ctr.json"
    try #"{"metadata": {"name": "cli", "namespace": "default", "uid": "cli-uid"}, "hostname": "cli-host", "log_directory": "\#(f.dir.path)/cli-logs", "linux": {"security_context": {"namespace_options": {"pid": 1}}}}"#
      .write(toFile: pod, atomically: true, encoding: .utf8)
    try #"{"metadata": {"name": "sleeper"}, "image": {"image": "registry.test/test/busybox:1"}, "command": ["sleep", "60"], "log_path": "sleeper.log"}"#
      .write(toFile: ctr, atomically: true, encoding: .utf8)

    let podID = try runCommand(crioctl, endpoint + ["runp", pod]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(podID.count == 64, "\(podID)")
    #expect(try runCommand(crioctl, endpoint + ["pods"]).output.contains("cli"))
    let ctrID = try runCommand(crioctl, endpoint + ["create", podID, ctr, pod]).output
      .trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(ctrID.count == 64, "\(ctrID)")
    #expect(try runCommand(crioctl, endpoint + ["start", ctrID]).status == 0)
    #expect(try runCommand(crioctl, endpoint + ["ps"]).output.contains("Running"))
    let exec = try runCommand(crioctl, endpoint + ["exec", ctrID, "--", "cat", "/etc/hostname"])
    #expect(exec.status == 0)
    #expect(exec.output == "cli-host\n")
    #expect(try runCommand(crioctl, endpoint + ["exec", ctrID, "--", "sh", "-c", "exit 4"]).status == 4)
    #expect(try runCommand(crioctl, endpoint + ["inspect", ctrID]).output.contains("CONTAINER_RUNNING"))
    #expect(try runCommand(crioctl, endpoint + ["stop", "-t", "1", ctrID]).status == 0)
    #expect(try runCommand(crioctl, endpoint + ["ps", "-a"]).output.contains("Exited"))
    #expect(try runCommand(crioctl, endpoint + ["rm", ctrID]).status == 0)
    #expect(try runCommand(crioctl, endpoint + ["stopp", podID]).output.contains("Stopped sandbox"))
    #expect(try runCommand(crioctl, endpoint + ["rmp", podID]).output.contains("Removed sandbox"))
    #expect(try runCommand(crioctl, endpoint + ["pods", "-q"]).output.isEmpty)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }
}
