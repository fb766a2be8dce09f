import CRIOConfig
import CRIOSystem
import Foundation
import OCI
import Testing

@testable import CRIORuntime

private let v1 = CgroupSupport(unified: false, memorySwap: true, hugetlb: false)
private let v2 = CgroupSupport(unified: true, memorySwap: true, hugetlb: true)
private let noSwap = CgroupSupport(unified: false, memorySwap: false, hugetlb: false)
private let mib: Int64 = 1024 * 1024

@Suite struct MountInfoTests {
  static let table = """
    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
    47 27 254:0 /tmp/a/mnt /tmp/a/mnt rw,relatime shared:1 - ext4 /dev/vda rw
    48 27 254:0 /tmp/b /tmp/b rw,relatime master:1 - ext4 /dev/vda rw
    49 27 254:0 /tmp/c /tmp/c rw,relatime shared:3 master:1 - ext4 /dev/vda rw
    50 27 254:0 /tmp/with\\040space /tmp/with\\040space rw,relatime shared:4 - ext4 /dev/vda rw
    51 47 0:40 / /tmp/a/mnt rw,relatime - tmpfs tmpfs rw
    garbage line
    """

  @Test func parsesMountPointsAndPropagation() {
    let entries = MountInfoEntry.parse(Self.table)
    #expect(entries.count == 7)
    #expect(entries[2].mountPoint == "/tmp/a/mnt" && entries[2].isShared && !entries[2].isSlave)
    #expect(entries[3].isSlave && !entries[3].isShared)
    #expect(entries[4].isSlave && entries[4].isShared)
    #expect(entries[5].mountPoint == "/tmp/with space", "octal escapes are decoded")
    #expect(!entries[0].isShared && !entries[0].isSlave)
  }

  @Test func findsTheMountAPathLivesOn() {
    let entries = MountInfoEntry.parse(Self.table)
    #expect(MountInfoEntry.mount(containing: "/tmp/b/x/y", in: entries)?.mountPoint == "/tmp/b")
    #expect(MountInfoEntry.mount(containing: "/tmp/bb", in: entries)?.mountPoint == "/", "a prefix is not a parent")
    #expect(MountInfoEntry.mount(containing: "/etc", in: entries)?.mountPoint == "/")
    // Two mounts on one point: the later one (a private tmpfs) hides the shared bind mount.
    #expect(MountInfoEntry.mount(containing: "/tmp/a/mnt/f", in: entries)?.isShared == false)
  }
}

@Suite struct BindMountTests {
  let table = MountInfoEntry.parse(MountInfoTests.table)

  func validate(_ mount: ContainerSpec.Mount, rro: Bool = true) throws {
    try BindMounts.validate([mount], table: table, recursiveReadOnlySupported: rro, resolve: { $0 })
  }

  @Test func propagationNeedsTheRightHostSide() throws {
    try validate(.init(containerPath: "/m", hostPath: "/tmp/c/x", readonly: false, propagation: .bidirectional))
    try validate(.init(containerPath: "/m", hostPath: "/tmp/b", readonly: false, propagation: .hostToContainer))
    try validate(.init(containerPath: "/m", hostPath: "/var/private", readonly: false, propagation: .private))
    #expect(throws: ContainerError.self) {
      try validate(.init(containerPath: "/m", hostPath: "/tmp/b", readonly: false, propagation: .bidirectional))
    }
    #expect(throws: ContainerError.self) {
      try validate(.init(containerPath: "/m", hostPath: "/var/x", readonly: false, propagation: .hostToContainer))
    }
  }

  @Test func recursiveReadOnlyNeedsReadOnlyPrivateAndSupport() throws {
    let rro = ContainerSpec.Mount(containerPath: "/m", hostPath: "/var/x", readonly: true, recursiveReadOnly: true)
    try validate(rro)
    #expect(throws: ContainerError.invalid(
      "recursive read-only mounts are not supported by this runtime (host path /var/x)")) { try validate(rro, rro: false) }
    var writable = rro
    writable.readonly = false
    #expect(throws: ContainerError.self) { try validate(writable) }
    var propagating = rro
    propagating.hostPath = "/tmp/c"
    propagating.propagation = .bidirectional
    #expect(throws: ContainerError.self) { try validate(propagating) }
  }

  @Test func ociOptionsAndRootfsPropagation() {
    let shared = ContainerSpec.Mount(containerPath: "/a", hostPath: "/h/a", readonly: false, propagation: .bidirectional)
    let slave = ContainerSpec.Mount(containerPath: "/b", hostPath: "/h/b", readonly: true, propagation: .hostToContainer)
    let rro = ContainerSpec.Mount(containerPath: "/c", hostPath: "/h/c", readonly: true, recursiveReadOnly: true)
    #expect(BindMounts.ociMount(shared).options == ["rbind", "rshared", "rw"])
    #expect(BindMounts.ociMount(slave).options == ["rbind", "rslave", "ro"])
    #expect(BindMounts.ociMount(rro).options == ["rbind", "rprivate", "rro"])
    #expect(BindMounts.rootfsPropagation([rro]) == nil)
    #expect(BindMounts.rootfsPropagation([rro, slave]) == "rslave")
    #expect(BindMounts.rootfsPropagation([slave, shared]) == "rshared")
  }
}

