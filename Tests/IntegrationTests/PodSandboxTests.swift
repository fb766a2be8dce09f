import CCRIOSys
import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

private let nsfsMagic: Int64 = 0x6e73_6673
private let tmpfsMagic: Int64 = 0x0102_1994

/// A running daemon for sandbox tests, with helpers for the CRI calls.
final class SandboxFixture: @unchecked Sendable {
  let dir: DaemonDirectory
  var daemon: DaemonProcess!

  /// A loopback-only CNI network: pods get a working `lo` and no address.
  static let loopbackOnly = #"{"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]}"#

  init(extraArguments: [String] = [], conflist: String? = SandboxFixture.loopbackOnly) async throws {
    try requireHostTools()
    dir = try DaemonDirectory()
    if let conflist {
      try conflist.write(toFile: "\(dir.cniDir)/10-test.conflist", atomically: true, encoding: .utf8)
    }
    daemon = try await DaemonProcess.started(in: dir, extraArguments: extraArguments)
  }

  /// A daemon on a directory the test prepared (its CNI configuration, say).
  init(reusing dir: DaemonDirectory) async throws {
    self.dir = dir
    daemon = try await DaemonProcess.started(in: dir)
  }

  func call<R: Sendable>(_ body: (CRIConnection) async throws -> R) async throws -> R {
    try await CRIConnection.with(dir.endpoint, body)
  }

  func run(_ config: Runtime_V1_PodSandboxConfig, handler: String = "") async throws -> String {
    try await call {
      var request = Runtime_V1_RunPodSandboxRequest()
      request.config = config
      request.runtimeHandler = handler
      return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
    }
  }

  func status(_ id: String) async throws -> Runtime_V1_PodSandboxStatusResponse {
    try await call {
      var request = Runtime_V1_PodSandboxStatusRequest()
      request.podSandboxID = id
      request.verbose = true
      return try await $0.runtime.podSandboxStatus(request, options: $0.options)
    }
  }

  func stop(_ id: String) async throws {
    try await call {
      var request = Runtime_V1_StopPodSandboxRequest()
      request.podSandboxID = id
      _ = try await $0.runtime.stopPodSandbox(request, options: $0.options)
    }
  }

  func remove(_ id: String) async throws {
    try await call {
      var request = Runtime_V1_RemovePodSandboxRequest()
      request.podSandboxID = id
      _ = try await $0.runtime.removePodSandbox(request, options: $0.options)
    }
  }

  func list(_ filter: Runtime_V1_PodSandboxFilter? = nil) async throws -> [Runtime_V1_PodSandbox] {
    try await call {
      var request = Runtime_V1_ListPodSandboxRequest()
      if let filter { request.filter = filter }
      return try await $0.runtime.listPodSandbox(request, options: $0.options).items
    }
  }

  /// Mounts under this daemon's directories, from /proc/self/mountinfo.
  var mounts: [String] { MountTable.mountPoints(under: dir.path) }

  func stopDaemon() async throws {
    #expect(try await daemon.stop() == 0)
  }
}

func podConfig(
  _ name: String, namespace: String = "default", uid: String? = nil, hostname: String = "", labels: [String: String] = [:]
) -> Runtime_V1_PodSandboxConfig {
  var config = Runtime_V1_PodSandboxConfig()
  config.metadata.name = name
  config.metadata.namespace = namespace
  config.metadata.uid = uid ?? "uid-\(name)"
  config.hostname = hostname
  config.labels = labels
  config.linux.securityContext.namespaceOptions.pid = .container
  return config
}

