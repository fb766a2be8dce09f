import CRIAPI
import CRIClient
import CRIOSystem
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// A daemon on a test bridge with host-local addresses and portmap, whose pods live in a
/// cgroup parent of their own, with busybox, a pause image and an extra
/// image in its registry. By default every pod gets an infra container
/// (`drop_infra_ctr = false`), so their paths are exercised too.
final class NodeFixture: @unchecked Sendable {
  let images: ImageFixture
  let network: TestBridgeNetwork
  let cgroupParent = "/crio-crash-\(UInt32.random(in: 0...UInt32.max))"
  var dir: DaemonDirectory { images.dir }
  static let busybox = "registry.test/test/busybox:1"
  static let extra = "registry.test/test/extra:1"

  init(infraContainers: Bool = true) async throws {
    images = try await ImageFixture(
      extraConfig: """
        [crio.runtime]
        drop_infra_ctr = \(!infraContainers)
        [crio.image]
        pause_image = "registry.test/test/pause:1"
        pause_command = "/pause"
        """)
    network = TestBridgeNetwork(dir: images.dir)
    try network.conflist(portmap: true).write(toFile: "\(images.dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let busyboxLayer = try TestImage.busyboxLayer()
    try await TestImage(layerTars: [busyboxLayer]).push(to: images.registry.host, repository: "test/busybox", tag: "1")
    var pause = TarWriter()
    pause.file("pause", "#!/bin/sh\nwhile true; do sleep 3600; done\n", mode: 0o755)
    try await TestImage(layerTars: [busyboxLayer, pause.archive], label: "pause")
      .push(to: images.registry.host, repository: "test/pause", tag: "1")
    var extra = TarWriter()
    extra.file("extra", "a layer only this image has\n")
    try await TestImage(layerTars: [busyboxLayer, extra.archive], label: "extra")
      .push(to: images.registry.host, repository: "test/extra", tag: "1")
    _ = try await images.pull(Self.busybox)
    _ = try await images.pull("registry.test/test/pause:1")
  }

  var inventory: HostInventory { HostInventory.take(dir: dir, network: network, cgroupParent: cgroupParent) }

  func restart(failpoint: Failpoint? = nil) async throws {
    if images.daemon.process.isRunning { _ = try await images.daemon.stop() }
    images.daemon = try await DaemonProcess.started(
      in: dir, environment: failpoint.map { [Failpoint.environmentVariable: $0.rawValue] } ?? [:])
  }

  func call<R: Sendable>(_ body: (CRIConnection) async throws -> R) async throws -> R {
    try await CRIConnection.with(dir.endpoint, timeout: .seconds(60), body)
  }

  func podConfig(_ name: String) -> Runtime_V1_PodSandboxConfig {
    var config = IntegrationTests.podConfig(name)
    config.linux.cgroupParent = cgroupParent
    config.logDirectory = "\(dir.path)/pod-logs/\(name)"
    return config
  }

  /// Where a container's CRI log is (see `createContainer`).
  func logPath(pod: String, container: String) -> String { "\(dir.path)/pod-logs/\(pod)/\(container).log" }

  /// Pods made by `runPod` get their own user namespace (UIDs and GIDs 0-65535 at host 300000).
  var userNamespace = false

  /// A pod, with a host port mapped to its port 80 when `hostPort` is given.
  func runPod(_ name: String, hostPort: Int32? = nil) async throws -> String {
    try await call {
      var request = Runtime_V1_RunPodSandboxRequest()
      request.config = podConfig(name)
      if userNamespace {
        var mapping = Runtime_V1_IDMapping()
        mapping.hostID = 300_000
        mapping.length = 65536
        request.config.linux.securityContext.namespaceOptions.usernsOptions.mode = .pod
        request.config.linux.securityContext.namespaceOptions.usernsOptions.uids = [mapping]
        request.config.linux.securityContext.namespaceOptions.usernsOptions.gids = [mapping]
      }
      if let hostPort {
        var mapping = Runtime_V1_PortMapping()
        mapping.containerPort = 80
        mapping.hostPort = hostPort
        request.config.portMappings = [mapping]
      }
      return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
    }
  }

  func pods() async throws -> [Runtime_V1_PodSandbox] {
    try await call { try await $0.runtime.listPodSandbox(Runtime_V1_ListPodSandboxRequest(), options: $0.options).items }
  }

  func containers() async throws -> [Runtime_V1_Container] {
    try await call { try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options).containers }
  }

  /// By default a container that runs until SIGTERM, then exits 0; with
  /// `imageVolume`, that image mounted read-only at /volume.
  func createContainer(
    in pod: String, podName: String = "crash", name: String,
    command: [String] = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"], imageVolume: String? = nil
  ) async throws -> String {
    try await call {
      var request = Runtime_V1_CreateContainerRequest()
      request.podSandboxID = pod
      request.sandboxConfig = podConfig(podName)
      request.config.metadata.name = name
      request.config.image.image = Self.busybox
      request.config.command = command
      request.config.logPath = "\(name).log"
      if let imageVolume {
        var mount = Runtime_V1_Mount()
        mount.containerPath = "/volume"
        mount.image.image = imageVolume
        mount.readonly = true
        request.config.mounts = [mount]
      }
      return try await $0.runtime.createContainer(request, options: $0.options).containerID
    }
  }

  func startContainer(_ id: String) async throws {
    try await call {
      var request = Runtime_V1_StartContainerRequest()
      request.containerID = id
      _ = try await $0.runtime.startContainer(request, options: $0.options)
    }
  }

  func stopContainer(_ id: String) async throws {
    try await call {
      var request = Runtime_V1_StopContainerRequest()
      request.containerID = id
      request.timeout = 10
      _ = try await $0.runtime.stopContainer(request, options: $0.options)
    }
  }

  func removeContainer(_ id: String) async throws {
    try await call {
      var request = Runtime_V1_RemoveContainerRequest()
      request.containerID = id
      _ = try await $0.runtime.removeContainer(request, options: $0.options)
    }
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

  func hasImage(_ name: String) async throws -> Bool {
    try await images.status(name).hasImage
  }

  func removeImage(_ name: String) async throws {
    try await call {
      var request = Runtime_V1_RemoveImageRequest()
      request.image.image = name
      _ = try await $0.image.removeImage(request, options: $0.options)
    }
  }

  func execSync(_ id: String, _ command: [String]) async throws -> Runtime_V1_ExecSyncResponse {
    try await call {
      var request = Runtime_V1_ExecSyncRequest()
      request.containerID = id
      request.cmd = command
      request.timeout = 10
      return try await $0.runtime.execSync(request, options: $0.options)
    }
  }

  /// Removes every pod (and so every container) and the extra image.
  func removeEverything() async throws {
    for pod in try await pods() {
      try await stopPod(pod.id)
      try await removePod(pod.id)
    }
    if try await hasImage(Self.extra) { try await removeImage(Self.extra) }
  }

  func finish() async throws {
    _ = try await images.daemon.stop()
    images.registry.stop()
  }

  // Also when a test failed before `finish`: the bridge is the test's, not crio's.
  deinit { network.removeBridge() }
}
