/// The effective configuration of the crio daemon.
///
/// Table and key names follow CRI-O's `crio.conf` (see `ConfigSchema`), so an
/// admin's CRI-O configuration carries over. Built-in defaults are those of
/// CRI-O, adapted where this project's hosts differ (runc by default, cgroupfs).
public struct CRIOConfiguration: Sendable, Equatable {
  /// `[crio]`: storage and logging locations.
  public var root = "/var/lib/containers/storage"
  public var runroot = "/run/containers/storage"
  public var logDir = "/var/log/crio/pods"
  /// On a tmpfs: its absence at start-up means the node rebooted (see RuntimeRecovery).
  public var versionFile = "/var/run/crio/version"

  public var api = API()
  public var runtime = Runtime()
  public var image = Image()
  public var network = Network()
  public var metrics = Metrics()
  public var stats = Stats()

  public init() {}

  /// `[crio.api]`: the gRPC endpoint and the streaming server.
  public struct API: Sendable, Equatable {
    public var listen = "/var/run/crio/crio.sock"
    public var streamAddress = "127.0.0.1"
    public var streamPort = "0"
    public var streamEnableTLS = false
    public var streamTLSCert = ""
    public var streamTLSKey = ""
    /// Client CA bundle: when set, streaming clients must present a certificate it signed.
    public var streamTLSCA = ""
    /// A Go duration ("4h", "30m"); empty means Kubernetes' default of 4 hours.
    public var streamIdleTimeout = ""
    public var grpcMaxSendMsgSize = 80 * 1024 * 1024
    public var grpcMaxRecvMsgSize = 80 * 1024 * 1024
  }

  /// `[crio.runtime]`: OCI runtimes, conmon and container defaults.
  public struct Runtime: Sendable, Equatable {
    public var defaultRuntime = "runc"
    public var cgroupManager = "cgroupfs"
    public var conmon = ""
    public var conmonCgroup = "pod"
    public var defaultCapabilities = [
      "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID", "SETPCAP",
      "NET_BIND_SERVICE", "KILL",
    ]
    public var defaultSysctls: [String] = []
    public var pidsLimit = 0
    public var logSizeMax = -1
    public var logLevel = "info"
    public var dropInfraCtr = true
    /// Where pod namespaces are pinned: `<dir>/netns`, `<dir>/ipcns`, `<dir>/utsns`.
    public var namespacesDir = "/var/run"
    /// Whether `GetContainerEvents` streams container life-cycle events
    /// (CRI-O defaults to false; crio to true, see docs/configuration.md).
    public var enablePodEvents = true
    /// `[crio.runtime.runtimes.NAME]`, keyed by handler name.
    public var runtimes: [String: RuntimeHandler] = ["runc": RuntimeHandler()]
  }

  /// `[crio.runtime.runtimes.NAME]`: one OCI runtime handler.
  public struct RuntimeHandler: Sendable, Equatable {
    /// Absolute path of the runtime binary; empty means the handler's name looked up in `PATH`.
    public var runtimePath = ""
    /// The runtime's state directory (`--root`); empty means `/run/<name>`.
    public var runtimeRoot = ""
    /// Only `oci` is supported.
    public var runtimeType = "oci"

    public init(runtimePath: String = "", runtimeRoot: String = "", runtimeType: String = "oci") {
      self.runtimePath = runtimePath
      self.runtimeRoot = runtimeRoot
      self.runtimeType = runtimeType
    }
  }

  /// `[crio.image]`: image pulls and the pause image.
  public struct Image: Sendable, Equatable {
    public var pauseImage = "registry.k8s.io/pause:3.10"
    public var pauseCommand = "/pause"
    public var signaturePolicy = ""
    public var globalAuthFile = ""
    /// Images the kubelet's image garbage collector must keep: exact names, or a prefix ending in `*`.
    public var pinnedImages: [String] = []
    /// Not a crio.conf key: set by `--registries-conf`, as in CRI-O.
    public var registriesConf = "/etc/containers/registries.conf"
    /// Not a crio.conf key: set by `--registries-conf-dir`, as in CRI-O.
    public var registriesConfDir = "/etc/containers/registries.conf.d"
  }

  /// `[crio.network]`: CNI.
  public struct Network: Sendable, Equatable {
    public var networkDir = "/etc/cni/net.d/"
    public var pluginDirs = ["/opt/cni/bin/", "/usr/lib/cni/"]
    public var cniDefaultNetwork = ""
  }

  /// `[crio.metrics]`: the Prometheus endpoint.
  public struct Metrics: Sendable, Equatable {
    public var enableMetrics = false
    public var metricsHost = "127.0.0.1"
    public var metricsPort = 9090
    /// A unix socket to serve the metrics on as well ("" for none).
    public var metricsSocket = ""
  }

  /// `[crio.stats]`: container and pod stats, and pod metrics.
  public struct Stats: Sendable, Equatable {
    /// The metric families `ListPodSandboxMetrics` returns (`all` for every
    /// one). CRI-O's default is none; crio returns all of them.
    public var includedPodMetrics = Stats.metricFamilies

    /// Every family `included_pod_metrics` may name, as CRI-O names them.
    public static let metricFamilies = ["cpu", "disk", "hugetlb", "memory", "network", "oom", "process", "spec"]
  }
}

extension CRIOConfiguration.RuntimeHandler {
  /// The directory runc keeps its state in for this handler.
  public func effectiveRuntimeRoot(name: String) -> String {
    runtimeRoot.isEmpty ? "/run/\(name)" : runtimeRoot
  }
}
