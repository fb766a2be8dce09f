import CRIOConfig
import CRIOSystem
import Foundation
import OCI
import Testing

@testable import CRIORuntime

/// The OCI spec and records of pods in user namespaces.
@Suite struct UserNamespaceSpecTests {
  static let mapping = [IDMapping(containerID: 0, hostID: 200_000, length: 65536)]

  static func sandbox(userns: Bool) -> SandboxRecord {
    let spec = SandboxSpec(
      name: "pod", namespace: "default", uid: "uid-1",
      userNamespace: userns ? SandboxSpec.UserNamespace(uids: mapping, gids: mapping) : nil)
    return SandboxRecord(
      id: "sandbox-1", spec: spec, state: .ready, createdAt: 1,
      pins: NamespacePins(
        network: "/run/netns/p", ipc: "/run/ipcns/p", uts: "/run/utsns/p", user: userns ? "/run/userns/p" : nil),
      runDirectory: "/run/pod", shmPath: "/run/pod/shm", hostname: "pod-host")
  }

  static let image = ContainerImage(
    id: "image-1", name: "busybox", ref: "busybox@sha256:1", layers: ["/layers/1"], env: [], entrypoint: [],
    cmd: ["sh"], workingDir: "", user: "", stopSignal: "")

  func build(_ sandbox: SandboxRecord) throws -> RuntimeSpec {
    try ContainerManager.buildSpec(
      config: CRIOConfiguration(), sandbox: sandbox, spec: ContainerSpec(name: "c"), image: Self.image, args: ["sh"],
      user: ContainerUser(uid: 0, gid: 0, additionalGids: [0]), rootfs: "/rootfs", id: "c1",
      pidNamespace: .init(type: "pid")
    ).0
  }

  @Test func containersJoinThePinnedUserNamespaceWithItsMappings() throws {
    let spec = try build(Self.sandbox(userns: true))
    #expect(spec.linux.namespaces.contains(.init(type: "user", path: "/run/userns/p")))
    let expected = [RuntimeSpec.IDMapping(containerID: 0, hostID: 200_000, size: 65536)]
    #expect(spec.linux.uidMappings == expected)
    #expect(spec.linux.gidMappings == expected)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let json = String(decoding: try encoder.encode(spec), as: UTF8.self)
    #expect(json.contains(#""uidMappings":[{"containerID":0,"hostID":200000,"size":65536}]"#))

    let infra = try ContainerManager.infraSpec(
      config: CRIOConfiguration(), sandbox: Self.sandbox(userns: true), image: Self.image,
      user: ContainerUser(uid: 0, gid: 0, additionalGids: []), rootfs: "/rootfs", id: "i1"
    ).0
    #expect(infra.linux.namespaces.contains(.init(type: "user", path: "/run/userns/p")))
    #expect(infra.linux.uidMappings == expected)
  }

  @Test func withoutAUserNamespaceNothingChanges() throws {
    let spec = try build(Self.sandbox(userns: false))
    #expect(!spec.linux.namespaces.contains { $0.type == "user" })
    #expect(spec.linux.uidMappings == nil && spec.linux.gidMappings == nil)
    let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
    #expect(!json.contains("uidMappings"))
  }

  @Test func recordsRoundTripAndOldOnesHaveNone() throws {
    let record = Self.sandbox(userns: true)
    let decoded = try JSONDecoder().decode(SandboxRecord.self, from: try JSONEncoder().encode(record))
    #expect(decoded.spec.userNamespace == record.spec.userNamespace)
    #expect(decoded.pins.user == "/run/userns/p")
    #expect(decoded.spec.userNamespace?.rootUID == 200_000)
    let old = #"{"name":"p","namespace":"n","uid":"u"}"#
    #expect(try JSONDecoder().decode(SandboxSpec.self, from: Data(old.utf8)).userNamespace == nil)
    let oldPins = #"{"network":"/n"}"#
    #expect(try JSONDecoder().decode(NamespacePins.self, from: Data(oldPins.utf8)).user == nil)
  }

  @Test func mappingText() {
    #expect(IDMapping.mapText(Self.mapping) == "0 200000 65536\n")
    #expect(IDMapping.host(0, in: Self.mapping) == 200_000)
    #expect(IDMapping.host(65535, in: Self.mapping) == 265_535)
    #expect(IDMapping.host(65536, in: Self.mapping) == nil)
  }

  static let twoRanges = [
    IDMapping(containerID: 1000, hostID: 300_000, length: 64536), IDMapping(containerID: 0, hostID: 200_000, length: 1000),
  ]

