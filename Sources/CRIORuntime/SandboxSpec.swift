import CRIONetwork
import CRIOSystem

/// What a pod sandbox is asked to be, in crio's own terms (the CRI server
/// translates `PodSandboxConfig` into this).
public struct SandboxSpec: Sendable, Equatable, Codable {
  public enum NamespaceMode: String, Sendable, Codable {
    /// Shared by the pod's containers (the pod's own namespace).
    case pod
    /// One per container.
    case container
    /// The host's.
    case node
    /// Another container's.
    case target
  }

  public struct DNS: Sendable, Equatable, Codable {
    public var servers: [String]
    public var searches: [String]
    public var options: [String]

    public init(servers: [String], searches: [String], options: [String]) {
      self.servers = servers
      self.searches = searches
      self.options = options
    }
  }

  /// A pod in its own user namespace (`NamespaceOption.userns_options`
  /// mode POD): the kubelet's ID mappings (one or more ranges each, one of
  /// them mapping container ID 0; see `problem(in:kind:)`).
  public struct UserNamespace: Sendable, Equatable, Codable {
    public var uids: [IDMapping]
    public var gids: [IDMapping]

    public init(uids: [IDMapping], gids: [IDMapping]) {
      self.uids = uids
      self.gids = gids
    }

    /// The host IDs of the pod's root.
    public var rootUID: UInt32 { IDMapping.host(0, in: uids) ?? 0 }
    public var rootGID: UInt32 { IDMapping.host(0, in: gids) ?? 0 }

    /// The host UID of container UID `uid` (nil: not mapped).
    public func hostUID(_ uid: UInt32) -> UInt32? { IDMapping.host(uid, in: uids) }
    /// The host GID of container GID `gid` (nil: not mapped).
    public func hostGID(_ gid: UInt32) -> UInt32? { IDMapping.host(gid, in: gids) }

    /// The most ranges a uid_map or gid_map may have (the kernel's limit since 4.15).
    public static let maximumRanges = 340

    /// Why `mappings` cannot be written as a user namespace's `kind` ("UID"
    /// or "GID") map, or nil: the kernel's rules (at most 340 ranges, each
    /// non-empty and within 32 bits on both sides, no two overlapping on
    /// either side, the text shorter than a page) plus crio's own: container
    /// ID 0 must be mapped (the pod's root owns its files).
    public static func problem(in mappings: [IDMapping], kind: String, pageSize: Int = 4096) -> String? {
      guard !mappings.isEmpty else { return "no \(kind) mapping" }
      guard mappings.count <= maximumRanges else {
        return "\(mappings.count) \(kind) mappings: at most \(maximumRanges) are allowed"
      }
      // The last ID of a range must stay below 2^32 - 1 (the kernel's invalid ID, (uid_t)-1).
      let limit = UInt64(UInt32.max)
      for m in mappings {
        let what = "\(kind) mapping \(m.containerID) \(m.hostID) \(m.length)"
        guard m.length > 0 else { return "\(what): an empty range" }
        guard UInt64(m.containerID) + UInt64(m.length) <= limit, UInt64(m.hostID) + UInt64(m.length) <= limit else {
          return "\(what): the range goes beyond 32 bits"
        }
      }
      for (side, start) in [("container", \IDMapping.containerID), ("host", \IDMapping.hostID)] {
        let sorted = mappings.sorted { $0[keyPath: start] < $1[keyPath: start] }
        for (a, b) in zip(sorted, sorted.dropFirst()) where UInt64(a[keyPath: start]) + UInt64(a.length) > UInt64(b[keyPath: start]) {
          return "\(kind) mappings \(a.containerID) \(a.hostID) \(a.length) and \(b.containerID) \(b.hostID) \(b.length) overlap on the \(side) side"
        }
      }
      guard IDMapping.host(0, in: mappings) != nil else {
        return "container \(kind) 0 is not mapped (the pod's root)"
      }
      let text = IDMapping.mapText(mappings)
      guard text.utf8.count < pageSize else {
        return "the \(kind) mappings take \(text.utf8.count) bytes: the kernel takes less than \(pageSize)"
      }
      return nil
    }
  }

