import CRIOConfig
import CRIOSystem
import Foundation
import OCI
import Testing

@testable import CRIORuntime

/// This host's situation: root without CAP_SYS_RESOURCE.
private let hostBounding = Set(Capabilities.known).subtracting(["SYS_RESOURCE"])

private func sandbox(
  privileged: Bool = false, pidMode: SandboxSpec.NamespaceMode = .container, seccomp: SecurityProfile? = nil
) -> SandboxRecord {
  var spec = SandboxSpec(name: "pod", namespace: "default", uid: "uid-1", pidMode: pidMode)
  spec.security = SandboxSecurity(privileged: privileged, seccomp: seccomp)
  return SandboxRecord(
    id: "sandbox-1", spec: spec, state: .ready, createdAt: 1,
    pins: NamespacePins(network: "/run/netns/p", ipc: "/run/ipcns/p", uts: "/run/utsns/p"), runDirectory: "/run/pod",
    shmPath: "/run/pod/shm", hostname: "pod-host")
}

private let image = ContainerImage(
  id: "image-1", name: "busybox", ref: "busybox@sha256:1", layers: ["/layers/1"], env: ["A=1"], entrypoint: [],
  cmd: ["sh"], workingDir: "", user: "", stopSignal: "")

private func build(
  _ security: ContainerSecurity, oomScoreAdj: Int64 = 0, config: CRIOConfiguration = CRIOConfiguration(),
  sandbox: SandboxRecord = sandbox(privileged: true), pidNamespace: RuntimeSpec.Namespace? = .init(type: "pid")
) throws -> RuntimeSpec {
  let spec = ContainerSpec(name: "c", oomScoreAdj: oomScoreAdj, security: security)
  return try ContainerManager.buildSpec(
    config: config, sandbox: sandbox, spec: spec, image: image, args: ["sh"],
    user: ContainerUser(uid: 0, gid: 0, additionalGids: [0]), rootfs: "/rootfs", id: "c1", pidNamespace: pidNamespace,
    bounding: hostBounding
  ).0
}

private func tempRootfs(passwd: String, group: String) throws -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("crio-user-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: "\(path)/etc", withIntermediateDirectories: true)
  try passwd.write(toFile: "\(path)/etc/passwd", atomically: true, encoding: .utf8)
  try group.write(toFile: "\(path)/etc/group", atomically: true, encoding: .utf8)
  return path
}

@Suite struct CapabilityTests {
  let defaults = CRIOConfiguration().runtime.defaultCapabilities

  @Test func defaultsAreKeptWithinTheBoundingSet() throws {
    let resolved = try Capabilities.resolve(defaults: defaults + ["SYS_RESOURCE"], add: [], drop: [], privileged: false, bounding: hostBounding)
    #expect(resolved.granted == [
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE",
    ])
    #expect(resolved.unavailable == ["SYS_RESOURCE"])
  }

  @Test func addAndDropTakeNamesWithOrWithoutThePrefixInAnyCase() throws {
    let resolved = try Capabilities.resolve(
      defaults: defaults, add: ["NET_ADMIN", "cap_sys_admin"], drop: ["CAP_CHOWN", "kill"], privileged: false,
      bounding: hostBounding)
    #expect(resolved.granted.contains("CAP_NET_ADMIN"))
    #expect(resolved.granted.contains("CAP_SYS_ADMIN"))
    #expect(!resolved.granted.contains("CAP_CHOWN"))
    #expect(!resolved.granted.contains("CAP_KILL"))
  }

  @Test func allWorksInCRIOsOrder() throws {
    let none = try Capabilities.resolve(defaults: defaults, add: [], drop: ["ALL"], privileged: false, bounding: hostBounding)
    #expect(none.granted.isEmpty)
    let onlyNetAdmin = try Capabilities.resolve(
      defaults: defaults, add: ["NET_ADMIN"], drop: ["all"], privileged: false, bounding: hostBounding)
    #expect(onlyNetAdmin.granted == ["CAP_NET_ADMIN"])
    let allButChown = try Capabilities.resolve(
      defaults: defaults, add: ["ALL"], drop: ["CHOWN"], privileged: false, bounding: hostBounding)
    #expect(allButChown.granted.count == Capabilities.known.count - 2)
    #expect(!allButChown.granted.contains("CAP_CHOWN"))
    #expect(!allButChown.granted.contains("CAP_SYS_RESOURCE"), "never more than the bounding set")
    #expect(allButChown.unavailable == ["SYS_RESOURCE"])
  }

  @Test func privilegedGetsTheWholeBoundingSetAndNoMore() throws {
    let resolved = try Capabilities.resolve(defaults: [], add: [], drop: ["ALL"], privileged: true, bounding: hostBounding)
    #expect(Set(resolved.granted) == Set(hostBounding.map { "CAP_\($0)" }))
    #expect(resolved.unavailable.isEmpty)
  }

  @Test func unknownNamesAreRejected() {
    #expect(throws: ContainerError.invalid("unknown capability \"CAP_FLY\"")) {
      try Capabilities.resolve(defaults: [], add: ["CAP_FLY"], drop: [], privileged: false)
    }
  }

  @Test func statusMasksAreDecoded() {
    let status = "Name:\tx\nCapBnd:\t000001fffeffffff\n"
    let mask = Capabilities.mask("CapBnd", inStatus: status)
    #expect(mask == 0x1ff_feff_ffff)
    let names = Capabilities.names(inMask: mask ?? 0)
    #expect(names.count == Capabilities.known.count - 1)
    #expect(!names.contains("SYS_RESOURCE"))
  }
}

