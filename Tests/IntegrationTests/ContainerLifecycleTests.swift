import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import NIOConcurrencyHelpers
import Testing

extension ContainerTests.Fixture {
  func runPod(_ name: String, privileged: Bool) async throws -> (String, Runtime_V1_PodSandboxConfig) {
    var config = podConfig(name, hostname: name)
    config.logDirectory = "\(dir.path)/pod-logs/\(name)"
    config.linux.securityContext.privileged = privileged
    let id = try await call {
      var request = Runtime_V1_RunPodSandboxRequest()
      request.config = config
      return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
    }
    return (id, config)
  }

  func create(
    _ pod: (String, Runtime_V1_PodSandboxConfig), name: String, command: [String],
    configure: (inout Runtime_V1_ContainerConfig) -> Void
  ) async throws -> String {
    var request = Runtime_V1_CreateContainerRequest()
    request.podSandboxID = pod.0
    request.sandboxConfig = pod.1
    request.config.metadata.name = name
    request.config.image.image = "registry.test/test/busybox:1"
    request.config.command = command
    request.config.logPath = "\(name).log"
    configure(&request.config)
    let built = request
    return try await call { try await $0.runtime.createContainer(built, options: $0.options).containerID }
  }

  /// Creates, starts and waits until the container runs.
  func run(
    _ pod: (String, Runtime_V1_PodSandboxConfig), name: String, command: [String],
    configure: (inout Runtime_V1_ContainerConfig) -> Void = { _ in }
  ) async throws -> String {
    let id = try await create(pod, name: name, command: command, configure: configure)
    try await start(id)
    try #require(try await waitFor(id, state: .containerRunning).state == .containerRunning)
    return id
  }

  func update(_ id: String, _ configure: (inout Runtime_V1_LinuxContainerResources) -> Void) async throws {
    var request = Runtime_V1_UpdateContainerResourcesRequest()
    request.containerID = id
    configure(&request.linux)
    let built = request
    _ = try await call { try await $0.runtime.updateContainerResources(built, options: $0.options) }
  }

  func reopenLog(_ id: String) async throws {
    var request = Runtime_V1_ReopenContainerLogRequest()
    request.containerID = id
    let built = request
    _ = try await call { try await $0.runtime.reopenContainerLog(built, options: $0.options) }
  }

