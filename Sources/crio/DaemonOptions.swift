import ArgumentParser
import CRIOConfig

/// The daemon's command-line flags, named as CRI-O names them. Each one
/// overrides the matching `crio.conf` key.
struct DaemonOptions: ParsableArguments {
  @Option(help: "Path to the configuration file (default: \(ConfigLoader.defaultConfigFile)).")
  var config: String?

  @Option(name: .customLong("config-dir"), help: "Drop-in directory; its *.conf files apply in lexical order (default: \(ConfigLoader.defaultConfigDir)).")
  var configDir: String?

  @Option(help: "Path to the CRI socket. [crio.api] listen") var listen: String?
  @Option(help: "Storage root directory. [crio] root") var root: String?
  @Option(help: "Runtime state directory. [crio] runroot") var runroot: String?
  @Option(name: .customLong("version-file"), help: "Version file on a tmpfs; missing at start means a reboot. [crio] version_file")
  var versionFile: String?
  @Option(name: .customLong("log-dir"), help: "Default pod log directory. [crio] log_dir") var logDir: String?
  @Option(name: [.customShort("l"), .customLong("log-level")], help: "fatal, panic, error, warn, info, debug or trace. [crio.runtime] log_level")
  var logLevel: String?
  @Option(name: .customLong("cgroup-manager"), help: "cgroupfs or systemd. [crio.runtime] cgroup_manager")
  var cgroupManager: String?
  @Option(help: "Path to conmon. [crio.runtime] conmon") var conmon: String?
  @Option(name: .customLong("conmon-cgroup"), help: "[crio.runtime] conmon_cgroup") var conmonCgroup: String?
  @Option(name: .customLong("default-runtime"), help: "Default OCI runtime handler. [crio.runtime] default_runtime")
  var defaultRuntime: String?
  @Option(name: .customLong("default-capabilities"), help: "Comma-separated capabilities. [crio.runtime] default_capabilities")
  var defaultCapabilities: String?
  @Option(name: .customLong("default-sysctls"), help: "Comma-separated key=value sysctls. [crio.runtime] default_sysctls")
  var defaultSysctls: String?
  @Option(name: .customLong("pids-limit"), help: "[crio.runtime] pids_limit") var pidsLimit: Int?
  @Option(name: .customLong("log-size-max"), help: "[crio.runtime] log_size_max") var logSizeMax: Int?
  @Option(name: .customLong("namespaces-dir"), help: "Where pod namespaces are pinned. [crio.runtime] namespaces_dir")
  var namespacesDir: String?
  @Flag(name: .customLong("drop-infra-ctr"), inversion: .prefixedNo, help: "[crio.runtime] drop_infra_ctr")
  var dropInfraCtr: Bool?
  @Flag(name: .customLong("enable-pod-events"), inversion: .prefixedNo, help: "[crio.runtime] enable_pod_events")
  var enablePodEvents: Bool?
  @Option(name: .customLong("included-pod-metrics"), help: "Comma-separated metric families, or all. [crio.stats] included_pod_metrics")
  var includedPodMetrics: String?
  @Option(name: .customLong("pause-image"), help: "[crio.image] pause_image") var pauseImage: String?
  @Option(name: .customLong("pause-command"), help: "[crio.image] pause_command") var pauseCommand: String?
  @Option(name: .customLong("signature-policy"), help: "[crio.image] signature_policy") var signaturePolicy: String?
  @Option(name: .customLong("global-auth-file"), help: "[crio.image] global_auth_file") var globalAuthFile: String?
  @Option(name: .customLong("registries-conf"), help: "Path to registries.conf.") var registriesConf: String?
  @Option(name: .customLong("registries-conf-dir"), help: "Path to the registries.conf.d drop-in directory.")
  var registriesConfDir: String?
  @Option(name: .customLong("cni-config-dir"), help: "CNI configuration directory. [crio.network] network_dir")
  var cniConfigDir: String?
  @Option(name: .customLong("cni-plugin-dir"), help: "CNI plugin directory; repeat for several. [crio.network] plugin_dirs")
  var cniPluginDir: [String] = []
  @Option(name: .customLong("cni-default-network"), help: "[crio.network] cni_default_network")
  var cniDefaultNetwork: String?
  @Option(name: .customLong("stream-address"), help: "[crio.api] stream_address") var streamAddress: String?
  @Option(name: .customLong("stream-port"), help: "[crio.api] stream_port") var streamPort: String?
  @Flag(name: .customLong("stream-enable-tls"), inversion: .prefixedNo, help: "[crio.api] stream_enable_tls")
  var streamEnableTLS: Bool?
  @Option(name: .customLong("stream-tls-cert"), help: "[crio.api] stream_tls_cert") var streamTLSCert: String?
  @Option(name: .customLong("stream-tls-key"), help: "[crio.api] stream_tls_key") var streamTLSKey: String?
  @Option(name: .customLong("stream-tls-ca"), help: "[crio.api] stream_tls_ca") var streamTLSCA: String?
  @Option(name: .customLong("stream-idle-timeout"), help: "[crio.api] stream_idle_timeout, e.g. 4h")
  var streamIdleTimeout: String?
  @Option(name: .customLong("grpc-max-send-msg-size"), help: "[crio.api] grpc_max_send_msg_size")
  var grpcMaxSendMsgSize: Int?
  @Option(name: .customLong("grpc-max-recv-msg-size"), help: "[crio.api] grpc_max_recv_msg_size")
  var grpcMaxRecvMsgSize: Int?
  @Flag(name: .customLong("enable-metrics"), inversion: .prefixedNo, help: "[crio.metrics] enable_metrics")
  var enableMetrics: Bool?
  @Option(name: .customLong("metrics-host"), help: "[crio.metrics] metrics_host") var metricsHost: String?
  @Option(name: .customLong("metrics-port"), help: "[crio.metrics] metrics_port") var metricsPort: Int?
  @Option(name: .customLong("metrics-socket"), help: "[crio.metrics] metrics_socket") var metricsSocket: String?