@Suite struct SpecSecurityTests {
  @Test func anOrdinaryContainerGetsDefaultsMaskedPathsAndNoSeccomp() throws {
    let spec = try build(ContainerSecurity())
    #expect(spec.process.capabilities?.bounding.contains("CAP_CHOWN") == true)
    #expect(spec.process.capabilities?.bounding.contains("CAP_NET_ADMIN") == false)
    #expect(spec.process.capabilities?.effective == spec.process.capabilities?.bounding)
    #expect(spec.process.noNewPrivileges == false)
    #expect(spec.linux.maskedPaths == SecurityContext.defaultMaskedPaths)
    #expect(spec.linux.readonlyPaths == SecurityContext.defaultReadonlyPaths)
    #expect(spec.linux.seccomp == nil, "an unset profile is unconfined")
    #expect(spec.linux.devices == nil)
    #expect(spec.mounts.first { $0.destination == "/sys" }?.options?.contains("ro") == true)
    #expect(spec.process.user.additionalGids == [0])
  }

  @Test func requestedPathListsReplaceTheDefaults() throws {
    let spec = try build(ContainerSecurity(maskedPaths: ["/bin/ls"], readonlyPaths: ["/tmp"]))
    #expect(spec.linux.maskedPaths == ["/bin/ls"])
    #expect(spec.linux.readonlyPaths == ["/tmp"])
    let onlyMasked = try build(ContainerSecurity(maskedPaths: ["/bin/ls"]))
    #expect(onlyMasked.linux.readonlyPaths == SecurityContext.defaultReadonlyPaths)
  }

  @Test func privilegedHasEveryAvailableCapabilityHostDevicesAWritableSysAndNoFilters() throws {
    let spec = try build(ContainerSecurity(privileged: true, seccomp: .runtimeDefault))
    #expect(Set(spec.process.capabilities?.bounding ?? []) == Set(hostBounding.map { "CAP_\($0)" }))
    #expect(spec.linux.maskedPaths == nil)
    #expect(spec.linux.readonlyPaths == nil)
    #expect(spec.linux.seccomp == nil)
    #expect(spec.linux.resources?.devices == [.init(allow: true, access: "rwm")])
    #expect(spec.linux.devices?.contains { $0.path == "/dev/null" && $0.type == "c" && $0.major == 1 && $0.minor == 3 } == true)
    #expect(spec.linux.devices?.contains { $0.path.hasPrefix("/dev/pts/") } == false)
    let sys = spec.mounts.first { $0.destination == "/sys" }
    #expect(sys?.options?.contains("rw") == true)
    #expect(sys?.options?.contains("ro") == false)
  }