  func removePod(_ id: String) async throws {
    try await call {
      var stop = Runtime_V1_StopPodSandboxRequest()
      stop.podSandboxID = id
      _ = try await $0.runtime.stopPodSandbox(stop, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = id
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
  }

  /// conmon processes started for this test's daemon.
  var conmons: [String] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return pids.filter { Int($0) != nil }.compactMap { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
      let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      guard let first = args.first, first.hasSuffix("conmon"), args.contains(where: { $0.contains(dir.path) }) else {
        return nil
      }
      return pid
    }
  }
}

/// The container's cgroup file (cgroupfs driver, default parent `/crio`).
private func cgroupFile(_ controller: String, _ id: String, _ file: String) -> String {
  "/sys/fs/cgroup/\(controller)/crio/crio-\(id)/\(file)"
}

private func readCgroup(_ controller: String, _ id: String, _ file: String) -> String? {
  guard let handle = FileHandle(forReadingAtPath: cgroupFile(controller, id, file)) else { return nil }
  defer { try? handle.close() }
  return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

private func cgroupExists(_ id: String) -> Bool {
  ["memory", "cpu", "cpuset", "pids"].contains {
    FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\($0)/crio/crio-\(id)")
  }
}

private func host(_ arguments: [String]) throws {
  let result = try runCommand(arguments[0], Array(arguments.dropFirst()))
  try #require(result.status == 0, "\(arguments.joined(separator: " ")): \(result.output)")
}

@Suite(.serialized) struct ContainerLifecycleTests {
  /// The CRI log format, ReopenContainerLog after a rename, and crioctl logs.
  @Test func logsAreWrittenInTheCRIFormatAndReopenedAfterARename() async throws {
    let f = try await ContainerTests.Fixture()
    let pod = try await f.runPod("logs")
    let id = try await f.run(
      pod, name: "talker",
      command: ["sh", "-c", "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.05; done"])
    let log = "\(f.dir.path)/pod-logs/logs/talker.log"
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    for _ in 0..<200 where !read(log).contains("err 2") { try await Task.sleep(for: .milliseconds(20)) }
    let record = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (stdout|stderr) F (out|err) \d+$"#)
    let lines = read(log).split(separator: "\n")
    #expect(lines.count >= 4)
    for line in lines { #expect(line.wholeMatch(of: record) != nil, "not a CRI log record: \(line)") }
    #expect(lines.contains { $0.hasSuffix(" stdout F out 0") })
    #expect(lines.contains { $0.hasSuffix(" stderr F err 0") })

    // The kubelet's rotation: rename, then ReopenContainerLog.
    #expect(rename(log, log + ".1") == 0)
    try await f.reopenLog(id)
    #expect(FileManager.default.fileExists(atPath: log), "the new log file exists when the call returns")
    for _ in 0..<200 where !read(log).contains("stdout F out") { try await Task.sleep(for: .milliseconds(20)) }
    #expect(read(log).contains("stdout F out"), "new lines land in the new file")
    let rotated = read(log + ".1").count
    try await Task.sleep(for: .milliseconds(300))
    #expect(read(log + ".1").count == rotated, "the renamed file no longer grows")

    // crioctl logs reads the file ContainerStatus names.
    let crioctl = try Binaries.path(of: "crioctl")
    let endpoint = ["-r", "unix://\(f.dir.socket)"]
    for _ in 0..<200 where read(log).split(separator: "\n").count < 4 { try await Task.sleep(for: .milliseconds(20)) }
    let tail = try runCommand(crioctl, endpoint + ["logs", "--tail", "2", id])
    #expect(tail.status == 0)
    #expect(tail.output.split(separator: "\n").count == 2, "\(tail.output)")
    let stdout = try runCommand(crioctl, endpoint + ["logs", "-s", "stdout", id])
    #expect(stdout.output.split(separator: "\n").allSatisfy { $0.hasPrefix("out ") }, "\(stdout.output)")
    let stamped = try runCommand(crioctl, endpoint + ["logs", "-t", "--tail", "1", id])
    #expect(stamped.output.wholeMatch(of: try Regex(#"\d{4}-\d\d-\d\dT\S+ (out|err) \d+\n"#)) != nil, "\(stamped.output)")

    // logs -f follows until the container exits, across a reopen.
    let follower = Process()
    follower.executableURL = URL(fileURLWithPath: crioctl)
    follower.arguments = endpoint + ["logs", "-f", "-s", "stdout", id]
    let output = Pipe()
    follower.standardOutput = output
    follower.standardError = FileHandle.nullDevice
    try follower.run()
    let received = NIOLockedValueBox(Data())
    let collected = Task.detached {
      let handle = output.fileHandleForReading
      while case let chunk = handle.availableData, !chunk.isEmpty { received.withLockedValue { $0.append(chunk) } }
    }
    // Rename only once the follower has the file open (it has printed a line):
    // a loaded machine can take longer than any fixed pause to start it.
    func followedSoFar() -> String { String(decoding: received.withLockedValue { $0 }, as: UTF8.self) }
    for _ in 0..<500 where !followedSoFar().contains("out ") { try await Task.sleep(for: .milliseconds(20)) }
    #expect(rename(log, log + ".2") == 0)
    try await f.reopenLog(id)
    try await Task.sleep(for: .milliseconds(500))
    try await f.stop(id, timeout: 1)
    for _ in 0..<250 where follower.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    #expect(!follower.isRunning, "logs -f ends when the container exits")
    if follower.isRunning { follower.terminate() }
    await collected.value
    let followed = followedSoFar()
    let numbers = followed.split(separator: "\n").compactMap { Int($0.dropFirst("out ".count)) }
    #expect(numbers.count > 10, "\(followed)")
    #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "no line lost or repeated across the reopen")

    // An exited container's log cannot be reopened, and no file appears.
    #expect(rename(log, log + ".3") == 0)
    let exited = await #expect(throws: RPCError.self) { try await f.reopenLog(id) }
    #expect(exited?.code == .failedPrecondition)
    #expect(!FileManager.default.fileExists(atPath: log))
    let unknown = await #expect(throws: RPCError.self) { try await f.reopenLog("0123456789abcdef") }
    #expect(unknown?.code == .notFound)

    try await f.remove(id)
    try await f.removePod(pod.0)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "conmon processes left: \(f.conmons)")
    #expect(!cgroupExists(id))
    try await f.images.stop()
  }

  /// OOMKilled with exit code 137, other exit codes, too-small limits.
  @Test func anOOMKillIsReportedAsOOMKilled() async throws {
    let f = try await ContainerTests.Fixture()
    let pod = try await f.runPod("oom")
    let hog = try await f.create(pod, name: "hog", command: ["sh", "-c", "x=a; while true; do x=$x$x; done"]) {
      $0.linux.resources.memoryLimitInBytes = 32 * 1024 * 1024
    }
    let killed = try await f.create(pod, name: "killed", command: ["sleep", "3600"])
    for id in [hog, killed] { try await f.start(id) }
    _ = try await f.waitFor(killed, state: .containerRunning)
    try await f.stop(killed, timeout: 0)
    let oom = try await f.waitFor(hog, state: .containerExited)
    #expect(oom.state == .containerExited)
    #expect(oom.exitCode == 137)
    #expect(oom.reason == "OOMKilled")
    #expect(oom.resources.linux.memoryLimitInBytes == 32 * 1024 * 1024)
    let signalled = try await f.waitFor(killed, state: .containerExited)
    #expect(signalled.exitCode == 137)
    #expect(signalled.reason == "Error", "a SIGKILL that is not the OOM killer's")

    let tooSmall = await #expect(throws: RPCError.self) {
      try await f.create(pod, name: "tiny", command: ["true"]) { $0.linux.resources.memoryLimitInBytes = 1024 * 1024 }
    }
    #expect(tooSmall?.code == .invalidArgument)

    for id in [hog, killed] { try await f.remove(id) }
    try await f.removePod(pod.0)
    #expect(!cgroupExists(hog) && !cgroupExists(killed), "cgroups are removed with the containers")
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "conmon processes left: \(f.conmons)")
    try await f.images.stop()
  }