  /// The flags given, as overrides of `crio.conf` keys.
  var overrides: [ConfigOverride] {
    var list: [ConfigOverride] = []
    func add(_ path: String, _ value: String?) { if let value { list.append(.init(path, .string(value))) } }
    func add(_ path: String, _ value: Int?) { if let value { list.append(.init(path, .integer(value))) } }
    func add(_ path: String, _ value: Bool?) { if let value { list.append(.init(path, .boolean(value))) } }
    func add(_ path: String, list value: String?) {
      if let value { list.append(.init(path, .strings(value.split(separator: ",").map(String.init)))) }
    }
    add("crio.api.listen", listen)
    add("crio.root", root)
    add("crio.runroot", runroot)
    add("crio.log_dir", logDir)
    add("crio.version_file", versionFile)
    add("crio.runtime.log_level", logLevel)
    add("crio.runtime.cgroup_manager", cgroupManager)
    add("crio.runtime.conmon", conmon)
    add("crio.runtime.conmon_cgroup", conmonCgroup)
    add("crio.runtime.default_runtime", defaultRuntime)
    add("crio.runtime.default_capabilities", list: defaultCapabilities)
    add("crio.runtime.default_sysctls", list: defaultSysctls)
    add("crio.runtime.pids_limit", pidsLimit)
    add("crio.runtime.log_size_max", logSizeMax)
    add("crio.runtime.drop_infra_ctr", dropInfraCtr)
    add("crio.runtime.namespaces_dir", namespacesDir)
    add("crio.runtime.enable_pod_events", enablePodEvents)
    add("crio.stats.included_pod_metrics", list: includedPodMetrics)
    add("crio.image.pause_image", pauseImage)
    add("crio.image.pause_command", pauseCommand)
    add("crio.image.signature_policy", signaturePolicy)
    add("crio.image.global_auth_file", globalAuthFile)
    add("crio.network.network_dir", cniConfigDir)
    if !cniPluginDir.isEmpty { list.append(.init("crio.network.plugin_dirs", .strings(cniPluginDir))) }
    add("crio.network.cni_default_network", cniDefaultNetwork)
    add("crio.api.stream_address", streamAddress)
    add("crio.api.stream_port", streamPort)
    add("crio.api.stream_enable_tls", streamEnableTLS)
    add("crio.api.stream_tls_cert", streamTLSCert)
    add("crio.api.stream_tls_key", streamTLSKey)
    add("crio.api.stream_tls_ca", streamTLSCA)
    add("crio.api.stream_idle_timeout", streamIdleTimeout)
    add("crio.api.grpc_max_send_msg_size", grpcMaxSendMsgSize)
    add("crio.api.grpc_max_recv_msg_size", grpcMaxRecvMsgSize)
    add("crio.metrics.enable_metrics", enableMetrics)
    add("crio.metrics.metrics_host", metricsHost)
    add("crio.metrics.metrics_port", metricsPort)
    add("crio.metrics.metrics_socket", metricsSocket)
    return list
  }

  /// Loads the effective configuration: defaults, then files, then these flags.
  func load() throws -> LoadedConfiguration {
    var loaded = try ConfigLoader.load(
      configFile: config ?? ConfigLoader.defaultConfigFile,
      configFileRequired: config != nil,
      configDir: configDir ?? ConfigLoader.defaultConfigDir,
      overrides: overrides)
    if let registriesConf { loaded.config.image.registriesConf = registriesConf }
    if let registriesConfDir { loaded.config.image.registriesConfDir = registriesConfDir }
    return loaded
  }
}