  @Test func noNewPrivsAndTheOOMScoreAreApplied() throws {
    let spec = try build(ContainerSecurity(noNewPrivileges: true), oomScoreAdj: 500)
    #expect(spec.process.noNewPrivileges)
    #expect(spec.process.oomScoreAdj == 500)
  }

  @Test func theOOMScoreIsRaisedToWhatTheHostAllows() {
    let (low, note) = OOMScore.clamp(-998, own: 0, canLower: false)
    #expect(low == 0)
    #expect(note?.contains("CAP_SYS_RESOURCE") == true)
    #expect(OOMScore.clamp(-998, own: 0, canLower: true) == (-998, nil))
    #expect(OOMScore.clamp(300, own: 0, canLower: false) == (300, nil))
    #expect(OOMScore.clamp(5000, own: 0, canLower: false).0 == 1000)
  }

  @Test func thePIDNamespaceIsTheOneCreateChose() throws {
    let shared = try build(ContainerSecurity(), pidNamespace: .init(type: "pid", path: "/proc/42/ns/pid"))
    #expect(shared.linux.namespaces.contains(.init(type: "pid", path: "/proc/42/ns/pid")))
    let host = try build(ContainerSecurity(), pidNamespace: nil)
    #expect(!host.linux.namespaces.contains { $0.type == "pid" })
    #expect(host.linux.namespaces.contains(.init(type: "network", path: "/run/netns/p")))
  }

  @Test func invalidRequestsAreRejected() throws {
    let unprivilegedPod = sandbox(privileged: false).spec
    #expect(throws: ContainerError.self) {
      try SecurityContext.validate(ContainerSpec(name: "c", runAsGroup: 5), sandbox: unprivilegedPod)
    }
    try SecurityContext.validate(ContainerSpec(name: "c", runAsGroup: 5, runAsUsername: "nobody"), sandbox: unprivilegedPod)
    #expect(throws: ContainerError.self) {
      try SecurityContext.validate(
        ContainerSpec(name: "c", security: ContainerSecurity(privileged: true)), sandbox: unprivilegedPod)
    }
    #expect(throws: ContainerError.self) {
      try SecurityContext.validate(ContainerSpec(name: "c", security: ContainerSecurity(pidMode: .target)), sandbox: unprivilegedPod)
    }
    #expect(throws: ContainerError.self) {
      try build(ContainerSecurity(addCapabilities: ["BOGUS"]))
    }
  }

  @Test func apparmorAndSELinuxRequestsAreOnlyNoted() throws {
    var spec = RuntimeSpec(
      process: .init(terminal: false, user: .init(uid: 0, gid: 0), args: ["sh"], env: [], cwd: "/", capabilities: nil,
                     noNewPrivileges: false),
      root: .init(path: "/r", readonly: false), hostname: nil, mounts: [],
      linux: .init(namespaces: [], cgroupsPath: nil, resources: nil, maskedPaths: nil, readonlyPaths: nil))
    let notes = try SecurityContext.apply(
      ContainerSecurity(apparmorProfile: "localhost/k8s-nginx", selinuxLabel: "system_u:system_r:container_t:s0"),
      oomScoreAdj: 0, to: &spec, defaultCapabilities: [], bounding: hostBounding)
    #expect(notes.messages.contains { $0.contains("AppArmor profile localhost/k8s-nginx") })
    #expect(notes.messages.contains { $0.contains("SELinux") })
    #expect(SecurityContext.unsupportedNotes(apparmor: "unconfined", selinux: "").isEmpty)
  }
}

@Suite struct SeccompSelectionTests {
  @Test func theDeprecatedPathStrings() throws {
    #expect(try SecurityProfile.parse(path: "") == nil)
    #expect(try SecurityProfile.parse(path: "runtime/default") == .runtimeDefault)
    #expect(try SecurityProfile.parse(path: "docker/default") == .runtimeDefault)
    #expect(try SecurityProfile.parse(path: "unconfined") == .unconfined)
    #expect(try SecurityProfile.parse(path: "localhost//etc/p.json") == .localhost("/etc/p.json"))
    #expect(throws: ContainerError.self) { try SecurityProfile.parse(path: "strict") }
    #expect(throws: ContainerError.self) { try SecurityProfile.parse(path: "localhost/") }
    #expect(try SecurityProfile.localhost(ref: "/etc/p.json") == .localhost("/etc/p.json"))
    #expect(try SecurityProfile.localhost(ref: "localhost//etc/p.json") == .localhost("/etc/p.json"))
    #expect(throws: ContainerError.self) { try SecurityProfile.localhost(ref: "") }
  }

