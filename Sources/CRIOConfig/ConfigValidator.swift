import Foundation

/// Checks that cannot be expressed as a type: allowed words, ranges, references.
public enum ConfigValidator {
  public static let cgroupManagers = ["cgroupfs", "systemd"]
  public static let logLevels = ["fatal", "panic", "error", "warn", "warning", "info", "debug", "trace"]

  public static func validate(_ config: CRIOConfiguration) throws {
    func invalid(_ key: String, _ value: String, _ reason: String) -> ConfigError {
      .invalidValue(key: key, value: value, reason: reason)
    }
    guard config.api.listen.hasPrefix("/") else {
      throw invalid("[crio.api] listen", config.api.listen, "must be an absolute socket path")
    }
    guard let port = Int(config.api.streamPort), (0...65535).contains(port) else {
      throw invalid("[crio.api] stream_port", config.api.streamPort, "must be a port number between 0 and 65535")
    }
    if !config.api.streamIdleTimeout.isEmpty {
      guard let idle = GoDuration.parse(config.api.streamIdleTimeout), idle > .zero else {
        throw invalid("[crio.api] stream_idle_timeout", config.api.streamIdleTimeout,
                      "must be a positive duration such as 4h or 30m")
      }
    }
    if config.api.streamEnableTLS && (config.api.streamTLSCert.isEmpty || config.api.streamTLSKey.isEmpty) {
      throw invalid("[crio.api] stream_enable_tls", "true", "needs stream_tls_cert and stream_tls_key")
    }
    for (key, size) in [("grpc_max_send_msg_size", config.api.grpcMaxSendMsgSize),
                        ("grpc_max_recv_msg_size", config.api.grpcMaxRecvMsgSize)] where size <= 0 {
      throw invalid("[crio.api] \(key)", String(size), "must be positive")
    }
    guard cgroupManagers.contains(config.runtime.cgroupManager) else {
      throw invalid("[crio.runtime] cgroup_manager", config.runtime.cgroupManager,
                    "must be one of \(cgroupManagers.joined(separator: ", "))")
    }
    guard logLevels.contains(config.runtime.logLevel) else {
      throw invalid("[crio.runtime] log_level", config.runtime.logLevel,
                    "must be one of \(logLevels.joined(separator: ", "))")
    }
    guard config.runtime.runtimes[config.runtime.defaultRuntime] != nil else {
      throw invalid("[crio.runtime] default_runtime", config.runtime.defaultRuntime,
                    "no [crio.runtime.runtimes.\(config.runtime.defaultRuntime)] table defines it")
    }
    for (name, handler) in config.runtime.runtimes {
      guard handler.runtimeType == "oci" else {
        throw invalid("[crio.runtime.runtimes.\(name)] runtime_type", handler.runtimeType,
                      "only \"oci\" runtimes are supported")
      }
      if !handler.runtimePath.isEmpty && !handler.runtimePath.hasPrefix("/") {
        throw invalid("[crio.runtime.runtimes.\(name)] runtime_path", handler.runtimePath, "must be an absolute path")
      }
    }
    for sysctl in config.runtime.defaultSysctls {
      let parts = sysctl.split(separator: "=", maxSplits: 1)
      guard parts.count == 2, !parts[0].trimmingCharacters(in: .whitespaces).isEmpty else {
        throw invalid("[crio.runtime] default_sysctls", sysctl, "must have the form key=value")
      }
    }
    for family in config.stats.includedPodMetrics
    where family != "all" && !CRIOConfiguration.Stats.metricFamilies.contains(family) {
      throw invalid("[crio.stats] included_pod_metrics", family,
                    "must be all or one of \(CRIOConfiguration.Stats.metricFamilies.joined(separator: ", "))")
    }
    guard (0...65535).contains(config.metrics.metricsPort) else {
      throw invalid("[crio.metrics] metrics_port", String(config.metrics.metricsPort), "must be between 0 and 65535")
    }
    if !config.metrics.metricsSocket.isEmpty && !config.metrics.metricsSocket.hasPrefix("/") {
      throw invalid("[crio.metrics] metrics_socket", config.metrics.metricsSocket, "must be an absolute socket path")
    }
  }
}
