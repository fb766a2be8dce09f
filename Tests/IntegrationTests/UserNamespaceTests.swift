import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Pods in user namespaces (`NamespaceOption.userns_options` mode POD):
/// the pinned user namespace, containers (and the infra container) in it,
/// idmapped rootfs and volumes, refusals, and nothing left after removal.
@Suite(.serialized) struct UserNamespaceTests {
  typealias Fixture = SecurityContextTests.Fixture

  static func mapping(_ container: UInt32, _ host: UInt32, _ length: UInt32) -> Runtime_V1_IDMapping {
    var mapping = Runtime_V1_IDMapping()
    mapping.containerID = container
    mapping.hostID = host
    mapping.length = length
    return mapping
  }

  static func userns(
    _ mode: Runtime_V1_NamespaceMode, uids: [Runtime_V1_IDMapping] = [], gids: [Runtime_V1_IDMapping]? = nil
  ) -> Runtime_V1_UserNamespace {
    var userns = Runtime_V1_UserNamespace()
    userns.mode = mode
    userns.uids = uids
    userns.gids = gids ?? uids
    return userns
  }

  func runPod(
    _ f: Fixture, _ name: String, userns: Runtime_V1_UserNamespace, pid: Runtime_V1_NamespaceMode = .container
  ) async throws -> (String, Runtime_V1_PodSandboxConfig) {
    var config = podConfig(name, hostname: name)
    config.linux.securityContext.namespaceOptions.usernsOptions = userns
    config.linux.securityContext.namespaceOptions.pid = pid
    config.logDirectory = "\(f.dir.path)/pod-logs/\(name)"
    let id = try await f.call {
      var request = Runtime_V1_RunPodSandboxRequest()
      request.config = config
      return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
    }
    return (id, config)
  }

  /// `uid:gid` of `path` inside the container (`ls -lnd`; the test image has no `stat`).
  func owner(_ f: Fixture, _ id: String, _ path: String) async throws -> String {
    let out = try await f.exec(id, ["ls", "-lnd", path]).out
    let fields = out.split(separator: " ", omittingEmptySubsequences: true)
    return fields.count > 3 ? "\(fields[2]):\(fields[3])" : "? \(out)"
  }

  @Test func podInAUserNamespaceWithIdmappedRootfsAndVolumes() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let handlers = try await f.call {
      var request = Runtime_V1_StatusRequest()
      request.verbose = false
      return try await $0.runtime.status(request, options: $0.options).runtimeHandlers
    }
    #expect(!handlers.isEmpty && handlers.allSatisfy { $0.features.userNamespaces })

    // A host directory owned by root, mode 0755: only an idmapped mount lets
    // the container's root (host UID 200000) write in it.
    let volume = "\(f.dir.path)/volume"
    try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
    chmod(volume, 0o755)
    try "from the host\n".write(toFile: "\(volume)/file", atomically: false, encoding: .utf8)

