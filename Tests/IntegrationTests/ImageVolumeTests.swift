import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Image volumes (CRI `Mount.image`, KEP-4639) on the real daemon: a second
/// image with known files, mounted read-only into a busybox container.
@Suite(.serialized) struct ImageVolumeTests {
  static let dataImage = "registry.test/test/data:1"

  /// Two layers: `greeting`, `sub/inner`, a symbolic link `escape` to /etc,
  /// `owned` (owned by 1000:1000, mode 0600), then `second` in the top layer.
  static func pushDataImage(_ f: ContainerTests.Fixture) async throws -> TestImage {
    try await pushDataImage(to: f.images)
  }

  static func pushDataImage(to images: ImageFixture) async throws -> TestImage {
    var bottom = TarWriter()
    bottom.file("greeting", "hello from the volume\n")
    bottom.directory("sub")
    bottom.file("sub/inner", "inner\n")
    bottom.symlink("escape", to: "/etc")
    bottom.file("owned", "owned by 1000\n", mode: 0o600, uid: 1000, gid: 1000)
    var top = TarWriter()
    top.file("second", "from the second layer\n")
    let image = try TestImage(layerTars: [bottom.archive, top.archive], label: "data")
    try await image.push(to: images.registry.host, repository: "test/data", tag: "1")
    return image
  }

  static func volume(_ path: String, image: String = dataImage, subPath: String = "") -> Runtime_V1_Mount {
    var mount = Runtime_V1_Mount()
    mount.containerPath = path
    mount.image.image = image
    mount.imageSubPath = subPath
    mount.readonly = true
    return mount
  }

  static func create(
    _ f: ContainerTests.Fixture, _ pod: (String, Runtime_V1_PodSandboxConfig), name: String, mounts: [Runtime_V1_Mount]
  ) async throws -> String {
    try await f.call {
      var request = Runtime_V1_CreateContainerRequest()
      request.podSandboxID = pod.0
      request.sandboxConfig = pod.1
      request.config.metadata.name = name
      request.config.image.image = "registry.test/test/busybox:1"
      request.config.command = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
      request.config.logPath = "\(name).log"
      request.config.mounts = mounts
      return try await $0.runtime.createContainer(request, options: $0.options).containerID
    }
  }