@Suite struct ResourceTests {
  @Test func memoryAndSwapAsCRIOSetsThem() throws {
    var spec = ContainerSpec(name: "c", memoryLimit: 64 * mib)
    var (resources, skipped) = try ContainerManager.resources(spec: spec.withEffectiveSwap(v1), pidsLimit: 0, cgroups: v1)
    #expect(resources.memory == .init(limit: 64 * mib, swap: 64 * mib), "no swap: memory + swap = memory")
    #expect(skipped.isEmpty)
    spec.memorySwapLimit = 128 * mib
    (resources, _) = try ContainerManager.resources(spec: spec, pidsLimit: 0, cgroups: v1)
    #expect(resources.memory == .init(limit: 64 * mib, swap: 128 * mib))
    (resources, skipped) = try ContainerManager.resources(spec: spec, pidsLimit: 0, cgroups: noSwap)
    #expect(resources.memory == .init(limit: 64 * mib, swap: nil))
    #expect(skipped.count == 1)
    #expect(spec.withEffectiveSwap(noSwap).memorySwapLimit == 0)
    spec.memorySwapLimit = 32 * mib
    #expect(throws: ContainerError.self) { try ContainerManager.resources(spec: spec, pidsLimit: 0, cgroups: v1) }
    #expect(throws: ContainerError.self) {
      try ContainerManager.resources(spec: ContainerSpec(name: "c", memoryLimit: mib), pidsLimit: 0, cgroups: v1)
    }
  }

  @Test func cpuPidsHugepagesAndUnified() throws {
    var spec = ContainerSpec(name: "c", cpuShares: 512, cpuQuota: 20000, cpuPeriod: 100_000, cpusetCpus: "0-1")
    spec.cpusetMems = "0"
    spec.hugepageLimits = [.init(pageSize: "2MB", limit: 4 * 1024 * 1024)]
    spec.unified = ["memory.high": "1000000"]
    var (resources, skipped) = try ContainerManager.resources(spec: spec, pidsLimit: 100, cgroups: v1)
    #expect(resources.cpu == .init(shares: 512, quota: 20000, period: 100_000, cpus: "0-1", mems: "0"))
    #expect(resources.pids == .init(limit: 100))
    #expect(resources.hugepageLimits == nil && resources.unified == nil, "v1 without hugetlb: left out")
    #expect(skipped.count == 2)
    (resources, skipped) = try ContainerManager.resources(spec: spec, pidsLimit: 0, cgroups: v2)
    #expect(resources.hugepageLimits == [.init(pageSize: "2MB", limit: 4 * 1024 * 1024)])
    #expect(resources.unified == ["memory.high": "1000000"])
    #expect(resources.pids == nil)
    #expect(skipped.isEmpty)
    (resources, _) = try ContainerManager.resources(spec: ContainerSpec(name: "c"), pidsLimit: 0, cgroups: v2)
    #expect(resources == RuntimeSpec.Resources(), "nothing asked, nothing set")
  }

  @Test func anUpdateChangesOnlyWhatItSets() throws {
    var spec = ContainerSpec(name: "c", memoryLimit: 64 * mib, cpuShares: 512, cpuQuota: 20000, cpuPeriod: 100_000,
                             cpusetCpus: "0")
    spec.hugepageLimits = [.init(pageSize: "2MB", limit: 1), .init(pageSize: "1GB", limit: 2)]
    var update = ResourceUpdate()
    update.cpuShares = 256
    update.memoryLimit = 128 * mib
    update.hugepageLimits = [.init(pageSize: "2MB", limit: 3)]
    let updated = update.applied(to: spec).withEffectiveSwap(v1)
    #expect(updated.cpuShares == 256 && updated.cpuQuota == 20000 && updated.cpusetCpus == "0")
    #expect(updated.memoryLimit == 128 * mib && updated.memorySwapLimit == 128 * mib)
    #expect(Set(updated.hugepageLimits.map(\.limit)) == [3, 2])
    let (changes, _) = try ContainerManager.resources(spec: update.changes(), pidsLimit: 0, cgroups: v1)
    #expect(changes.cpu == .init(shares: 256))
    #expect(changes.memory == .init(limit: 128 * mib, swap: 128 * mib))
    #expect(changes.pids == nil)
    // runc reads a LinuxResources object: the fields it leaves out are absent, not zero.
    let json = String(decoding: try JSONEncoder().encode(changes), as: UTF8.self)
    #expect(!json.contains("quota") && !json.contains("cpus"), "\(json)")
  }

  @Test func buildSpecCarriesResourcesMountsAndNotes() throws {
    var spec = ContainerSpec(
      name: "c",
      mounts: [.init(containerPath: "/data", hostPath: "/srv/data", readonly: false, propagation: .hostToContainer)],
      memoryLimit: 64 * mib)
    spec.unified = ["pids.max": "10"]
    let sandbox = SandboxRecord(
      id: "s", spec: SandboxSpec(name: "p", namespace: "n", uid: "u"), state: .ready, createdAt: 1,
      pins: NamespacePins(network: nil, ipc: nil, uts: nil), runDirectory: "/run/p", shmPath: "/run/p/shm",
      hostname: "p")
    let image = ContainerImage(
      id: "i", name: "busybox", ref: "busybox", layers: [], env: [], entrypoint: [], cmd: ["sh"], workingDir: "",
      user: "", stopSignal: "")
    let (runtimeSpec, notes) = try ContainerManager.buildSpec(
      config: CRIOConfiguration(), sandbox: sandbox, spec: spec, image: image, args: ["sh"],
      user: ContainerUser(uid: 0, gid: 0, additionalGids: [0]), rootfs: "/rootfs", id: "c1", pidNamespace: nil,
      bounding: ["CHOWN"], cgroups: v1)
    #expect(runtimeSpec.linux.rootfsPropagation == "rslave")
    #expect(runtimeSpec.mounts.last?.options == ["rbind", "rslave", "rw"])
    #expect(runtimeSpec.linux.resources?.memory?.limit == 64 * mib)
    #expect(notes.messages.contains { $0.contains("unified") })
  }
}