    let pod = try await runPod(
      f, "userns-pod", userns: Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536)]), pid: .pod)
    let id = try await f.run(pod, name: "c") { config in
      var mount = Runtime_V1_Mount()
      mount.containerPath = "/data"
      mount.hostPath = volume
      var file = Runtime_V1_Mount()
      file.containerPath = "/config.txt"
      file.hostPath = "\(volume)/file"
      file.readonly = true
      config.mounts = [mount, file]
    }
    #expect(try await f.exec(id, ["cat", "/config.txt"]).out == "from the host\n")
    #expect(try await owner(f, id, "/config.txt") == "0:0")
    #expect(try await f.exec(id, ["sh", "-c", "echo x > /config.txt"]).code != 0, "a read-only file volume")
    let propagation = await #expect(throws: RPCError.self) {
      _ = try await f.createContainer(pod, name: "shared") { config in
        var mount = Runtime_V1_Mount()
        mount.containerPath = "/data"
        mount.hostPath = volume
        mount.propagation = .propagationBidirectional
        config.mounts = [mount]
      }
    }
    #expect(propagation?.code == .invalidArgument)
    #expect(propagation?.message.contains("do not propagate back to the host") == true, "\(String(describing: propagation))")
    let uidMap = try await f.exec(id, ["cat", "/proc/self/uid_map"]).out
    #expect(uidMap.split(separator: " ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
      == ["0", "200000", "65536"], "\(uidMap)")
    let gidMap = try await f.exec(id, ["cat", "/proc/self/gid_map"]).out
    #expect(gidMap.contains("200000"), "\(gidMap)")
    #expect(try await f.exec(id, ["id", "-u"]).out == "0\n")
    // The image's files are owned by root inside (idmapped overlay), and root can write the rootfs.
    #expect(try await owner(f, id, "/etc/passwd") == "0:0")
    #expect(try await owner(f, id, "/bin") == "0:0")
    #expect(try await f.exec(id, ["touch", "/etc/new-file"]).code == 0)
    // The volume: host root's files are root's inside, and writable.
    #expect(try await owner(f, id, "/data/file") == "0:0")
    #expect(try await f.exec(id, ["cat", "/data/file"]).out == "from the host\n")
    let write = try await f.exec(id, ["sh", "-c", "echo from the container > /data/written"])
    #expect(write.code == 0, "\(write.err)")
    var st = stat()
    #expect(stat("\(volume)/written", &st) == 0 && st.st_uid == 0, "written as host root through the idmapped mount")
    // The pod's files and /dev/shm.
    #expect(try await f.exec(id, ["cat", "/etc/hostname"]).out == "userns-pod\n")
    #expect(try await f.exec(id, ["touch", "/dev/shm/x"]).code == 0)
    #expect(try await owner(f, id, "/dev/shm") == "0:0")
    #expect(try await owner(f, id, "/etc/hostname") == "0:0")
    // On the host, the container's processes run as the mapped UID, in the pinned user namespace.
    if let infra = try await f.infraPID(pod.0) {
      let status = try String(contentsOfFile: "/proc/\(infra)/status", encoding: .utf8)
      #expect(status.contains("Uid:\t200000\t"), "\(status)")
      let infraUserns = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(infra)/ns/user")
      let hostUserns = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")
      #expect(infraUserns != hostUserns)
    } else {
      Issue.record("a pod sharing its PID namespace has an infra container")
    }
    let podStatus = try await f.podStatus(pod.0)
    #expect(podStatus.status.linux.namespaces.options.usernsOptions.mode == .pod)
    #expect(podStatus.status.linux.namespaces.options.usernsOptions.uids == [Self.mapping(0, 200_000, 65536)])
    let pins = (try? FileManager.default.contentsOfDirectory(atPath: "\(f.dir.namespacesDir)/userns")) ?? []
    #expect(pins == [pod.0])

    try await f.removeAndCheckClean([pod.0], ids: [id])
    let leftPins = (try? FileManager.default.contentsOfDirectory(atPath: "\(f.dir.namespacesDir)/userns")) ?? []
    #expect(leftPins.isEmpty, "\(leftPins)")
    let layers = (try? FileManager.default.contentsOfDirectory(atPath: "\(f.dir.root)/crio/layers")) ?? []
    #expect(layers.isEmpty, "\(layers)")
    #expect(FileManager.default.fileExists(atPath: "\(volume)/file"), "the volume's files stay")
  }

  func removeContainer(_ f: Fixture, _ id: String) async throws {
    try await f.call {
      var request = Runtime_V1_RemoveContainerRequest()
      request.containerID = id
      _ = try await $0.runtime.removeContainer(request, options: $0.options)
    }
  }

  /// Mount points under the container's layer directory, after waiting
  /// (bounded) for RemoveContainer's background release to end.
  func mountsLeft(_ f: Fixture, container id: String) async throws -> [String] {
    let layers = "\(f.dir.root)/overlay-containers/\(id)"
    for _ in 0..<200
    where !MountTable.mountPoints(under: layers).isEmpty || FileManager.default.fileExists(atPath: layers) {
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(!FileManager.default.fileExists(atPath: layers), "\(layers) is left")
    return MountTable.mountPoints(under: layers)
  }

  /// `(container, host, length)` lines of a uid_map or gid_map.
  static func mapLines(_ text: String) -> [[String]] {
    text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
  }

  /// Two ranges (container 0-999 to host 200000, 1000-65535 to host
  /// 300000): root and UID 1000 each get their own range's host IDs, in the
  /// rootfs upper layer (stored with host IDs) and through an idmapped volume
  /// (stored with the container's IDs).
  @Test func severalMappingRanges() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let ranges = [Self.mapping(0, 200_000, 1000), Self.mapping(1000, 300_000, 64536)]
    let volume = "\(f.dir.path)/shared-volume"
    try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
    chmod(volume, 0o777)
    try "from the host\n".write(toFile: "\(volume)/file", atomically: false, encoding: .utf8)

    let pod = try await runPod(f, "two-ranges", userns: Self.userns(.pod, uids: ranges), pid: .pod)
    func withVolume(_ config: inout Runtime_V1_ContainerConfig) {
      var mount = Runtime_V1_Mount()
      mount.containerPath = "/data"
      mount.hostPath = volume
      config.mounts = [mount]
    }
    let root = try await f.run(pod, name: "root", configure: withVolume)
    let user = try await f.run(pod, name: "user") { config in
      withVolume(&config)
      config.linux.securityContext.runAsUser.value = 1000
      config.linux.securityContext.runAsGroup.value = 1000
    }
    let expected = [["0", "200000", "1000"], ["1000", "300000", "64536"]]
    for id in [root, user] {
      for map in ["uid_map", "gid_map"] {
        let text = try await f.exec(id, ["cat", "/proc/self/\(map)"]).out
        #expect(Self.mapLines(text).sorted { $0[0].count < $1[0].count || ($0[0].count == $1[0].count && $0[0] < $1[0]) }
          == expected, "\(map): \(text)")
      }
    }
    #expect(try await f.exec(root, ["id", "-u"]).out == "0\n")
    #expect(try await f.exec(user, ["id", "-u"]).out == "1000\n")
    #expect(try await f.exec(user, ["id", "-g"]).out == "1000\n")

    // The rootfs upper layer stores what each writes with its host IDs.
    #expect(try await f.exec(root, ["touch", "/by-root"]).code == 0)
    let touched = try await f.exec(user, ["touch", "/tmp/by-user"])
    #expect(touched.code == 0, "\(touched.err)")
    var st = stat()
    let rootUpper = "\(f.dir.root)/overlay-containers/\(root)/upper"
    let userUpper = "\(f.dir.root)/overlay-containers/\(user)/upper"
    #expect(stat("\(rootUpper)/by-root", &st) == 0 && st.st_uid == 200_000 && st.st_gid == 200_000, "\(st.st_uid):\(st.st_gid)")
    #expect(stat("\(userUpper)/tmp/by-user", &st) == 0 && st.st_uid == 300_000 && st.st_gid == 300_000, "\(st.st_uid):\(st.st_gid)")
    #expect(try await owner(f, user, "/tmp/by-user") == "1000:1000")
    #expect(try await owner(f, root, "/by-root") == "0:0")
    // The upper layer and the pod's files belong to the pod's root (container 0, host 200000).
    #expect(stat(rootUpper, &st) == 0 && st.st_uid == 200_000, "\(st.st_uid)")
    #expect(try await owner(f, user, "/etc/hostname") == "0:0")

    // The idmapped volume stores the container's IDs (host root's file is root's inside).
    #expect(try await owner(f, user, "/data/file") == "0:0")
    #expect(try await f.exec(root, ["sh", "-c", "echo root > /data/by-root"]).code == 0)
    #expect(try await f.exec(user, ["sh", "-c", "echo user > /data/by-user"]).code == 0)
    #expect(stat("\(volume)/by-root", &st) == 0 && st.st_uid == 0 && st.st_gid == 0, "\(st.st_uid):\(st.st_gid)")
    #expect(stat("\(volume)/by-user", &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000, "\(st.st_uid):\(st.st_gid)")
    #expect(try await owner(f, root, "/data/by-user") == "1000:1000")

    // On the host, the processes run as their range's host IDs.
    let processes = SecurityContextTests.processes(naming: ["sleep 3600"]).compactMap { $0.split(separator: ":").first }
    let uids = processes.compactMap { pid -> String? in
      let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
      return status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map { String($0.split(separator: "\t")[1]) }
    }
    #expect(Set(uids).isSuperset(of: ["200000", "300000"]), "\(uids)")

    // A user no range maps is refused clearly, before runc fails with a bare EINVAL.
    let unmapped = await #expect(throws: RPCError.self) {
      _ = try await f.createContainer(pod, name: "unmapped") { $0.linux.securityContext.runAsUser.value = 70000 }
    }
    #expect(unmapped?.code == .invalidArgument, "\(String(describing: unmapped))")
    #expect(unmapped?.message.contains("UID 70000 is not mapped") == true, "\(String(describing: unmapped))")

    let podStatus = try await f.podStatus(pod.0)
    #expect(podStatus.status.linux.namespaces.options.usernsOptions.uids == ranges)
    #expect(podStatus.status.linux.namespaces.options.usernsOptions.gids == ranges)
    let info = try JSONSerialization.jsonObject(with: Data((podStatus.info["info"] ?? "{}").utf8)) as? [String: Any]
    let idMappings = info?["idMappings"] as? [String: [String]]
    #expect(idMappings?["uids"] == ["0:200000:1000", "1000:300000:64536"], "\(String(describing: info))")
    #expect(idMappings?["gids"] == ["0:200000:1000", "1000:300000:64536"], "\(String(describing: info))")
    try await f.removeAndCheckClean([pod.0], ids: [root, user])
    #expect(FileManager.default.fileExists(atPath: "\(volume)/by-user"), "the volume's files stay")
  }

  /// An image volume in a user-namespace pod: an overlay over idmapped
  /// layers, read-only, with the image's owners inside, released on removal.
  @Test func imageVolumesInAUserNamespacePod() async throws {
    try requireHostTools()
    let f = try await Fixture()
    _ = try await ImageVolumeTests.pushDataImage(to: f.images)
    _ = try await f.images.pull(ImageVolumeTests.dataImage)
    let pod = try await runPod(
      f, "userns-image-volume", userns: Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536)]))
    let podMounts = MountTable.mountPoints(under: f.dir.path)
    let id = try await f.run(pod, name: "reader") {
      $0.mounts = [ImageVolumeTests.volume("/data"), ImageVolumeTests.volume("/inner", subPath: "sub")]
    }
    #expect(try await f.exec(id, ["cat", "/data/greeting", "/data/second", "/inner/inner"]).out
      == "hello from the volume\nfrom the second layer\ninner\n")
    // Root-owned files are root's inside; 1000's are 1000's (mode 0600: root reads them as their owner would).
    #expect(try await owner(f, id, "/data/greeting") == "0:0")
    #expect(try await owner(f, id, "/data") == "0:0")
    #expect(try await owner(f, id, "/inner/inner") == "0:0")
    #expect(try await owner(f, id, "/data/owned") == "1000:1000")
    #expect(try await f.exec(id, ["cat", "/data/owned"]).out == "owned by 1000\n")
    for path in ["/data/new", "/data/greeting", "/inner/new"] {
      let write = try await f.exec(id, ["sh", "-c", "echo x > \(path)"])
      #expect(write.code != 0, "writing \(path) succeeded")
      #expect(write.err.contains("Read-only file system"), "\(path): \(write.err)")
    }
    // On the host: the overlay over idmapped copies of its two layers, under the container's layer directory.
    let volumes = "\(f.dir.root)/overlay-containers/\(id)/volumes"
    let mounted = Set(MountTable.mountPoints(under: volumes))
    #expect(mounted.isSuperset(of: ["\(volumes)/0", "\(volumes)/0-layers/0", "\(volumes)/0-layers/1", "\(volumes)/1"]), "\(mounted)")

    try await removeContainer(f, id)
    #expect(try await mountsLeft(f, container: id).isEmpty)
    #expect(MountTable.mountPoints(under: f.dir.path) == podMounts, "\(MountTable.mountPoints(under: f.dir.path))")

    // A running container left in the pod: removing the pod releases its volume too.
    let left = try await f.run(pod, name: "left") { $0.mounts = [ImageVolumeTests.volume("/data")] }
    #expect(try await owner(f, left, "/data/second") == "0:0")
    try await f.removeAndCheckClean([pod.0], ids: [left])
    #expect(try await mountsLeft(f, container: left).isEmpty)
  }

  /// Host-to-container propagation works (the idmapped copy is a slave of
  /// the host's shared mount); private copies leave the host's mounts alone
  /// when they are released; bidirectional is refused.
  @Test func mountPropagationInAUserNamespacePod() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let base = "\(f.dir.path)/propagation"
    let shared = "\(base)/shared"
    try FileManager.default.createDirectory(atPath: "\(shared)/sub", withIntermediateDirectories: true)
    defer {
      for point in MountTable.mountPoints(under: base).reversed() { _ = try? runCommand("/usr/bin/umount", ["-l", point]) }
    }
    func host(_ arguments: [String]) throws {
      let result = try runCommand(arguments[0], Array(arguments.dropFirst()))
      try #require(result.status == 0, "\(arguments.joined(separator: " ")): \(result.output)")
    }
    try host(["/usr/bin/mount", "--bind", shared, shared])
    try host(["/usr/bin/mount", "--make-rshared", shared])
    try host(["/usr/bin/mount", "-t", "tmpfs", "tmpfs", "\(shared)/sub"])
    try "before\n".write(toFile: "\(shared)/sub/marker", atomically: false, encoding: .utf8)

    let pod = try await runPod(f, "userns-propagation", userns: Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536)]))
    func mount(_ path: String, _ propagation: Runtime_V1_MountPropagation) -> Runtime_V1_Mount {
      var mount = Runtime_V1_Mount()
      mount.hostPath = shared
      mount.containerPath = path
      mount.propagation = propagation
      return mount
    }
    let id = try await f.run(pod, name: "c") {
      $0.mounts = [mount("/mnt/slave", .propagationHostToContainer), mount("/mnt/private", .propagationPrivate)]
    }
    let status = try await f.status(id)
    #expect(status.mounts.map(\.propagation) == [.propagationHostToContainer, .propagationPrivate])
    // The copies on the host: a slave of the host's peer group, and a private one.
    let volumes = "\(f.dir.root)/overlay-containers/\(id)/volumes"
    // /proc files have no size: read to the end (a one-shot read stops after a page).
    let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/mountinfo"))
    let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
    try? handle.close()
    func fields(_ point: String) -> [Substring] {
      let line = table.first { $0.split(separator: " ")[4] == point } ?? ""
      return line.split(separator: " ")
    }
    #expect(fields("\(volumes)/0").contains { $0.hasPrefix("master:") }, "\(fields("\(volumes)/0"))")
    #expect(!fields("\(volumes)/0").contains { $0.hasPrefix("shared:") }, "\(fields("\(volumes)/0"))")
    #expect(!fields("\(volumes)/1").contains { $0.hasPrefix("shared:") || $0.hasPrefix("master:") }, "\(fields("\(volumes)/1"))")
    #expect(fields("\(volumes)/1").count > 5 && fields("\(volumes)/1")[5].contains("idmapped"), "\(fields("\(volumes)/1"))")

    // What existed at creation is in both; what the host mounts afterwards reaches only the slave.
    #expect(try await f.exec(id, ["cat", "/mnt/slave/sub/marker", "/mnt/private/sub/marker"]).out == "before\n" + "before\n")
    try FileManager.default.createDirectory(atPath: "\(shared)/later", withIntermediateDirectories: true)
    try host(["/usr/bin/mount", "-t", "tmpfs", "tmpfs", "\(shared)/later"])
    try "later\n".write(toFile: "\(shared)/later/marker", atomically: false, encoding: .utf8)
    #expect(try await f.exec(id, ["cat", "/mnt/slave/later/marker"]).out == "later\n", "rslave: host mounts reach the container")
    #expect(try await f.exec(id, ["test", "-e", "/mnt/private/later/marker"]).code != 0, "rprivate: host mounts stay on the host")
    // A mount propagated later is a new mount, not idmapped: host root's files are unmapped (nobody) inside.
    #expect(try await owner(f, id, "/mnt/slave/later/marker") == "65534:65534")

    // Bidirectional cannot work: the container's mount namespace is owned by the pod's user namespace.
    let refused = await #expect(throws: RPCError.self) {
      _ = try await f.createContainer(pod, name: "bidirectional") { $0.mounts = [mount("/mnt/shared", .propagationBidirectional)] }
    }
    #expect(refused?.code == .invalidArgument, "\(String(describing: refused))")
    #expect(refused?.message.contains("PROPAGATION_BIDIRECTIONAL") == true, "\(String(describing: refused))")

    // Releasing the copies (and what they hold of the host's submounts) leaves the host's mounts alone.
    try await removeContainer(f, id)
    #expect(try await mountsLeft(f, container: id).isEmpty)
    let hostMounts = MountTable.mountPoints(under: base)
    #expect(hostMounts.contains("\(shared)/sub") && hostMounts.contains("\(shared)/later"), "\(hostMounts)")
    #expect(FileManager.default.contents(atPath: "\(shared)/sub/marker") == Data("before\n".utf8))
    for point in MountTable.mountPoints(under: base).reversed() { try host(["/usr/bin/umount", point]) }
    try await f.removeAndCheckClean([pod.0], ids: [id])
  }

  /// The kubelet's UserNamespacesHostNetworkSupport: a pod in its own user
  /// namespace on the host's network. Its /sys is the host's, bound
  /// read-only (the kernel refuses a new sysfs there).
  @Test func hostNetworkInAUserNamespace() async throws {
    try requireHostTools()
    let f = try await Fixture()
    let status = try await f.call { try await $0.runtime.status(Runtime_V1_StatusRequest(), options: $0.options) }
    #expect(status.features.userNamespacesHostNetwork)
    var config = podConfig("userns-hostnet", hostname: "")
    config.linux.securityContext.namespaceOptions.usernsOptions = Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536)])
    config.linux.securityContext.namespaceOptions.network = .node
    config.linux.securityContext.namespaceOptions.pid = .pod
    config.logDirectory = "\(f.dir.path)/pod-logs/userns-hostnet"
    let podID = try await f.call {
      var request = Runtime_V1_RunPodSandboxRequest()
      request.config = config
      return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
    }
    let id = try await f.run((podID, config), name: "c")
    #expect(try await f.exec(id, ["cat", "/proc/self/uid_map"]).out.split(separator: " ", omittingEmptySubsequences: true) == ["0", "200000", "65536\n"])
    let hostNet = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
    // The test image has `ls`, not `readlink`.
    let netInside = try await f.exec(id, ["ls", "-l", "/proc/self/ns/net"])
    #expect(netInside.out.hasSuffix("-> \(hostNet)\n"), "\(netInside)")
    // The host's devices (other tests add and remove bridges meanwhile: those there before and after).
    let before = Set(try FileManager.default.contentsOfDirectory(atPath: "/sys/class/net"))
    let inside = Set(try await f.exec(id, ["ls", "/sys/class/net"]).out.split(separator: "\n").map(String.init))
    let after = Set(try FileManager.default.contentsOfDirectory(atPath: "/sys/class/net"))
    #expect(before.intersection(after).isSubset(of: inside) && inside.isSubset(of: before.union(after)), "\(inside)")
    #expect(inside.contains("lo") && inside.count > 1)
    // Read-only, and not the host's root inside.
    #expect(try await f.exec(id, ["sh", "-c", "echo 1 > /sys/kernel/uevent_helper"]).code != 0)
    #expect(try await f.exec(id, ["id", "-u"]).out == "0\n")
    try await f.removeAndCheckClean([podID], ids: [id])
  }

  @Test func nodeModeAndRefusals() async throws {
    try requireHostTools()
    let f = try await Fixture()
    // NODE: the host's user namespace, as without options.
    let pod = try await runPod(f, "node-userns", userns: Self.userns(.node))
    let id = try await f.run(pod, name: "c")
    let hostMap = try String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8)
    #expect(try await f.exec(id, ["cat", "/proc/self/uid_map"]).out == hostMap)
    try await f.removeAndCheckClean([pod.0], ids: [id])

    let refusals: [(String, Runtime_V1_UserNamespace)] = [
      ("overlapping container ranges", Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536), Self.mapping(0, 300_000, 65536)])),
      ("overlapping host ranges", Self.userns(.pod, uids: [Self.mapping(0, 200_000, 1000), Self.mapping(1000, 200_500, 1000)])),
      ("an empty range", Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536), Self.mapping(70000, 400_000, 0)])),
      ("beyond 32 bits", Self.userns(.pod, uids: [Self.mapping(0, 4_294_900_000, 100_000)])),
      ("341 ranges", Self.userns(.pod, uids: (0..<341).map { Self.mapping($0, 200_000 + $0, 1) })),
      ("container ID 0 unmapped", Self.userns(.pod, uids: [Self.mapping(1, 200_000, 65536)])),
      ("container GID 0 unmapped", Self.userns(.pod, uids: [Self.mapping(0, 200_000, 65536)], gids: [Self.mapping(1, 200_000, 65536)])),
      ("no mappings", Self.userns(.pod)),
      ("mode CONTAINER", Self.userns(.container)),
      ("mode TARGET", Self.userns(.target)),
      ("NODE with mappings", Self.userns(.node, uids: [Self.mapping(0, 200_000, 65536)])),
    ]
    for (what, userns) in refusals {
      let error = await #expect(throws: RPCError.self, "\(what)") {
        _ = try await runPod(f, "refused", userns: userns)
      }
      #expect(error?.code == .invalidArgument, "\(what): \(String(describing: error))")
    }
    #expect(MountTable.mountPoints(under: f.dir.path).isEmpty)
  }
}