  static func removePod(_ f: ContainerTests.Fixture, _ id: String) async throws {
    try await f.call {
      var request = Runtime_V1_StopPodSandboxRequest()
      request.podSandboxID = id
      _ = try await $0.runtime.stopPodSandbox(request, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = id
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
  }

  /// RemoveContainer releases the rootfs and volumes in the background,
  /// right after it returns: wait (bounded) until that is done.
  static func waitForRelease(_ f: ContainerTests.Fixture, podMounts: [String]) async throws {
    for _ in 0..<200 where f.mounts != podMounts || !containerDirectories(f).isEmpty {
      try await Task.sleep(for: .milliseconds(50))
    }
  }

  static func containerDirectories(_ f: ContainerTests.Fixture) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: "\(f.dir.root)/overlay-containers")) ?? []
  }

  @Test func anImageVolumeIsReadOnlyHoldsItsImageAndIsReleasedOnRemoval() async throws {
    let f = try await ContainerTests.Fixture()
    let data = try await Self.pushDataImage(f)
    _ = try await f.images.pull(Self.dataImage)
    let pod = try await f.runPod("volumes")
    let podMounts = f.mounts
    let id = try await Self.create(
      f, pod, name: "reader", mounts: [Self.volume("/data"), Self.volume("/inner", subPath: "sub")])
    try await f.start(id)
    #expect(try await f.waitFor(id, state: .containerRunning).state == .containerRunning)

    // Both layers are there; the sub path mount shows only the sub directory.
    let read = try await f.execSync(id, ["cat", "/data/greeting", "/data/second", "/inner/inner"], timeout: 10)
    #expect(read.exitCode == 0, "\(String(decoding: read.stderr, as: UTF8.self))")
    #expect(String(decoding: read.stdout, as: UTF8.self) == "hello from the volume\nfrom the second layer\ninner\n")
    let listing = try await f.execSync(id, ["ls", "/inner"], timeout: 10)
    #expect(String(decoding: listing.stdout, as: UTF8.self) == "inner\n")

    // Read-only, also for root, at the mount and at the sub path.
    for path in ["/data/new", "/data/greeting", "/inner/new"] {
      let write = try await f.execSync(id, ["sh", "-c", "echo x > \(path)"], timeout: 10)
      #expect(write.exitCode != 0, "writing \(path) succeeded")
      #expect(String(decoding: write.stderr, as: UTF8.self).contains("Read-only file system"), "\(path)")
    }
    let mountinfo = try await f.execSync(id, ["cat", "/proc/self/mountinfo"], timeout: 10)
    let lines = String(decoding: mountinfo.stdout, as: UTF8.self).split(separator: "\n")
    for path in ["/data", "/inner"] {
      let line = lines.first { $0.split(separator: " ")[4] == path }
      #expect(line?.split(separator: " ")[5].hasPrefix("ro") == true, "\(String(describing: line))")
    }

    // The status names the image by ID, and the sub path.
    let status = try await f.status(id)
    #expect(status.mounts.map(\.image.image) == [data.id, data.id])
    #expect(status.mounts.map(\.imageSubPath) == ["", "sub"])
    #expect(status.mounts.allSatisfy { $0.readonly })

    // On the host: one read-only overlay per volume under the container's layer directory.
    let volumes = "\(f.dir.root)/overlay-containers/\(id)/volumes"
    #expect(Set(f.mounts).isSuperset(of: ["\(volumes)/0", "\(volumes)/1"]), "\(f.mounts)")

    // The image is in use while the container exists, even stopped.
    try await f.stop(id, timeout: 10)
    let inUse = await #expect(throws: RPCError.self) { try await f.images.remove(Self.dataImage) }
    #expect(inUse?.code == .failedPrecondition, "\(String(describing: inUse))")
    #expect(
      inUse?.message == "image \(Self.dataImage) is in use by an image volume of container \(id)", "\(String(describing: inUse))")
    #expect(try await f.images.status(Self.dataImage).hasImage)

    try await f.remove(id)
    try await Self.waitForRelease(f, podMounts: podMounts)
    #expect(f.mounts == podMounts, "\(f.mounts)")
    #expect(Self.containerDirectories(f).isEmpty, "\(Self.containerDirectories(f))")

    // A running container left in the pod: removing the pod releases its volume too.
    let left = try await Self.create(f, pod, name: "left", mounts: [Self.volume("/data")])
    try await f.start(left)
    #expect(try await f.execSync(left, ["cat", "/data/second"], timeout: 10).exitCode == 0)
    await #expect(throws: RPCError.self) { try await f.images.remove(Self.dataImage) }
    try await Self.removePod(f, pod.0)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(Self.containerDirectories(f).isEmpty, "\(Self.containerDirectories(f))")
    try await f.images.remove(Self.dataImage)
    #expect(try await !f.images.status(Self.dataImage).hasImage)
    try await f.images.stop()
  }

  /// The CRI has no image volume feature flag; what Status does report must be true.
  @Test func statusFeaturesAreTruthful() async throws {
    let f = try await ContainerTests.Fixture()
    let status = try await f.call { try await $0.runtime.status(Runtime_V1_StatusRequest(), options: $0.options) }
    #expect(!status.runtimeHandlers.isEmpty)
    #expect(status.features.supplementalGroupsPolicy)
    // A host-network pod in a user namespace is supported wherever user namespaces are.
    #expect(status.features.userNamespacesHostNetwork == status.runtimeHandlers.contains { $0.features.userNamespaces })
    try await f.images.stop()
  }

  @Test func aMissingImageOrBadSubPathFailsClearlyAndLeavesNothing() async throws {
    let f = try await ContainerTests.Fixture()
    _ = try await Self.pushDataImage(f)
    _ = try await f.images.pull(Self.dataImage)
    let pod = try await f.runPod("bad-volumes")
    let podMounts = f.mounts

    // Not pulled: crio does not pull it (the kubelet does, first).
    let missing = await #expect(throws: RPCError.self) {
      try await Self.create(f, pod, name: "missing", mounts: [Self.volume("/data", image: "registry.test/test/absent:1")])
    }
    #expect(missing?.code == .notFound, "\(String(describing: missing))")
    #expect(missing?.message.contains("registry.test/test/absent:1") == true, "\(String(describing: missing))")
    #expect(missing?.message.contains("pull it first") == true, "\(String(describing: missing))")

    // Sub paths that leave the image, do not exist, or go through a symbolic link (to the host's /etc).
    let cases: [(String, String)] = [
      ("../root", "'..'"), ("/etc", "relative"), ("nope", "does not exist"), ("escape", "symbolic link"),
      ("sub/../escape", "'..'"), ("escape/passwd", "symbolic link"), ("greeting/x", "does not exist"),
    ]
    for (subPath, reason) in cases {
      // The second volume is fine: the first one's mount must be undone too.
      let error = await #expect(throws: RPCError.self, "\(subPath)") {
        try await Self.create(
          f, pod, name: "bad", mounts: [Self.volume("/ok"), Self.volume("/data", subPath: subPath)])
      }
      #expect(error?.code == .invalidArgument, "\(subPath): \(String(describing: error))")
      #expect(error?.message.contains(reason) == true, "\(subPath): \(String(describing: error))")
    }
    // A file as the sub path is fine.
    let file = try await Self.create(f, pod, name: "file", mounts: [Self.volume("/greeting", subPath: "greeting")])
    try await f.start(file)
    let read = try await f.execSync(file, ["cat", "/greeting"], timeout: 10)
    #expect(String(decoding: read.stdout, as: UTF8.self) == "hello from the volume\n")
    try await f.remove(file)
    try await Self.waitForRelease(f, podMounts: podMounts)

    let listed = try await f.call {
      try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options).containers
    }
    #expect(listed.isEmpty, "\(listed)")
    #expect(f.mounts == podMounts, "\(f.mounts)")
    #expect(Self.containerDirectories(f).isEmpty, "\(Self.containerDirectories(f))")
    // Failed creations do not hold the image.
    try await f.images.remove(Self.dataImage)
    try await Self.removePod(f, pod.0)
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }
}
