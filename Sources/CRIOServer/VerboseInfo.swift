import CRIORuntime
import CRIOSystem
import Foundation

/// The `info` of a verbose PodSandboxStatus / ContainerStatus: JSON with
/// sorted keys, encoded from these types (about half the time
/// JSONSerialization of dictionaries takes; critest's benchmark asks every
/// status verbose).
enum VerboseInfo {
  struct Pod: Encodable {
    struct Namespaces: Encodable {
      var network, ipc, uts, user: String
    }
    struct Infra: Encodable {
      var id: String
      var pid: Int32
      var state: String
    }
    struct IDMappings: Encodable {
      var uids, gids: [String]
    }
    var hostname, runDirectory: String
    var namespaces: Namespaces
    var shm, cgroupParent: String
    var infraContainer: Infra?
    var idMappings: IDMappings?
  }

  struct Container: Encodable {
    var pid: Int32
    var bundle, rootfs, sandboxID: String
  }

  static func pod(_ record: SandboxRecord, infra: ContainerRecord?) -> String {
    // Every range, `container:host:length` (as `crio status info` prints default mappings).
    func ranges(_ list: [IDMapping]) -> [String] { list.map { "\($0.containerID):\($0.hostID):\($0.length)" } }
    let info = Pod(
      hostname: record.hostname, runDirectory: record.runDirectory,
      namespaces: .init(
        network: record.pins.network ?? "host", ipc: record.pins.ipc ?? "host", uts: record.pins.uts ?? "host",
        user: record.pins.user ?? "host"),
      shm: record.shmPath ?? "/dev/shm", cgroupParent: record.spec.cgroupParent,
      infraContainer: infra.map { .init(id: $0.id, pid: $0.pid, state: $0.state.rawValue) },
      idMappings: record.spec.userNamespace.map { .init(uids: ranges($0.uids), gids: ranges($0.gids)) })
    return json(info)
  }

  static func container(_ record: ContainerRecord) -> String {
    json(Container(pid: record.pid, bundle: record.bundle, rootfs: record.rootfs, sandboxID: record.sandboxID))
  }

  private static func json(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }
}