@Suite struct OOMDetectionTests {
  @Test func readsTheKillCounter() {
    #expect(OOMDetection.oomKills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n") == 2)
    #expect(OOMDetection.oomKills("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n") == 1)
    #expect(OOMDetection.oomKills("oom_kill_disable 0\n") == nil)
    #expect(OOMDetection.counterFiles(cgroupsPath: "/crio/crio-1", root: "/cg") == [
      "/cg/memory/crio/crio-1/memory.oom_control", "/cg/crio/crio-1/memory.events",
    ])
  }

  @Test func conmonsMarkerOrTheCgroupCounter() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crio-oom-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bundle = "\(dir)/bundle", root = "\(dir)/cgroup"
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: "\(root)/memory/crio/crio-1", withIntermediateDirectories: true)
    var spec = RuntimeSpec(
      process: .init(terminal: false, user: .init(uid: 0, gid: 0), args: ["sh"], env: [], cwd: "/", capabilities: nil,
                     noNewPrivileges: false),
      root: .init(path: "/r", readonly: false), hostname: nil, mounts: [],
      linux: .init(namespaces: [], cgroupsPath: "/crio/crio-1", resources: nil, maskedPaths: nil, readonlyPaths: nil))
    spec.annotations = nil
    try JSONEncoder().encode(spec).write(to: URL(fileURLWithPath: "\(bundle)/config.json"))
    let counter = "\(root)/memory/crio/crio-1/memory.oom_control"
    try "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n".write(toFile: counter, atomically: true, encoding: .utf8)
    #expect(!OOMDetection.killed(bundle: bundle, cgroupRoot: root))
    try "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n".write(toFile: counter, atomically: true, encoding: .utf8)
    #expect(OOMDetection.killed(bundle: bundle, cgroupRoot: root))
    try FileManager.default.removeItem(atPath: counter)
    #expect(!OOMDetection.killed(bundle: bundle, cgroupRoot: root))
    FileManager.default.createFile(atPath: "\(bundle)/oom", contents: nil)
    #expect(OOMDetection.killed(bundle: bundle, cgroupRoot: root))
  }
}

