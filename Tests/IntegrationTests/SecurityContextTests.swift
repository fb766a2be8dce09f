import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Security contexts observed from inside real containers (runc through
/// conmon), and the infra container of pods that share a PID namespace.
@Suite(.serialized) struct SecurityContextTests {
  /// A daemon with two images: `registry.test/test/secure:1` (busybox, a
  /// user in an image-defined group, a file to mask) and the pause image
  /// `registry.test/test/pause:1` (whose `/pause` is a shell loop).
  final class Fixture: @unchecked Sendable {
    static let image = "registry.test/test/secure:1"
    static let pauseImage = "registry.test/test/pause:1"
    let images: ImageFixture
    var dir: DaemonDirectory { images.dir }

    init() async throws {
      images = try await ImageFixture(extraConfig: """
        [crio.image]
        pause_image = "\(Self.pauseImage)"
        pause_command = "/pause"
        """)
      var users = TarWriter()
      users.directory("etc")
      users.file("etc/passwd", """
        root:x:0:0:root:/root:/bin/sh
        www-data:x:33:33:www-data:/var/www:/bin/sh
        default-user:x:1000:1000::/home/default-user:/bin/sh
        nobody:x:65534:65534:nobody:/nonexistent:/bin/sh

        """)
      users.file("etc/group", """
        root:x:0:
        www-data:x:33:
        default-user:x:1000:
        group-defined-in-image:x:50000:default-user
        nogroup:x:65534:

        """)
      users.file("etc/secret", "classified\n")
      let image = try TestImage(layerTars: [try TestImage.busyboxLayer(), users.archive])
      try await image.push(to: images.registry.host, repository: "test/secure", tag: "1")
      var pause = TarWriter()
      pause.file("pause", "#!/bin/sh\nwhile true; do sleep 3600; done\n", mode: 0o755)
      let pauseImage = try TestImage(layerTars: [try TestImage.busyboxLayer(), pause.archive], label: "pause")
      try await pauseImage.push(to: images.registry.host, repository: "test/pause", tag: "1")
      try SandboxFixture.loopbackOnly.write(toFile: "\(dir.cniDir)/10-lo.conflist", atomically: true, encoding: .utf8)
      _ = try await images.pull(Self.image)
    }

    func call<R: Sendable>(_ body: (CRIConnection) async throws -> R) async throws -> R {
      try await CRIConnection.with(dir.endpoint, timeout: .seconds(60), body)
    }

    func runPod(
      _ name: String, pid: Runtime_V1_NamespaceMode = .container, privileged: Bool = false
    ) async throws -> (String, Runtime_V1_PodSandboxConfig) {
      var config = podConfig(name, hostname: name)
      config.linux.securityContext.namespaceOptions.pid = pid
      config.linux.securityContext.privileged = privileged
      config.logDirectory = "\(dir.path)/pod-logs/\(name)"
      let id = try await call {
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config = config
        return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
      }
      return (id, config)
    }

    func createContainer(
      _ pod: (String, Runtime_V1_PodSandboxConfig), name: String, command: [String] = ["sleep", "3600"],
      configure: (inout Runtime_V1_ContainerConfig) -> Void = { _ in }
    ) async throws -> String {
      var config = Runtime_V1_ContainerConfig()
      config.metadata.name = name
      config.image.image = Self.image
      config.command = command
      config.logPath = "\(name).log"
      configure(&config)
      let request = {
        var request = Runtime_V1_CreateContainerRequest()
        request.podSandboxID = pod.0
        request.sandboxConfig = pod.1
        request.config = config
        return request
      }()
      return try await call { try await $0.runtime.createContainer(request, options: $0.options).containerID }
    }

    /// Creates and starts a container and waits until it runs.
    func run(
      _ pod: (String, Runtime_V1_PodSandboxConfig), name: String, command: [String] = ["sleep", "3600"],
      configure: (inout Runtime_V1_ContainerConfig) -> Void = { _ in }
    ) async throws -> String {
      let id = try await createContainer(pod, name: name, command: command, configure: configure)
      try await call {
        var request = Runtime_V1_StartContainerRequest()
        request.containerID = id
        _ = try await $0.runtime.startContainer(request, options: $0.options)
      }
      for _ in 0..<250 where try await status(id).state != .containerRunning {
        try await Task.sleep(for: .milliseconds(20))
      }
      try #require(try await status(id).state == .containerRunning, "container \(name) is running")
      return id
    }

    func status(_ id: String) async throws -> Runtime_V1_ContainerStatus {
      try await call {
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = id
        return try await $0.runtime.containerStatus(request, options: $0.options).status
      }
    }

    func exec(_ id: String, _ cmd: [String]) async throws -> (out: String, err: String, code: Int32) {
      let response = try await call {
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = id
        request.cmd = cmd
        request.timeout = 20
        return try await $0.runtime.execSync(request, options: $0.options)
      }
      return (
        String(decoding: response.stdout, as: UTF8.self), String(decoding: response.stderr, as: UTF8.self),
        response.exitCode
      )
    }

    /// `/proc/<which>/status` fields inside the container, e.g. `CapBnd`.
    func procStatus(_ id: String, _ which: String = "self") async throws -> [String: String] {
      let out = try await exec(id, ["cat", "/proc/\(which)/status"]).out
      var fields: [String: String] = [:]
      for line in out.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
      }
      return fields
    }

    func podStatus(_ id: String) async throws -> Runtime_V1_PodSandboxStatusResponse {
      try await call {
        var request = Runtime_V1_PodSandboxStatusRequest()
        request.podSandboxID = id
        request.verbose = true
        return try await $0.runtime.podSandboxStatus(request, options: $0.options)
      }
    }

    /// The infra container's pid from the verbose pod status, if the pod has one.
    func infraPID(_ id: String) async throws -> Int32? {
      let info = try await podStatus(id).info["info"] ?? "{}"
      let object = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
      return ((object?["infraContainer"] as? [String: Any])?["pid"] as? NSNumber)?.int32Value
    }

    func stopPod(_ id: String) async throws {
      try await call {
        var request = Runtime_V1_StopPodSandboxRequest()
        request.podSandboxID = id
        _ = try await $0.runtime.stopPodSandbox(request, options: $0.options)
      }
    }

    func removePod(_ id: String) async throws {
      try await call {
        var request = Runtime_V1_RemovePodSandboxRequest()
        request.podSandboxID = id
        _ = try await $0.runtime.removePodSandbox(request, options: $0.options)
      }
    }

    /// Stops and removes the pods, then checks nothing of them is left: no
    /// mounts, no process naming a pod or one of `ids` (conmon, pause), no
    /// infra record, no attach link.
    func removeAndCheckClean(_ pods: [String], ids: [String]) async throws {
      for pod in pods {
        try await stopPod(pod)
        try await removePod(pod)
      }
      #expect(MountTable.mountPoints(under: dir.path).isEmpty, "\(MountTable.mountPoints(under: dir.path))")
      let leftovers = SecurityContextTests.processes(naming: ids + pods)
      #expect(leftovers.isEmpty, "processes left: \(leftovers)")
      let infraRecords = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir.root)/crio/infra-containers")) ?? []
      #expect(infraRecords.isEmpty, "\(infraRecords)")
      let links = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir.path)/run/crio/attach")) ?? []
      #expect(links.isEmpty, "\(links)")
    }
  }

  /// Command lines of live processes that mention any of `needles`.
  static func processes(naming needles: [String]) -> [String] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { Int32($0) != nil } ?? []
    return pids.compactMap { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
      let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
      return needles.contains { line.contains($0) } ? "\(pid): \(line)" : nil
    }
  }

  /// The test runner's own bounding set: crio runs as the same root, so a
  /// privileged container gets exactly this.
  static var hostBounding: String {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") } ?? ""
    return line.split(separator: "\t").last.map(String.init) ?? ""
  }

  static func mask(_ bits: [Int]) -> String {
    String(format: "%016llx", bits.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) })
  }

  @Test func capabilitiesAddDropAllAndNoNewPrivsAsSeenInside() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let pod = try await f.runPod("caps")
    // CRI-O's nine defaults: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE.
    let defaults = Self.mask([0, 1, 3, 4, 5, 6, 7, 8, 10])
    let plain = try await f.run(pod, name: "plain")
    for which in ["1", "self"] {  // the container's init and an exec'd process
      let status = try await f.procStatus(plain, which)
      #expect(status["CapBnd"] == defaults, "\(which): \(status)")
      #expect(status["CapEff"] == defaults, "\(which)")
      #expect(status["NoNewPrivs"] == "0")
      #expect(status["Seccomp"] == "0", "no profile asked for: unconfined")
    }
    #expect(try await f.exec(plain, ["/bin/busybox", "hostname", "other"]).code != 0, "no CAP_SYS_ADMIN")

    let added = try await f.run(pod, name: "added") {
      $0.linux.securityContext.capabilities.addCapabilities = ["NET_ADMIN", "CAP_SYS_TIME"]
      $0.linux.securityContext.capabilities.dropCapabilities = ["chown"]
      $0.linux.securityContext.noNewPrivs = true
    }
    let addedStatus = try await f.procStatus(added, "1")
    #expect(addedStatus["CapEff"] == Self.mask([1, 3, 4, 5, 6, 7, 8, 10, 12, 25]), "\(addedStatus)")
    #expect(addedStatus["NoNewPrivs"] == "1")
    #expect(try await f.procStatus(added)["NoNewPrivs"] == "1", "exec'd processes too")

    let none = try await f.run(pod, name: "none") { $0.linux.securityContext.capabilities.dropCapabilities = ["ALL"] }
    let noneStatus = try await f.procStatus(none, "1")
    #expect(noneStatus["CapBnd"] == "0000000000000000")
    #expect(noneStatus["CapEff"] == "0000000000000000")
    let onlyNetAdmin = try await f.run(pod, name: "only-net-admin") {
      $0.linux.securityContext.capabilities.dropCapabilities = ["ALL"]
      $0.linux.securityContext.capabilities.addCapabilities = ["NET_ADMIN"]
    }
    #expect(try await f.procStatus(onlyNetAdmin, "1")["CapBnd"] == Self.mask([12]))

    // ALL is what crio may hand out: its own bounding set, never more (root here lacks CAP_SYS_RESOURCE).
    let all = try await f.run(pod, name: "all") { $0.linux.securityContext.capabilities.addCapabilities = ["ALL"] }
    #expect(try await f.procStatus(all, "1")["CapBnd"] == Self.hostBounding)

    let unknown = await #expect(throws: RPCError.self) {
      try await f.createContainer(pod, name: "unknown") { $0.linux.securityContext.capabilities.addCapabilities = ["FLY"] }
    }
    #expect(unknown?.code == .invalidArgument)
    try await f.removeAndCheckClean([pod.0], ids: [plain, added, none, onlyNetAdmin, all])
    try await f.images.stop()
  }

  @Test func privilegedContainersSeeTheHost() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let unprivilegedPod = try await f.runPod("plain-pod")
    let refused = await #expect(throws: RPCError.self) {
      try await f.createContainer(unprivilegedPod, name: "p") { $0.linux.securityContext.privileged = true }
    }
    #expect(refused?.code == .invalidArgument)

    let pod = try await f.runPod("privileged-pod", privileged: true)
    let id = try await f.run(pod, name: "p") {
      $0.linux.securityContext.privileged = true
      $0.linux.securityContext.seccompProfilePath = "runtime/default"
    }
    let status = try await f.procStatus(id, "1")
    #expect(status["CapBnd"] == Self.hostBounding, "\(status)")
    #expect(status["CapEff"] == Self.hostBounding)
    #expect(status["Seccomp"] == "0", "privileged: no seccomp")
    // A host device runc would not create on its own.
    let hostDevice = try #require(
      ["kmsg", "loop-control", "fuse", "autofs", "tty1"].first { FileManager.default.fileExists(atPath: "/dev/\($0)") })
    #expect(try await f.exec(id, ["sh", "-c", "[ -c /dev/\(hostDevice) ]"]).code == 0, "/dev/\(hostDevice)")
    let mounts = try await f.exec(id, ["cat", "/proc/self/mountinfo"]).out
    #expect(!mounts.contains(" /proc/timer_list "), "nothing masked: \(mounts)")
    #expect(!mounts.contains(" /proc/sys "), "nothing read-only")
    let sys = mounts.split(separator: "\n").first { $0.split(separator: " ").dropFirst(4).first == "/sys" }
    #expect(sys?.split(separator: " ").dropFirst(5).first?.hasPrefix("rw") == true, "/sys is writable: \(sys ?? "")")
    #expect(try await f.exec(id, ["/bin/busybox", "hostname", "privileged-host"]).code == 0)

    try await f.removeAndCheckClean([pod.0, unprivilegedPod.0], ids: [id])
    try await f.images.stop()
  }

  @Test func maskedAndReadonlyPathsDefaultsAndOverrides() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let pod = try await f.runPod("paths")
    let plain = try await f.run(pod, name: "plain")
    #expect(try await f.exec(plain, ["cat", "/proc/timer_list"]).out.isEmpty, "masked by default")
    let procSys = try await f.exec(plain, ["sh", "-c", "touch /proc/sys/kernel/hostname"])
    #expect(procSys.err.contains("Read-only file system"), "read-only by default: \(procSys)")
    #expect(try await f.exec(plain, ["cat", "/etc/secret"]).out == "classified\n")

    let custom = try await f.run(pod, name: "custom") {
      $0.linux.securityContext.maskedPaths = ["/etc/secret", "/var"]
      $0.linux.securityContext.readonlyPaths = ["/tmp"]
    }
    let secret = try await f.exec(custom, ["cat", "/etc/secret"])
    #expect(secret.code == 0)
    #expect(secret.out.isEmpty, "a masked file reads as /dev/null")
    #expect(try await f.exec(custom, ["sh", "-c", "[ -c /etc/secret ]"]).code == 0)
    #expect(try await f.exec(custom, ["touch", "/var/x"]).code != 0, "a masked directory is a read-only tmpfs")
    let touch = try await f.exec(custom, ["touch", "/tmp/test"])
    #expect(touch.code != 0)
    #expect(touch.err == "touch: /tmp/test: Read-only file system\n")
    #expect(try await f.exec(custom, ["touch", "/root/test"]).code == 0, "the rest stays writable")
    #expect(!(try await f.exec(custom, ["cat", "/proc/timer_list"]).out.isEmpty), "the request replaced the defaults")
    try await f.removeAndCheckClean([pod.0], ids: [plain, custom])
    try await f.images.stop()
  }

  @Test func seccompDefaultLocalhostUnconfinedAndPrivileged() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let profiles = "\(f.dir.path)/seccomp"
    try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
    try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}]}"#
      .write(toFile: "\(profiles)/block-chmod.json", atomically: true, encoding: .utf8)
    try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]}"#
      .write(toFile: "\(profiles)/block-hostname.json", atomically: true, encoding: .utf8)
    let pod = try await f.runPod("seccomp")

    // The built-in default, through the seccomp message and the deprecated path.
    let byMessage = try await f.run(pod, name: "default") {
      $0.linux.securityContext.seccomp.profileType = .runtimeDefault
    }
    let byPath = try await f.run(pod, name: "default-path") {
      $0.linux.securityContext.seccompProfilePath = "docker/default"
      $0.linux.securityContext.capabilities.addCapabilities = ["SYS_CHROOT"]
    }
    for id in [byMessage, byPath] {
      #expect(try await f.procStatus(id, "1")["Seccomp"] == "2")
      #expect(try await f.procStatus(id)["Seccomp"] == "2")
      let ls = try await f.exec(id, ["sh", "-c", "ls / > /dev/null && id -u && echo ok"])
      #expect(ls.code == 0 && ls.out.hasSuffix("ok\n"), "ordinary programs run: \(ls)")
    }
    #expect(try await f.exec(byMessage, ["/bin/busybox", "hostname", "refused"]).code != 0)

    // The default lifts its refusals with the capability: SYS_ADMIN may set the host name.
    let admin = try await f.run(pod, name: "default-admin") {
      $0.linux.securityContext.seccomp.profileType = .runtimeDefault
      $0.linux.securityContext.capabilities.addCapabilities = ["SYS_ADMIN"]
    }
    #expect(try await f.exec(admin, ["/bin/busybox", "hostname", "admin-host"]).code == 0)

    // Localhost, by reference and by the old path form.
    let chmodBlocked = try await f.run(pod, name: "localhost") {
      $0.linux.securityContext.seccomp.profileType = .localhost
      $0.linux.securityContext.seccomp.localhostRef = "\(profiles)/block-chmod.json"
    }
    let chmodBlockedByPath = try await f.run(pod, name: "localhost-path") {
      $0.linux.securityContext.seccompProfilePath = "localhost/\(profiles)/block-chmod.json"
    }
    for id in [chmodBlocked, chmodBlockedByPath] {
      let chmod = try await f.exec(id, ["/bin/busybox", "chmod", "400", "/"])
      #expect(chmod.code != 0)
      #expect(chmod.err.contains("Operation not permitted"), "\(chmod)")
    }
    let hostnameBlocked = try await f.run(pod, name: "block-hostname") {
      $0.linux.securityContext.seccomp.profileType = .localhost
      $0.linux.securityContext.seccomp.localhostRef = "\(profiles)/block-hostname.json"
      $0.linux.securityContext.capabilities.addCapabilities = ["SYS_ADMIN"]
    }
    #expect(try await f.exec(hostnameBlocked, ["/bin/busybox", "hostname", "blocked"]).code != 0)

    // Unconfined with SYS_ADMIN sets the host name.
    let unconfined = try await f.run(pod, name: "unconfined") {
      $0.linux.securityContext.seccomp.profileType = .unconfined
      $0.linux.securityContext.capabilities.addCapabilities = ["SYS_ADMIN"]
    }
    #expect(try await f.procStatus(unconfined)["Seccomp"] == "0")
    #expect(try await f.exec(unconfined, ["/bin/busybox", "hostname", "free-host"]).code == 0)

    // Missing and unknown profiles are the caller's mistake.
    let missing = await #expect(throws: RPCError.self) {
      try await f.createContainer(pod, name: "missing") {
        $0.linux.securityContext.seccomp.profileType = .localhost
        $0.linux.securityContext.seccomp.localhostRef = "\(profiles)/absent.json"
      }
    }
    #expect(missing?.code == .invalidArgument)
    let unknown = await #expect(throws: RPCError.self) {
      try await f.createContainer(pod, name: "unknown") { $0.linux.securityContext.seccompProfilePath = "strict" }
    }
    #expect(unknown?.code == .invalidArgument)

    // Privileged ignores a profile.
    let privilegedPod = try await f.runPod("seccomp-privileged", privileged: true)
    let privileged = try await f.run(privilegedPod, name: "privileged") {
      $0.linux.securityContext.privileged = true
      $0.linux.securityContext.seccomp.profileType = .localhost
      $0.linux.securityContext.seccomp.localhostRef = "\(profiles)/block-hostname.json"
    }
    #expect(try await f.exec(privileged, ["/bin/busybox", "hostname", "privileged-host"]).code == 0)

    try await f.removeAndCheckClean(
      [pod.0, privilegedPod.0],
      ids: [byMessage, byPath, admin, chmodBlocked, chmodBlockedByPath, hostnameBlocked, unconfined, privileged])
    try await f.images.stop()
  }

  @Test func usersGroupsAndTheOOMScore() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let pod = try await f.runPod("users")
    let merged = try await f.run(pod, name: "merged") {
      $0.linux.securityContext.runAsUser.value = 1000
      $0.linux.securityContext.supplementalGroups = [1234, 5678]
    }
    #expect(try await f.exec(merged, ["id", "-G"]).out == "1000 1234 5678 50000\n")
    #expect(try await f.exec(merged, ["id", "-u"]).out == "1000\n")
    let user = try await f.status(merged).user.linux
    #expect(user.uid == 1000 && user.gid == 1000)
    #expect(user.supplementalGroups == [1000, 50000, 1234, 5678])
    let strict = try await f.run(pod, name: "strict") {
      $0.linux.securityContext.runAsUser.value = 1000
      $0.linux.securityContext.supplementalGroups = [1234]
      $0.linux.securityContext.supplementalGroupsPolicy = .strict
    }
    #expect(try await f.exec(strict, ["id", "-G"]).out == "1000 1234\n")
    let grouped = try await f.run(pod, name: "grouped") {
      $0.linux.securityContext.runAsUsername = "www-data"
      $0.linux.securityContext.runAsGroup.value = 1002
    }
    #expect(try await f.exec(grouped, ["sh", "-c", "echo $(id -u):$(id -g)"]).out == "33:1002\n")

    let invalid = await #expect(throws: RPCError.self) {
      try await f.createContainer(pod, name: "group-only") { $0.linux.securityContext.runAsGroup.value = 1002 }
    }
    #expect(invalid?.code == .invalidArgument)
    #expect(invalid?.message.contains("RunAsGroup") == true)

    // Lower than crio may set (no CAP_SYS_RESOURCE here): raised to crio's own score, not an error.
    let own = Int((try String(contentsOfFile: "/proc/self/oom_score_adj", encoding: .utf8))
      .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    let low = try await f.run(pod, name: "low-oom") { $0.linux.resources.oomScoreAdj = -999 }
    let lowScore = Int(try await f.exec(low, ["cat", "/proc/1/oom_score_adj"]).out.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(lowScore == own, "crio's own score when it lacks CAP_SYS_RESOURCE")
    let high = try await f.run(pod, name: "high-oom") { $0.linux.resources.oomScoreAdj = 700 }
    #expect(try await f.exec(high, ["cat", "/proc/1/oom_score_adj"]).out == "700\n")

    // AppArmor and SELinux requests are accepted (and logged as not applied).
    let labelled = try await f.run(pod, name: "labelled") {
      $0.linux.securityContext.apparmor.profileType = .localhost
      $0.linux.securityContext.apparmor.localhostRef = "k8s-profile"
      $0.linux.securityContext.selinuxOptions.type = "container_t"
    }
    #expect(f.images.daemon.log.contains("AppArmor profile localhost/k8s-profile requested"))
    #expect(f.images.daemon.log.contains("SELinux options"))
    try await f.removeAndCheckClean([pod.0], ids: [merged, strict, grouped, low, high, labelled])
    try await f.images.stop()
  }

  @Test func aPodSharingItsPIDNamespaceRunsPauseAsPID1AcrossRestarts() async throws {
    try requireHostTools()
    let f = try await Fixture()
    // A pod with its own PID namespaces per container has no infra container.
    let separate = try await f.runPod("separate", pid: .container)
    #expect(try await f.infraPID(separate.0) == nil)
    let alone = try await f.run(separate, name: "alone")
    #expect(try await f.exec(alone, ["cat", "/proc/1/cmdline"]).out.hasPrefix("sleep"))

    // The pause image is pulled on demand.
    let pod = try await f.runPod("shared", pid: .pod)
    #expect(try await f.images.status(Fixture.pauseImage).hasImage)
    let pausePID = try #require(try await f.infraPID(pod.0))
    let hostCmdline = String(decoding: FileManager.default.contents(atPath: "/proc/\(pausePID)/cmdline") ?? Data(), as: UTF8.self)
    #expect(hostCmdline.contains("/pause"), "\(hostCmdline)")
    #expect(try await f.podStatus(pod.0).status.state == .sandboxReady)

    let first = try await f.run(pod, name: "first", command: ["sleep", "1234"])
    let second = try await f.run(pod, name: "second") {
      $0.linux.securityContext.namespaceOptions.pid = .pod
    }
    for id in [first, second] {
      #expect(try await f.exec(id, ["cat", "/proc/1/cmdline"]).out.contains("/pause"), "PID 1 is pause")
    }
    #expect(try await f.exec(second, ["ps"]).out.contains("sleep 1234"), "the pod's processes see each other")
    let listed = try await f.call {
      try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options).containers
    }
    #expect(Set(listed.map(\.id)) == [alone, first, second], "the infra container is not a CRI container")
    let inUse = await #expect(throws: RPCError.self) { try await f.images.remove(Fixture.pauseImage) }
    #expect(inUse?.code == .failedPrecondition)

    // A restarted daemon finds the infra container again.
    #expect(try await f.images.daemon.stop() == 0)
    f.images.daemon = try await DaemonProcess.started(in: f.dir)
    #expect(try await f.infraPID(pod.0) == pausePID)
    #expect(try await f.podStatus(pod.0).status.state == .sandboxReady)
    let third = try await f.run(pod, name: "third")
    #expect(try await f.exec(third, ["ps"]).out.contains("sleep 1234"))

    // Stopping the pod kills pause (and with it the namespace); removing it leaves nothing.
    let infraID = try #require(
      (try? FileManager.default.contentsOfDirectory(atPath: "\(f.dir.root)/crio/infra-containers"))?.first)
      .replacingOccurrences(of: ".json", with: "")
    try await f.stopPod(pod.0)
    #expect(kill(pausePID, 0) == -1 && errno == ESRCH, "pause is gone after StopPodSandbox")
    #expect(try await f.podStatus(pod.0).status.state == .sandboxNotready)
    try await f.removeAndCheckClean([pod.0, separate.0], ids: [first, second, third, alone, infraID])
    try await f.images.remove(Fixture.pauseImage)
    try await f.images.stop()
  }

  @Test func aPodWhosePauseDiesIsNotReady() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let pod = try await f.runPod("fragile", pid: .pod)
    let pausePID = try #require(try await f.infraPID(pod.0))
    kill(pausePID, SIGKILL)
    var state = Runtime_V1_PodSandboxState.sandboxReady
    for _ in 0..<250 where state == .sandboxReady {
      try await Task.sleep(for: .milliseconds(20))
      state = try await f.podStatus(pod.0).status.state
    }
    #expect(state == .sandboxNotready)
    let listed = try await f.call {
      var request = Runtime_V1_ListPodSandboxRequest()
      request.filter.state.state = .sandboxReady
      return try await $0.runtime.listPodSandbox(request, options: $0.options).items
    }
    #expect(listed.isEmpty)
    let refused = await #expect(throws: RPCError.self) { try await f.createContainer(pod, name: "late") }
    #expect(refused?.code == .failedPrecondition)
    try await f.removeAndCheckClean([pod.0], ids: [])
    try await f.images.stop()
  }
}