  @Test func unsetAndUnconfinedHaveNoFilterTheDefaultHasOne() throws {
    #expect(try SeccompProfile.filter(for: nil, capabilities: []) == nil)
    #expect(try SeccompProfile.filter(for: .unconfined, capabilities: []) == nil)
    let profile = try #require(try SeccompProfile.filter(for: .runtimeDefault, capabilities: []))
    #expect(profile.defaultAction == "SCMP_ACT_ALLOW")
    #if arch(x86_64)
      #expect(profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    #endif
  }

  private func denied(_ profile: RuntimeSpec.Seccomp, _ name: String) -> Bool {
    profile.syscalls?.contains { $0.names.contains(name) && $0.action == "SCMP_ACT_ERRNO" && $0.args == nil } ?? false
  }

  @Test func theDefaultProfileLiftsRefusalsWithTheirCapability() {
    let plain = SeccompProfile.runtimeDefault(capabilities: ["CAP_CHOWN", "CAP_SETUID"])
    for name in ["sethostname", "mount", "unshare", "setns", "kexec_load", "init_module", "keyctl", "reboot", "chroot"] {
      #expect(denied(plain, name), "\(name)")
    }
    for name in ["read", "write", "execve", "clone", "openat", "chmod", "ptrace"] {
      #expect(!denied(plain, name), "\(name) must stay allowed")
    }
    let cloneRules = plain.syscalls?.filter { $0.names == ["clone"] } ?? []
    #expect(cloneRules.count == 8)
    #expect(cloneRules.allSatisfy { $0.args?.first?.op == "SCMP_CMP_MASKED_EQ" && $0.args?.first?.value == $0.args?.first?.valueTwo })
    #expect(plain.syscalls?.first { $0.names == ["clone3"] }?.errnoRet == 38, "ENOSYS, so libc falls back to clone")

    let admin = SeccompProfile.runtimeDefault(capabilities: ["CAP_SYS_ADMIN", "SYS_CHROOT"])
    for name in ["sethostname", "mount", "unshare", "setns", "clone3", "chroot"] {
      #expect(!denied(admin, name), "\(name) is allowed with its capability")
    }
    #expect(!(admin.syscalls ?? []).contains { $0.names == ["clone"] })
    #expect(denied(admin, "kexec_load"), "nothing lifts kexec")
  }

