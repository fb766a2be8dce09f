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

  @Test func thePinsIncludeTheUserNamespace() {
    let pins = SandboxManager.pins(id: "abc", under: "/ns")
    #expect(pins.user == "/ns/userns/abc")
    #expect(pins.paths.contains("/ns/userns/abc"))
  }
}