  public var name: String
  public var namespace: String
  public var uid: String
  public var attempt: UInt32
  public var hostname: String
  public var logDirectory: String
  public var dns: DNS?
  public var labels: [String: String]
  public var annotations: [String: String]
  public var runtimeHandler: String
  public var networkMode: NamespaceMode
  public var pidMode: NamespaceMode
  public var ipcMode: NamespaceMode
  public var sysctls: [String: String]
  public var cgroupParent: String
  public var portMappings: [CNIAttachment.PortMapping]
  public var security: SandboxSecurity
  /// nil: the host's user namespace (mode NODE).
  public var userNamespace: UserNamespace?

  public init(
    name: String, namespace: String, uid: String, attempt: UInt32 = 0, hostname: String = "",
    logDirectory: String = "", dns: DNS? = nil, labels: [String: String] = [:], annotations: [String: String] = [:],
    runtimeHandler: String = "", networkMode: NamespaceMode = .pod, pidMode: NamespaceMode = .container,
    ipcMode: NamespaceMode = .pod, sysctls: [String: String] = [:], cgroupParent: String = "",
    portMappings: [CNIAttachment.PortMapping] = [], security: SandboxSecurity = SandboxSecurity(),
    userNamespace: UserNamespace? = nil
  ) {
    self.name = name
    self.namespace = namespace
    self.uid = uid
    self.attempt = attempt
    self.hostname = hostname
    self.logDirectory = logDirectory
    self.dns = dns
    self.labels = labels
    self.annotations = annotations
    self.runtimeHandler = runtimeHandler
    self.networkMode = networkMode
    self.pidMode = pidMode
    self.ipcMode = ipcMode
    self.sysctls = sysctls
    self.cgroupParent = cgroupParent
    self.portMappings = portMappings
    self.security = security
    self.userNamespace = userNamespace
  }

  enum CodingKeys: String, CodingKey {
    case name, namespace, uid, attempt, hostname, logDirectory, dns, labels, annotations, runtimeHandler
    case networkMode, pidMode, ipcMode, sysctls, cgroupParent, portMappings, security
    case userNamespace
  }

  /// Decodes records written by any earlier version: fields added later
  /// take their defaults when absent.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    namespace = try c.decode(String.self, forKey: .namespace)
    uid = try c.decode(String.self, forKey: .uid)
    attempt = try c.decodeIfPresent(UInt32.self, forKey: .attempt) ?? 0
    hostname = try c.decodeIfPresent(String.self, forKey: .hostname) ?? ""
    logDirectory = try c.decodeIfPresent(String.self, forKey: .logDirectory) ?? ""
    dns = try c.decodeIfPresent(DNS.self, forKey: .dns)
    labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
    runtimeHandler = try c.decodeIfPresent(String.self, forKey: .runtimeHandler) ?? ""
    networkMode = try c.decodeIfPresent(NamespaceMode.self, forKey: .networkMode) ?? .pod
    pidMode = try c.decodeIfPresent(NamespaceMode.self, forKey: .pidMode) ?? .container
    ipcMode = try c.decodeIfPresent(NamespaceMode.self, forKey: .ipcMode) ?? .pod
    sysctls = try c.decodeIfPresent([String: String].self, forKey: .sysctls) ?? [:]
    cgroupParent = try c.decodeIfPresent(String.self, forKey: .cgroupParent) ?? ""
    portMappings = try c.decodeIfPresent([CNIAttachment.PortMapping].self, forKey: .portMappings) ?? []
    security = try c.decodeIfPresent(SandboxSecurity.self, forKey: .security) ?? SandboxSecurity()
    userNamespace = try c.decodeIfPresent(UserNamespace.self, forKey: .userNamespace)
  }

  /// The name that must be unique among sandboxes: CRI-O's
  /// `k8s_<name>_<namespace>_<uid>_<attempt>`.
  public var reservedName: String { "k8s_\(name)_\(namespace)_\(uid)_\(attempt)" }
}
