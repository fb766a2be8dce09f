/// One option of `crio.conf`: where it lives, its type, how it maps onto
/// `CRIOConfiguration`, and whether this build acts on it yet.
public struct ConfigOption: Sendable {
  /// The TOML table, e.g. `crio.api`.
  public let section: String
  /// The key inside that table, e.g. `listen`.
  public let key: String
  public let kind: ConfigValue.Kind
  /// False for options that are accepted (so CRI-O configs load) but not acted on yet.
  public let honoured: Bool
  let read: @Sendable (CRIOConfiguration) -> ConfigValue
  let write: @Sendable (inout CRIOConfiguration, ConfigValue) -> Void

  /// `crio.api.listen`: the name used for command-line overrides and messages.
  public var path: String { "\(section).\(key)" }
  /// `[crio.api] listen`: how the option is shown to a person.
  public var displayName: String { "[\(section)] \(key)" }

  public func value(in config: CRIOConfiguration) -> ConfigValue { read(config) }

  /// Stores `value`, which must be of this option's kind.
  public func apply(_ value: ConfigValue, to config: inout CRIOConfiguration) {
    precondition(value.kind == kind, "\(path) takes a \(kind.rawValue)")
    write(&config, value)
  }
}

/// Every `crio.conf` key crio accepts, in the order `crio config` prints them.
public enum ConfigSchema {
  /// The tables that hold options, in rendering order.
  public static let sections = ["crio", "crio.api", "crio.runtime", "crio.image", "crio.network", "crio.metrics", "crio.stats"]

  public static let options: [ConfigOption] = [
    string("crio", "root", \.root, honoured: true),
    string("crio", "runroot", \.runroot, honoured: true),
    string("crio", "log_dir", \.logDir, honoured: false),
    string("crio", "version_file", \.versionFile, honoured: true),

    string("crio.api", "listen", \.api.listen, honoured: true),
    string("crio.api", "stream_address", \.api.streamAddress, honoured: true),
    string("crio.api", "stream_port", \.api.streamPort, honoured: true),
    boolean("crio.api", "stream_enable_tls", \.api.streamEnableTLS, honoured: true),
    string("crio.api", "stream_tls_cert", \.api.streamTLSCert, honoured: true),
    string("crio.api", "stream_tls_key", \.api.streamTLSKey, honoured: true),
    string("crio.api", "stream_tls_ca", \.api.streamTLSCA, honoured: true),
    string("crio.api", "stream_idle_timeout", \.api.streamIdleTimeout, honoured: true),
    integer("crio.api", "grpc_max_send_msg_size", \.api.grpcMaxSendMsgSize, honoured: false),
    integer("crio.api", "grpc_max_recv_msg_size", \.api.grpcMaxRecvMsgSize, honoured: true),

    string("crio.runtime", "default_runtime", \.runtime.defaultRuntime, honoured: true),
    string("crio.runtime", "cgroup_manager", \.runtime.cgroupManager, honoured: true),
    string("crio.runtime", "conmon", \.runtime.conmon, honoured: true),
    string("crio.runtime", "conmon_cgroup", \.runtime.conmonCgroup, honoured: false),
    strings("crio.runtime", "default_capabilities", \.runtime.defaultCapabilities, honoured: true),
    strings("crio.runtime", "default_sysctls", \.runtime.defaultSysctls, honoured: true),
    integer("crio.runtime", "pids_limit", \.runtime.pidsLimit, honoured: true),
    integer("crio.runtime", "log_size_max", \.runtime.logSizeMax, honoured: true),
    string("crio.runtime", "log_level", \.runtime.logLevel, honoured: true),
    boolean("crio.runtime", "drop_infra_ctr", \.runtime.dropInfraCtr, honoured: true),
    string("crio.runtime", "namespaces_dir", \.runtime.namespacesDir, honoured: true),
    boolean("crio.runtime", "enable_pod_events", \.runtime.enablePodEvents, honoured: true),

    string("crio.image", "pause_image", \.image.pauseImage, honoured: true),
    string("crio.image", "pause_command", \.image.pauseCommand, honoured: true),
    string("crio.image", "signature_policy", \.image.signaturePolicy, honoured: false),
    string("crio.image", "global_auth_file", \.image.globalAuthFile, honoured: true),
    strings("crio.image", "pinned_images", \.image.pinnedImages, honoured: true),

    string("crio.network", "network_dir", \.network.networkDir, honoured: true),
    strings("crio.network", "plugin_dirs", \.network.pluginDirs, honoured: true),
    string("crio.network", "cni_default_network", \.network.cniDefaultNetwork, honoured: true),

    boolean("crio.metrics", "enable_metrics", \.metrics.enableMetrics, honoured: true),
    string("crio.metrics", "metrics_host", \.metrics.metricsHost, honoured: true),
    integer("crio.metrics", "metrics_port", \.metrics.metricsPort, honoured: true),
    string("crio.metrics", "metrics_socket", \.metrics.metricsSocket, honoured: true),

    strings("crio.stats", "included_pod_metrics", \.stats.includedPodMetrics, honoured: true),
  ]

  /// The keys of a `[crio.runtime.runtimes.NAME]` table.
  public static let runtimeHandlerKeys: [(key: String, honoured: Bool)] = [
    ("runtime_path", true), ("runtime_root", true), ("runtime_type", true),
  ]

  /// Options set only on the command line (CRI-O has no crio.conf key for them either).
  public static let flagOnlyOptions: [(name: String, honoured: Bool)] = [
    ("registries-conf", true), ("registries-conf-dir", true),
  ]

  public static func option(path: String) -> ConfigOption? {
    options.first { $0.path == path }
  }

  public static func option(section: String, key: String) -> ConfigOption? {
    options.first { $0.section == section && $0.key == key }
  }

  private static func string(
    _ section: String, _ key: String,
    _ keyPath: WritableKeyPath<CRIOConfiguration, String> & Sendable, honoured: Bool
  ) -> ConfigOption {
    ConfigOption(
      section: section, key: key, kind: .string, honoured: honoured,
      read: { .string($0[keyPath: keyPath]) },
      write: { config, value in if case .string(let v) = value { config[keyPath: keyPath] = v } })
  }

  private static func integer(
    _ section: String, _ key: String,
    _ keyPath: WritableKeyPath<CRIOConfiguration, Int> & Sendable, honoured: Bool
  ) -> ConfigOption {
    ConfigOption(
      section: section, key: key, kind: .integer, honoured: honoured,
      read: { .integer($0[keyPath: keyPath]) },
      write: { config, value in if case .integer(let v) = value { config[keyPath: keyPath] = v } })
  }

  private static func boolean(
    _ section: String, _ key: String,
    _ keyPath: WritableKeyPath<CRIOConfiguration, Bool> & Sendable, honoured: Bool
  ) -> ConfigOption {
    ConfigOption(
      section: section, key: key, kind: .boolean, honoured: honoured,
      read: { .boolean($0[keyPath: keyPath]) },
      write: { config, value in if case .boolean(let v) = value { config[keyPath: keyPath] = v } })
  }

  private static func strings(
    _ section: String, _ key: String,
    _ keyPath: WritableKeyPath<CRIOConfiguration, [String]> & Sendable, honoured: Bool
  ) -> ConfigOption {
    ConfigOption(
      section: section, key: key, kind: .strings, honoured: honoured,
      read: { .strings($0[keyPath: keyPath]) },
      write: { config, value in if case .strings(let v) = value { config[keyPath: keyPath] = v } })
  }
}