  /// Limits in the cgroup files at creation and after UpdateContainerResources.
  @Test func resourceLimitsAreAppliedAndUpdatedLive() async throws {
    let f = try await ContainerTests.Fixture()
    let pod = try await f.runPod("limits")
    let id = try await f.run(pod, name: "limited", command: ["sleep", "3600"]) {
      $0.linux.resources.cpuShares = 512
      $0.linux.resources.cpuQuota = 20000
      $0.linux.resources.cpuPeriod = 100_000
      $0.linux.resources.memoryLimitInBytes = 64 * 1024 * 1024
      $0.linux.resources.cpusetCpus = "0"
    }
    let swapAccounted = FileManager.default.fileExists(atPath: cgroupFile("memory", id, "memory.memsw.limit_in_bytes"))
    #expect(readCgroup("cpu", id, "cpu.shares") == "512")
    #expect(readCgroup("cpu", id, "cpu.cfs_quota_us") == "20000")
    #expect(readCgroup("cpu", id, "cpu.cfs_period_us") == "100000")
    #expect(readCgroup("memory", id, "memory.limit_in_bytes") == "67108864")
    if swapAccounted { #expect(readCgroup("memory", id, "memory.memsw.limit_in_bytes") == "67108864") }
    #expect(readCgroup("cpuset", id, "cpuset.cpus") == "0")
    var status = try await f.status(id)
    #expect(status.resources.linux.cpuShares == 512)
    #expect(status.resources.linux.memoryLimitInBytes == 64 * 1024 * 1024)

    try await f.update(id) {
      $0.memoryLimitInBytes = 128 * 1024 * 1024
      $0.cpuShares = 256
      $0.cpuQuota = 50000
      $0.cpuPeriod = 100_000
    }
    #expect(readCgroup("memory", id, "memory.limit_in_bytes") == "134217728")
    if swapAccounted { #expect(readCgroup("memory", id, "memory.memsw.limit_in_bytes") == "134217728") }
    #expect(readCgroup("cpu", id, "cpu.shares") == "256")
    #expect(readCgroup("cpu", id, "cpu.cfs_quota_us") == "50000")
    #expect(readCgroup("cpuset", id, "cpuset.cpus") == "0", "what the update leaves out stays")
    status = try await f.status(id)
    #expect(status.resources.linux.memoryLimitInBytes == 128 * 1024 * 1024)
    #expect(status.resources.linux.cpuShares == 256)
    #expect(status.resources.linux.cpuQuota == 50000)
    #expect(status.resources.linux.cpusetCpus == "0")
    if swapAccounted { #expect(status.resources.linux.memorySwapLimitInBytes == 128 * 1024 * 1024) }

    // crioctl update, as crictl's flags.
    let crioctl = try Binaries.path(of: "crioctl")
    let cli = try runCommand(crioctl, ["-r", "unix://\(f.dir.socket)", "update", "--memory", "100663296", "--cpu-share", "300", id])
    #expect(cli.status == 0, "\(cli.output)")
    #expect(readCgroup("memory", id, "memory.limit_in_bytes") == "100663296")
    #expect(readCgroup("cpu", id, "cpu.shares") == "300")

    // Invalid updates change nothing.
    let swapBelow = await #expect(throws: RPCError.self) {
      try await f.update(id) {
        $0.memoryLimitInBytes = 64 * 1024 * 1024
        $0.memorySwapLimitInBytes = 32 * 1024 * 1024
      }
    }
    #expect(swapBelow?.code == .invalidArgument)
    let tooLow = await #expect(throws: RPCError.self) { try await f.update(id) { $0.memoryLimitInBytes = 4096 } }
    #expect(tooLow?.code == .invalidArgument)
    #expect(readCgroup("memory", id, "memory.limit_in_bytes") == "100663296")
    let unknown = await #expect(throws: RPCError.self) { try await f.update("0123456789abcdef") { $0.cpuShares = 2 } }
    #expect(unknown?.code == .notFound)

    try await f.stop(id, timeout: 0)
    let exited = await #expect(throws: RPCError.self) { try await f.update(id) { $0.cpuShares = 2 } }
    #expect(exited?.code == .failedPrecondition)

    try await f.remove(id)
    try await f.removePod(pod.0)
    // Released in the background after RemoveContainer, and before RemovePodSandbox returns.
    #expect(!cgroupExists(id))
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "conmon processes left: \(f.conmons)")
    try await f.images.stop()
  }

  /// rshared, rslave and rprivate bind mounts, seen from both sides; and recursive read-only mounts.
  @Test func mountPropagationReachesTheContainerAndBack() async throws {
    let f = try await ContainerTests.Fixture()
    let base = "\(f.dir.path)/propagation"
    let shared = "\(base)/shared", slave = "\(base)/slave", isolated = "\(base)/private", tree = "\(base)/tree"
    for dir in [shared, slave, isolated, "\(tree)/sub"] {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    func cleanUp() {
      // Deepest first; mounts the container propagated back included.
      for point in MountTable.mountPoints(under: base).reversed() { _ = try? runCommand("/usr/bin/umount", ["-l", point]) }
    }
    defer { cleanUp() }
    // The host side, as the kubelet keeps it: shared mounts for the sources that propagate.
    for dir in [shared, slave] {
      try host(["/usr/bin/mount", "--bind", dir, dir])
      try host(["/usr/bin/mount", "--make-rshared", dir])
    }
    // A private one, whatever the host's root is.
    try host(["/usr/bin/mount", "--bind", isolated, isolated])
    try host(["/usr/bin/mount", "--make-rprivate", isolated])
    try host(["/usr/bin/mount", "-t", "tmpfs", "tmpfs", "\(tree)/sub"])

    let pod = try await f.runPod("propagation", privileged: true)
    func mount(_ host: String, _ container: String, _ propagation: Runtime_V1_MountPropagation) -> Runtime_V1_Mount {
      var mount = Runtime_V1_Mount()
      mount.hostPath = host
      mount.containerPath = container
      mount.propagation = propagation
      return mount
    }
    let id = try await f.run(pod, name: "mounter", command: ["sleep", "3600"]) {
      $0.linux.securityContext.privileged = true
      $0.mounts = [
        mount(shared, "/mnt/shared", .propagationBidirectional),
        mount(slave, "/mnt/slave", .propagationHostToContainer),
        mount(isolated, "/mnt/private", .propagationPrivate),
      ]
    }
    let status = try await f.status(id)
    #expect(status.mounts.map(\.propagation) == [.propagationBidirectional, .propagationHostToContainer, .propagationPrivate])

    // Host to container.
    for dir in [shared, slave, isolated] {
      try FileManager.default.createDirectory(atPath: "\(dir)/from-host", withIntermediateDirectories: true)
      try host(["/usr/bin/mount", "-t", "tmpfs", "tmpfs", "\(dir)/from-host"])
      try "marker".write(toFile: "\(dir)/from-host/marker", atomically: false, encoding: .utf8)
    }
    func seen(_ path: String) async throws -> Bool {
      try await f.execSync(id, ["sh", "-c", "test -e \(path)"], timeout: 10).exitCode == 0
    }
    #expect(try await seen("/mnt/shared/from-host/marker"), "rshared: host mounts reach the container")
    #expect(try await seen("/mnt/slave/from-host/marker"), "rslave: host mounts reach the container")
    #expect(!(try await seen("/mnt/private/from-host/marker")), "rprivate: host mounts stay on the host")

    // Container to host.
    for dir in [shared, slave] {
      try FileManager.default.createDirectory(atPath: "\(dir)/from-container", withIntermediateDirectories: true)
    }
    for name in ["shared", "slave"] {
      let made = try await f.execSync(
        id, ["/bin/busybox", "mount", "-t", "tmpfs", "tmpfs", "/mnt/\(name)/from-container"], timeout: 10)
      #expect(made.exitCode == 0, "\(String(decoding: made.stderr, as: UTF8.self))")
    }
    let hostMounts = MountTable.mountPoints(under: base)
    #expect(hostMounts.contains("\(shared)/from-container"), "rshared: container mounts reach the host")
    #expect(!hostMounts.contains("\(slave)/from-container"), "rslave: container mounts stay in the container")

    // The host side is checked, not changed.
    for propagation in [Runtime_V1_MountPropagation.propagationBidirectional, .propagationHostToContainer] {
      let refused = await #expect(throws: RPCError.self) {
        try await f.create(pod, name: "refused-\(propagation.rawValue)", command: ["true"]) {
          $0.linux.securityContext.privileged = true
          $0.mounts = [mount(isolated, "/mnt/x", propagation)]
        }
      }
      #expect(refused?.code == .failedPrecondition, "\(String(describing: refused))")
    }

    // Recursive read-only: submounts are read-only too; a plain read-only mount keeps them writable.
    let handlers = try await f.call {
      try await $0.runtime.status(Runtime_V1_StatusRequest(), options: $0.options).runtimeHandlers
    }
    #expect(handlers.allSatisfy { $0.features.recursiveReadOnlyMounts }, "runc here has rro")
    let readonly = try await f.run(pod, name: "readonly", command: ["sleep", "3600"]) {
      var rro = mount(tree, "/mnt/rro", .propagationPrivate)
      rro.readonly = true
      rro.recursiveReadOnly = true
      var ro = mount(tree, "/mnt/ro", .propagationPrivate)
      ro.readonly = true
      $0.mounts = [rro, ro]
    }
    #expect(try await f.status(readonly).mounts.first?.recursiveReadOnly == true)
    #expect(try await f.execSync(readonly, ["touch", "/mnt/rro/sub/file"], timeout: 10).exitCode != 0)
    #expect(try await f.execSync(readonly, ["touch", "/mnt/ro/sub/file"], timeout: 10).exitCode == 0)
    #expect(try await f.execSync(readonly, ["touch", "/mnt/ro/file"], timeout: 10).exitCode != 0)
    for (writable, propagation) in [(true, Runtime_V1_MountPropagation.propagationPrivate), (false, .propagationBidirectional)] {
      let refused = await #expect(throws: RPCError.self) {
        try await f.create(pod, name: "rro-\(writable)-\(propagation.rawValue)", command: ["true"]) {
          var rro = mount(shared, "/mnt/x", propagation)
          rro.readonly = !writable
          rro.recursiveReadOnly = true
          $0.mounts = [rro]
        }
      }
      #expect(refused?.code == .invalidArgument)
    }

    for container in [id, readonly] { try await f.remove(container) }
    try await f.removePod(pod.0)
    cleanUp()
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "conmon processes left: \(f.conmons)")
    try await f.images.stop()
  }

  /// A timed-out ExecSync leaves no process (not even a zombie) behind.
  @Test func aTimedOutExecLeavesNoProcess() async throws {
    let f = try await ContainerTests.Fixture()
    let pod = try await f.runPod("exec")
    let id = try await f.run(pod, name: "idle", command: ["top"])
    let slow = await #expect(throws: RPCError.self) { try await f.execSync(id, ["sleep", "4321"], timeout: 1) }
    #expect(slow?.code == .deadlineExceeded)
    let names = try await f.execSync(id, ["sh", "-c", "cat /proc/[0-9]*/comm"], timeout: 10)
    #expect(!String(decoding: names.stdout, as: UTF8.self).contains("sleep"), "\(String(decoding: names.stdout, as: UTF8.self))")
    try await f.remove(id)
    try await f.removePod(pod.0)
    #expect(f.conmons.isEmpty)
    try await f.images.stop()
  }
}
