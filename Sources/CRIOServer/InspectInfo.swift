import CRIOConfig
import CRIORuntime

/// The JSON documents of the inspect endpoints (`/info`, `/containers/{id}`),
/// with CRI-O's field names (its `pkg/types`), so CRI-O's `crio status` and
/// cAdvisor's CRI-O client read them.
public struct CrioInfo: Codable, Equatable, Sendable {
  public struct IDMap: Codable, Equatable, Sendable {
    public var containerID: Int
    public var hostID: Int
    public var size: Int

    enum CodingKeys: String, CodingKey {
      case containerID = "container_id", hostID = "host_id", size
    }
  }

  public struct IDMappings: Codable, Equatable, Sendable {
    public var uids: [IDMap]
    public var gids: [IDMap]
  }

  public var storageDriver: String
  public var storageImage: String
  public var storageRoot: String
  public var cgroupDriver: String
  public var defaultIDMappings: IDMappings

  enum CodingKeys: String, CodingKey {
    case storageDriver = "storage_driver", storageImage = "storage_image", storageRoot = "storage_root"
    case cgroupDriver = "cgroup_driver", defaultIDMappings = "default_id_mappings"
  }

  /// crio has no user namespace mappings: every ID maps to itself, which
  /// CRI-O reports as one mapping of the whole 32-bit range.
  static let identityMappings = IDMappings(
    uids: [IDMap(containerID: 0, hostID: 0, size: Int(UInt32.max))],
    gids: [IDMap(containerID: 0, hostID: 0, size: Int(UInt32.max))])

  /// The daemon's storage: crio's own store of overlay layers under `root`.
  init(config: CRIOConfiguration) {
    storageDriver = "overlay"
    storageImage = ""
    storageRoot = config.root
    cgroupDriver = config.runtime.cgroupManager
    defaultIDMappings = Self.identityMappings
  }
}

public struct ContainerInfo: Codable, Equatable, Sendable {
  public var name: String
  public var pid: Int
  public var image: String
  public var imageRef: String
  /// Nanoseconds since the epoch.
  public var createdTime: Int64
  public var labels: [String: String]
  public var annotations: [String: String]
  /// CRI-O's own `io.kubernetes.cri-o.*` annotations: crio keeps none.
  public var crioAnnotations: [String: String]?
  public var logPath: String
  /// The container's root filesystem (its overlay mount point).
  public var root: String
  public var sandbox: String
  public var ipAddresses: [String]
  public var hostNetwork: Bool?

  enum CodingKeys: String, CodingKey {
    case name, pid, image, imageRef = "image_ref", createdTime = "created_time", labels, annotations
    case crioAnnotations = "crio_annotations", logPath = "log_path", root, sandbox, ipAddresses = "ip_addresses"
    case hostNetwork = "host_network"
  }

  init(_ record: ContainerRecord, name: String, pid: Int32, sandbox: SandboxRecord) {
    self.name = name
    self.pid = Int(pid)
    image = record.image.name
    imageRef = record.image.ref
    createdTime = record.createdAt
    labels = record.spec.labels
    annotations = record.spec.annotations
    crioAnnotations = [:]
    logPath = record.logPath
    root = record.rootfs
    self.sandbox = sandbox.id
    ipAddresses = sandbox.ips
    hostNetwork = sandbox.spec.networkMode == .node
  }
}