  @Test func localhostProfilesAreReadInTheMobyFormat() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seccomp-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = "\(dir)/profile.json"
    try #"""
      {
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
          {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"},
          {"name": "sethostname", "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
          {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
          {"names": ["umount2"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
          {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]
      }
      """#.write(toFile: path, atomically: true, encoding: .utf8)
    let plain = try #require(try SeccompProfile.filter(for: .localhost(path), capabilities: ["CAP_CHOWN"]))
    #expect(plain.defaultAction == "SCMP_ACT_ALLOW")
    #if arch(x86_64)
      #expect(plain.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    #endif
    #expect(plain.syscalls?.map(\.names) == [["chmod", "fchmodat"], ["sethostname"], ["umount2"], ["personality"]])
    #expect(plain.syscalls?[1].errnoRet == 1)
    #expect(plain.syscalls?[3].args == [.init(index: 0, value: 8, op: "SCMP_CMP_EQ")])
    let admin = try #require(try SeccompProfile.filter(for: .localhost(path), capabilities: ["CAP_SYS_ADMIN"]))
    #expect(admin.syscalls?.map(\.names) == [["chmod", "fchmodat"], ["sethostname"], ["mount"], ["personality"]])

    #expect(throws: ContainerError.self) { try SeccompProfile.filter(for: .localhost("\(dir)/absent.json"), capabilities: []) }
    #expect(throws: ContainerError.self) { try SeccompProfile.filter(for: .localhost("relative.json"), capabilities: []) }
    try #"{"defaultAction": "SCMP_ACT_MAYBE"}"#.write(toFile: "\(dir)/bad.json", atomically: true, encoding: .utf8)
    #expect(throws: ContainerError.self) { try SeccompProfile.filter(for: .localhost("\(dir)/bad.json"), capabilities: []) }
    try "not json".write(toFile: "\(dir)/garbage.json", atomically: true, encoding: .utf8)
    #expect(throws: ContainerError.self) { try SeccompProfile.filter(for: .localhost("\(dir)/garbage.json"), capabilities: []) }
  }

  @Test func aContainerFilterFollowsItsOwnCapabilities() throws {
    let withAdmin = try build(ContainerSecurity(addCapabilities: ["SYS_ADMIN"], seccomp: .runtimeDefault))
    #expect(!(withAdmin.linux.seccomp?.syscalls ?? []).contains { $0.names.contains("sethostname") })
    let without = try build(ContainerSecurity(seccomp: .runtimeDefault))
    #expect((without.linux.seccomp?.syscalls ?? []).contains { $0.names.contains("sethostname") })
  }
}

@Suite struct ContainerUserTests {
  let passwd = """
    root:x:0:0:root:/root:/bin/sh
    www-data:x:33:33::/var/www:/bin/sh
    default-user:x:1000:1000::/home/default-user:/bin/sh
    nogid:x:1200
    """
  let group = """
    root:x:0:
    www-data:x:33:
    default-user:x:1000:
    group-defined-in-image:x:50000:default-user,other
    another:x:50001:www-data
    """

  @Test func requestedGroupsMergeWithTheImagesMembership() throws {
    let rootfs = try tempRootfs(passwd: passwd, group: group)
    defer { try? FileManager.default.removeItem(atPath: rootfs) }
    var spec = ContainerSpec(name: "c", runAsUser: 1000)
    spec.security.supplementalGroups = [1234]
    let merged = try ContainerUser.resolve(spec: spec, imageUser: "", rootfs: rootfs)
    #expect(merged == ContainerUser(uid: 1000, gid: 1000, additionalGids: [1000, 50000, 1234]))
    spec.security.supplementalGroupsPolicy = .strict
    let strict = try ContainerUser.resolve(spec: spec, imageUser: "", rootfs: rootfs)
    #expect(strict == ContainerUser(uid: 1000, gid: 1000, additionalGids: [1000, 1234]))
  }

  @Test func namesNumbersAndImageUsers() throws {
    let rootfs = try tempRootfs(passwd: passwd, group: group)
    defer { try? FileManager.default.removeItem(atPath: rootfs) }
    #expect(try ContainerUser.resolve(spec: ContainerSpec(name: "c"), imageUser: "", rootfs: rootfs)
      == ContainerUser(uid: 0, gid: 0, additionalGids: [0]))
    #expect(try ContainerUser.resolve(spec: ContainerSpec(name: "c", runAsUsername: "www-data"), imageUser: "", rootfs: rootfs)
      == ContainerUser(uid: 33, gid: 33, additionalGids: [33, 50001]))
    #expect(try ContainerUser.resolve(spec: ContainerSpec(name: "c", runAsUser: 1001, runAsGroup: 1002), imageUser: "", rootfs: rootfs)
      == ContainerUser(uid: 1001, gid: 1002, additionalGids: [1002]))
    #expect(try ContainerUser.resolve(spec: ContainerSpec(name: "c"), imageUser: "www-data:1004", rootfs: rootfs)
      == ContainerUser(uid: 33, gid: 1004, additionalGids: [1004, 50001]))
    #expect(try ContainerUser.resolve(spec: ContainerSpec(name: "c"), imageUser: "1003:another", rootfs: rootfs)
      == ContainerUser(uid: 1003, gid: 50001, additionalGids: [50001]))
    #expect(try ContainerUser.resolve(spec: ContainerSpec(name: "c"), imageUser: "nogid", rootfs: rootfs).uid == 1200)
    #expect(throws: ContainerError.self) {
      try ContainerUser.resolve(spec: ContainerSpec(name: "c", runAsUsername: "ghost"), imageUser: "", rootfs: rootfs)
    }
    #expect(throws: ContainerError.self) {
      try ContainerUser.resolve(spec: ContainerSpec(name: "c"), imageUser: "1:nogroup", rootfs: rootfs)
    }
  }
}

@Suite struct InfraSpecTests {
  @Test func pauseRunsAloneWithNothing() throws {
    let pod = sandbox(pidMode: .pod, seccomp: .runtimeDefault)
    let (spec, _) = try ContainerManager.infraSpec(
      config: CRIOConfiguration(), sandbox: pod, image: image, user: ContainerUser(uid: 65535, gid: 65535, additionalGids: [65535]),
      rootfs: "/rootfs", id: "infra-1")
    #expect(spec.process.args == ["/pause"])
    #expect(spec.process.capabilities == .init([]))
    #expect(spec.process.noNewPrivileges)
    #expect(spec.root.readonly)
    #expect(spec.process.user.uid == 65535)
    #expect(spec.linux.namespaces.contains(.init(type: "pid")), "a new PID namespace, pause as its PID 1")
    #expect(spec.linux.namespaces.contains(.init(type: "network", path: "/run/netns/p")))
    #expect(spec.linux.seccomp != nil, "the pod's seccomp profile")
    #expect(spec.process.oomScoreAdj == OOMScore.clamp(-998).0)
    #expect(spec.linux.cgroupsPath == "/crio/crio-infra-1")

    var config = CRIOConfiguration()
    config.image.pauseCommand = ""
    let hostPID = sandbox(pidMode: .node)
    let (fromImage, _) = try ContainerManager.infraSpec(
      config: config, sandbox: hostPID, image: image, user: ContainerUser(uid: 0, gid: 0, additionalGids: [0]),
      rootfs: "/rootfs", id: "infra-2")
    #expect(fromImage.process.args == ["sh"], "the image's command without pause_command")
    #expect(!fromImage.linux.namespaces.contains { $0.type == "pid" })
    #expect(fromImage.linux.seccomp == nil)
  }
}

@Suite struct RecordCompatibilityTests {
  @Test func recordsWrittenBeforeSecurityContextsStillLoad() throws {
    let container = #"""
      {"id": "c1", "sandboxID": "s1", "runtimeHandler": "", "state": "running", "createdAt": 1, "startedAt": 2,
       "finishedAt": 0, "exitCode": 0, "reason": "", "message": "", "pid": 10, "logPath": "/l", "bundle": "/b",
       "layerDirectory": "/d", "uid": 0, "gid": 0,
       "spec": {"name": "c", "attempt": 0, "command": ["sh"], "args": [], "workingDir": "", "env": [], "labels": {},
                "annotations": {}, "logPath": "", "tty": false, "stdin": false, "mounts": [], "runAsUsername": "",
                "readonlyRootfs": false, "memoryLimit": 0, "cpuShares": 0, "cpuQuota": 0, "cpuPeriod": 0, "cpusetCpus": ""},
       "image": {"id": "i", "name": "n", "ref": "r", "layers": [], "env": [], "entrypoint": [], "cmd": [],
                 "workingDir": "", "user": "", "stopSignal": ""}}
      """#
    let record = try JSONDecoder().decode(ContainerRecord.self, from: Data(container.utf8))
    #expect(record.spec.security == ContainerSecurity())
    #expect(record.spec.oomScoreAdj == 0)
    #expect(record.additionalGids.isEmpty)
    let roundTrip = try JSONDecoder().decode(ContainerRecord.self, from: JSONEncoder().encode(record))
    #expect(roundTrip == record)

    let sandbox = #"{"name": "p", "namespace": "n", "uid": "u"}"#
    let spec = try JSONDecoder().decode(SandboxSpec.self, from: Data(sandbox.utf8))
    #expect(spec.security == SandboxSecurity())
    var secured = spec
    secured.security = SandboxSecurity(privileged: true, seccomp: .localhost("/p.json"), runAsUser: 5)
    #expect(try JSONDecoder().decode(SandboxSpec.self, from: JSONEncoder().encode(secured)) == secured)
  }
}