@Suite(.serialized) struct PodSandboxTests {
  @Test func runPinsNamespacesWritesFilesAndStatusReportsIt() async throws {
    let fixture = try await SandboxFixture()
    var config = podConfig("web", hostname: "web-0", labels: ["app": "web"])
    config.dnsConfig.servers = ["10.96.0.10"]
    config.dnsConfig.searches = ["default.svc.cluster.local", "svc.cluster.local"]
    config.dnsConfig.options = ["ndots:5"]
    config.linux.sysctls = ["net.ipv4.ip_unprivileged_port_start": "80", "kernel.shmmni": "2048"]
    config.annotations = ["note": "x"]
    let id = try await fixture.run(config)
    #expect(id.count == 64)

    let response = try await fixture.status(id)
    let status = response.status
    #expect(status.id == id)
    #expect(status.state == .sandboxReady)
    #expect(status.metadata.name == "web")
    #expect(status.labels == ["app": "web"])
    #expect(status.annotations == ["note": "x"])
    #expect(status.createdAt > 0)
    #expect(status.linux.namespaces.options.pid == .container)

    let netns = "\(fixture.dir.namespacesDir)/netns/\(id)"
    let utsns = "\(fixture.dir.namespacesDir)/utsns/\(id)"
    let ipcns = "\(fixture.dir.namespacesDir)/ipcns/\(id)"
    for pin in [netns, utsns, ipcns] {
      #expect(crio_fs_type(pin) == nsfsMagic, "\(pin) is a pinned namespace")
    }
    // The namespaces are real and hold what the pod asked for.
    #expect(try run("/usr/bin/nsenter", ["--uts=\(utsns)", "hostname"]).output == "web-0\n")
    #expect(try run("/usr/bin/nsenter", ["--net=\(netns)", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]).output == "80\n")
    #expect(try run("/usr/bin/nsenter", ["--ipc=\(ipcns)", "cat", "/proc/sys/kernel/shmmni"]).output == "2048\n")
    // The host's own values are untouched.
    #expect(try String(contentsOfFile: "/proc/sys/kernel/shmmni", encoding: .utf8) != "2048\n")

    let info = try JSONSerialization.jsonObject(with: Data(try #require(response.info["info"]).utf8)) as? [String: Any]
    let runDirectory = try #require(info?["runDirectory"] as? String)
    #expect(try String(contentsOfFile: "\(runDirectory)/hostname", encoding: .utf8) == "web-0\n")
    #expect(try String(contentsOfFile: "\(runDirectory)/resolv.conf", encoding: .utf8)
      == "search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    #expect(try String(contentsOfFile: "\(runDirectory)/hosts", encoding: .utf8).contains("web-0"))
    #expect(crio_fs_type("\(runDirectory)/shm") == tmpfsMagic)

    try await fixture.stop(id)
    #expect(try await fixture.status(id).status.state == .sandboxNotready)
    #expect(fixture.mounts.isEmpty, "stop releases every mount: \(fixture.mounts)")
    #expect(!FileManager.default.fileExists(atPath: netns))
    try await fixture.stop(id)  // again: still fine
    try await fixture.remove(id)
    #expect(!FileManager.default.fileExists(atPath: runDirectory))
    let gone = await #expect(throws: RPCError.self) { try await fixture.status(id) }
    #expect(gone?.code == .notFound)
    try await fixture.remove(id)  // again: still fine
    try await fixture.stopDaemon()
  }

  @Test func namesAreUniqueUntilRemoved() async throws {
    let fixture = try await SandboxFixture()
    let first = try await fixture.run(podConfig("dup"))
    let duplicate = await #expect(throws: RPCError.self) { try await fixture.run(podConfig("dup")) }
    #expect(duplicate?.code == .alreadyExists)
    var nextAttempt = podConfig("dup")
    nextAttempt.metadata.attempt = 1
    let second = try await fixture.run(nextAttempt)
    try await fixture.stop(first)
    try await fixture.remove(first)
    let third = try await fixture.run(podConfig("dup"))
    for id in [second, third] {
      try await fixture.stop(id)
      try await fixture.remove(id)
    }
    #expect(fixture.mounts.isEmpty)
    try await fixture.stopDaemon()
  }

  @Test func unknownIdsStopAndRemoveQuietlyButStatusIsNotFound() async throws {
    let fixture = try await SandboxFixture()
    try await fixture.stop("0123456789abcdef")
    try await fixture.remove("0123456789abcdef")
    let error = await #expect(throws: RPCError.self) { try await fixture.status("0123456789abcdef") }
    #expect(error?.code == .notFound)
    try await fixture.stopDaemon()
  }

  @Test func invalidConfigsAreRejectedAndLeaveNothing() async throws {
    let fixture = try await SandboxFixture()
    var noName = podConfig("x")
    noName.metadata.name = ""
    var badSysctl = podConfig("sysctl")
    badSysctl.linux.sysctls = ["kernel.panic": "1"]
    var hostNetSysctl = podConfig("hostnet")
    hostNetSysctl.linux.securityContext.namespaceOptions.network = .node
    hostNetSysctl.linux.sysctls = ["net.ipv4.ip_forward": "1"]
    for config in [noName, badSysctl, hostNetSysctl] {
      let error = await #expect(throws: RPCError.self) { try await fixture.run(config) }
      #expect(error?.code == .invalidArgument, "\(String(describing: error))")
    }
    let handler = await #expect(throws: RPCError.self) { try await fixture.run(podConfig("h"), handler: "kata") }
    #expect(handler?.code == .invalidArgument)
    #expect(try await fixture.list().isEmpty)
    #expect(fixture.mounts.isEmpty)
    let pins = (try? FileManager.default.subpathsOfDirectory(atPath: fixture.dir.namespacesDir)) ?? []
    #expect(pins.allSatisfy { !$0.contains("/") }, "no pin files left: \(pins)")
    try await fixture.stopDaemon()
  }

  @Test func hostNamespacesAreNotPinned() async throws {
    let fixture = try await SandboxFixture()
    var config = podConfig("host")
    config.linux.securityContext.namespaceOptions.network = .node
    config.linux.securityContext.namespaceOptions.ipc = .node
    let id = try await fixture.run(config)
    #expect(!FileManager.default.fileExists(atPath: "\(fixture.dir.namespacesDir)/netns/\(id)"))
    #expect(!FileManager.default.fileExists(atPath: "\(fixture.dir.namespacesDir)/ipcns/\(id)"))
    #expect(!FileManager.default.fileExists(atPath: "\(fixture.dir.namespacesDir)/utsns/\(id)"))
    #expect(fixture.mounts.isEmpty)
    let status = try await fixture.status(id).status
    #expect(status.linux.namespaces.options.network == .node)
    try await fixture.remove(id)
    try await fixture.stopDaemon()
  }

  @Test func listFiltersByIdStateAndLabels() async throws {
    let fixture = try await SandboxFixture()
    let a = try await fixture.run(podConfig("a", labels: ["tier": "front", "app": "a"]))
    let b = try await fixture.run(podConfig("b", labels: ["tier": "back"]))
    try await fixture.stop(b)
    #expect(Set(try await fixture.list().map(\.id)) == [a, b])
    var byID = Runtime_V1_PodSandboxFilter()
    byID.id = String(a.prefix(12))
    #expect(try await fixture.list(byID).map(\.id) == [a])
    var ready = Runtime_V1_PodSandboxFilter()
    ready.state.state = .sandboxReady
    #expect(try await fixture.list(ready).map(\.id) == [a])
    var notReady = Runtime_V1_PodSandboxFilter()
    notReady.state.state = .sandboxNotready
    #expect(try await fixture.list(notReady).map(\.id) == [b])
    var labels = Runtime_V1_PodSandboxFilter()
    labels.labelSelector = ["tier": "back"]
    #expect(try await fixture.list(labels).map(\.id) == [b])
    labels.labelSelector = ["tier": "front", "app": "nope"]
    #expect(try await fixture.list(labels).isEmpty)
    for id in [a, b] { try await fixture.remove(id) }
    try await fixture.stopDaemon()
  }

  @Test func sandboxesSurviveRestartsAndALostPinMeansNotReady() async throws {
    let fixture = try await SandboxFixture()
    let kept = try await fixture.run(podConfig("kept"))
    let lost = try await fixture.run(podConfig("lost"))
    #expect(try await fixture.daemon.stop(SIGKILL) == SIGKILL)
    // As after a reboot: the pins of `lost` are gone.
    for kind in ["netns", "ipcns", "utsns"] {
      _ = crio_unmount("\(fixture.dir.namespacesDir)/\(kind)/\(lost)")
    }
    fixture.daemon = try await DaemonProcess.started(in: fixture.dir)
    #expect(try await fixture.status(kept).status.state == .sandboxReady)
    #expect(try await fixture.status(lost).status.state == .sandboxNotready)
    let duplicate = await #expect(throws: RPCError.self) { try await fixture.run(podConfig("kept")) }
    #expect(duplicate?.code == .alreadyExists)
    for id in [kept, lost] {
      try await fixture.stop(id)
      try await fixture.remove(id)
    }
    #expect(fixture.mounts.isEmpty, "\(fixture.mounts)")
    try await fixture.stopDaemon()
  }

  @Test func aCorruptRecordIsNotTrustedButWhatItOwnedIsReleased() async throws {
    let fixture = try await SandboxFixture()
    let id = try await fixture.run(podConfig("corrupt"))
    #expect(!fixture.mounts.isEmpty)
    #expect(try await fixture.daemon.stop(SIGKILL) == SIGKILL)
    try "{ not json".write(toFile: "\(fixture.dir.root)/crio/sandboxes/\(id).json", atomically: true, encoding: .utf8)
    fixture.daemon = try await DaemonProcess.started(in: fixture.dir)
    #expect(fixture.mounts.isEmpty, "\(fixture.mounts)")
    #expect(!FileManager.default.fileExists(atPath: "\(fixture.dir.namespacesDir)/netns/\(id)"))
    #expect(try await fixture.list().isEmpty)
    #expect(fixture.daemon.log.contains("unreadable sandbox record"))
    try await fixture.stopDaemon()
  }
}
