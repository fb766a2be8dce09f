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

  public init(
    name: String, namespace: String, uid: String, attempt: UInt32 = 0, hostname: String = "",
    logDirectory: String = "", dns: DNS? = nil, labels: [String: String] = [:], annotations: [String: String] = [:],
    runtimeHandler: String = "", networkMode: NamespaceMode = .pod, pidMode: NamespaceMode = .container,
    ipcMode: NamespaceMode = .pod, sysctls: [String: String] = [:], cgroupParent: String = ""
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
  }

  /// The name that must be unique among sandboxes: CRI-O's
  /// `k8s_<name>_<namespace>_<uid>_<attempt>`.
  public var reservedName: String { "k8s_\(name)_\(namespace)_\(uid)_\(attempt)" }
}