@Suite struct ContainerRecordCompatibilityTests {
  @Test func recordsFromBeforeTheNewFieldsStillDecode() throws {
    let old = #"""
      {"id": "c1", "sandboxID": "s1", "state": "exited", "bundle": "/b", "layerDirectory": "/l",
       "image": {"id": "i", "name": "n", "ref": "r", "layers": [], "env": [], "entrypoint": [], "cmd": [],
                 "workingDir": "", "user": "", "stopSignal": ""},
       "spec": {"name": "c", "memoryLimit": 1, "mounts": [{"containerPath": "/a", "hostPath": "/b", "readonly": true}]}}
      """#
    let record = try JSONDecoder().decode(ContainerRecord.self, from: Data(old.utf8))
    #expect(record.oomKilled == false)
    #expect(record.spec.mounts == [.init(containerPath: "/a", hostPath: "/b", readonly: true)])
    #expect(record.spec.mounts[0].propagation == .private)
    #expect(record.spec.memorySwapLimit == 0 && record.spec.cpusetMems == "" && record.spec.unified.isEmpty)
    var updated = record
    updated.oomKilled = true
    updated.spec.mounts[0].propagation = .bidirectional
    updated.spec.hugepageLimits = [.init(pageSize: "2MB", limit: 1)]
    let again = try JSONDecoder().decode(ContainerRecord.self, from: JSONEncoder().encode(updated))
    #expect(again == updated)
  }
}

@Suite struct RuntimeFeatureTests {
  @Test func mountOptionsFromRuncFeatures() {
    let json = Data(#"{"ociVersionMin": "1.0.0", "mountOptions": ["bind", "rbind", "rro", "ro"]}"#.utf8)
    #expect(RuntimeFeatures.parseMountOptions(json).contains("rro"))
    #expect(RuntimeFeatures.parseMountOptions(Data("not json".utf8)).isEmpty)
  }

  @Test func conmonControlMessages() {
    #expect(ConmonControl.Message.reopenLog.line == "2 0 0\n")
    #expect(ConmonControl.Message.resize(width: 80, height: 24).line == "1 24 80\n")
  }
}

@Suite struct CgroupPathTests {
  @Test func cgroupfsPaths() throws {
    #expect(try CgroupPaths.container(manager: "cgroupfs", parent: "", id: "c1") == "/crio/crio-c1")
    #expect(try CgroupPaths.container(manager: "cgroupfs", parent: "/kubepods/pod1", id: "c1") == "/kubepods/pod1/crio-c1")
    #expect(CgroupPaths.directory("/kubepods/pod1/crio-c1") == "/kubepods/pod1/crio-c1")
  }

  @Test func systemdSlicesAndScopes() throws {
    #expect(try CgroupPaths.container(manager: "systemd", parent: "", id: "c1") == "system.slice:crio:c1")
    #expect(
      try CgroupPaths.container(manager: "systemd", parent: "kubepods-burstable-pod1.slice", id: "c1")
        == "kubepods-burstable-pod1.slice:crio:c1")
    #expect(
      try CgroupPaths.container(
        manager: "systemd", parent: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", id: "c1")
        == "kubepods-burstable-pod1.slice:crio:c1")
    #expect(throws: ContainerError.self) { try CgroupPaths.container(manager: "systemd", parent: "/kubepods/pod1", id: "c1") }
    #expect(
      CgroupPaths.directory("kubepods-burstable-pod1.slice:crio:c1")
        == "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-c1.scope")
    #expect(CgroupPaths.directory("system.slice:crio:c1") == "/system.slice/crio-c1.scope")
    #expect(CgroupPaths.directory("-.slice:crio:c1") == "/crio-c1.scope")
    #expect(CgroupPaths.directory("bad:path") == nil)
    #expect(OOMDetection.counterFiles(cgroupsPath: "system.slice:crio:c1", root: "/cg") == [
      "/cg/memory/system.slice/crio-c1.scope/memory.oom_control", "/cg/system.slice/crio-c1.scope/memory.events",
    ])
  }

  @Test func conmonGetsTheSystemdFlag() throws {
    // The flag is all conmon needs: it passes --systemd-cgroup to the runtime's create.
    let launch = ConmonLauncher.Launch(
      conmon: "/usr/bin/conmon", runtime: "/usr/sbin/runc", runtimeRoot: "/run/runc", id: "c1", name: "n",
      bundle: "/b", logPath: "/l", exitDirectory: "/e", socketDirectory: "/s", terminal: false, stdin: false,
      logSizeMax: 0, systemdCgroup: true)
    #expect(ConmonLauncher.arguments(launch).contains("-s"))
    #expect(!ConmonLauncher.arguments(.init(
      conmon: "c", runtime: "r", runtimeRoot: "/r", id: "i", name: "n", bundle: "/b", logPath: "/l",
      exitDirectory: "/e", socketDirectory: "/s", terminal: false, stdin: false, logSizeMax: 0)).contains("-s"))
  }
}