  @Test func severalRangesTranslateEachID() throws {
    let userns = SandboxSpec.UserNamespace(uids: Self.twoRanges, gids: Self.twoRanges)
    #expect(userns.rootUID == 200_000 && userns.rootGID == 200_000)
    #expect(userns.hostUID(999) == 200_999)
    #expect(userns.hostUID(1000) == 300_000)
    #expect(userns.hostGID(65535) == 364_535)
    #expect(userns.hostUID(65536) == nil)
    #expect(IDMapping.mapText(Self.twoRanges) == "1000 300000 64536\n0 200000 1000\n")
    #expect(SandboxSpec.UserNamespace.problem(in: Self.twoRanges, kind: "UID") == nil)

    // The OCI spec carries every range, in order.
    let spec = try build(
      SandboxRecord(
        id: "sandbox-2", spec: SandboxSpec(name: "pod", namespace: "default", uid: "uid-2", userNamespace: userns),
        state: .ready, createdAt: 1, pins: NamespacePins(network: "/n", ipc: "/i", uts: "/u", user: "/run/userns/q"),
        runDirectory: "/run/pod", shmPath: "/run/pod/shm", hostname: "pod-host"))
    #expect(spec.linux.uidMappings == [.init(containerID: 1000, hostID: 300_000, size: 64536), .init(containerID: 0, hostID: 200_000, size: 1000)])
    #expect(spec.linux.gidMappings == spec.linux.uidMappings)

    // A container user outside every range is refused before runc fails with a bare EINVAL.
    #expect(throws: Never.self) {
      try ContainerManager.checkMapped(ContainerUser(uid: 1000, gid: 0, additionalGids: [999, 65535]), in: userns)
    }
    #expect(throws: ContainerError.self) {
      try ContainerManager.checkMapped(ContainerUser(uid: 65536, gid: 0, additionalGids: []), in: userns)
    }
    #expect(throws: ContainerError.self) {
      try ContainerManager.checkMapped(ContainerUser(uid: 0, gid: 0, additionalGids: [70000]), in: userns)
    }
  }

  @Test func mappingValidation() {
    func problem(_ ranges: [(UInt32, UInt32, UInt32)], pageSize: Int = 4096) -> String? {
      SandboxSpec.UserNamespace.problem(
        in: ranges.map { IDMapping(containerID: $0.0, hostID: $0.1, length: $0.2) }, kind: "UID", pageSize: pageSize)
    }
    #expect(problem([(0, 200_000, 65536)]) == nil)
    #expect(problem([(0, 100, 1), (1, 200, 1), (2, 300, 1)]) == nil)
    // Adjacent ranges are fine; the last valid ID is 2^32 - 2.
    #expect(problem([(0, 100_000, 10), (10, 100_010, 10)]) == nil)
    #expect(problem([(0, 0, UInt32.max)]) == nil)
    #expect(problem([])?.contains("no UID mapping") == true)
    #expect(problem([(0, 1, 0)])?.contains("empty") == true)
    #expect(problem([(0, UInt32.max - 10, 11)])?.contains("32 bits") == true)
    #expect(problem([(0, 0, 10), (UInt32.max - 5, 100, 6)])?.contains("32 bits") == true)
    #expect(problem([(0, 200_000, 65536), (0, 300_000, 65536)])?.contains("overlap on the container side") == true)
    #expect(problem([(0, 200_000, 1000), (999, 300_000, 10)])?.contains("overlap on the container side") == true)
    #expect(problem([(0, 200_000, 1000), (1000, 200_999, 10)])?.contains("overlap on the host side") == true)
    #expect(problem([(1, 200_000, 65536)])?.contains("container UID 0 is not mapped") == true)
    let many = (0..<340).map { (UInt32($0), UInt32(1000 + $0), UInt32(1)) }
    #expect(problem(many) == nil)
    #expect(problem(many + [(340, 1340, 1)])?.contains("at most 340") == true)
    // The kernel takes the map in one write of less than a page.
    let long = (0..<300).map { (UInt32($0) * 1_000_000, UInt32($0) * 1_000_000 + 4_000_000_00, UInt32(1)) }
    #expect(problem(long)?.contains("less than 4096") == true)
  }

  @Test func thePinsIncludeTheUserNamespace() {
    let pins = SandboxManager.pins(id: "abc", under: "/ns")
    #expect(pins.user == "/ns/userns/abc")
    #expect(pins.paths.contains("/ns/userns/abc"))
  }
}
