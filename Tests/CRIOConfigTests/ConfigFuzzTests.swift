import CRIOFuzz
import Foundation
import Testing

@testable import CRIOConfig

/// Hostile crio.conf files: loading and validation throw only `ConfigError`,
/// and a configuration that loads renders (`crio config`) to TOML that loads
/// back to the same configuration.
@Suite struct ConfigFuzzTests {
  static let seeds = [
    ConfigRenderer.toml(CRIOConfiguration()),
    """
    [crio]
    root = "/var/lib/crio"
    [crio.api]
    listen = "/run/crio/crio.sock"
    stream_port = "0"
    stream_idle_timeout = "4h30m"
    grpc_max_recv_msg_size = 16777216
    [crio.runtime]
    default_runtime = "runc"
    pids_limit = -1
    default_sysctls = ["net.ipv4.ping_group_range=0 2147483647"]
    [crio.runtime.runtimes.runc]
    runtime_path = "/usr/bin/runc"
    [crio.runtime.runtimes."odd.name"]
    runtime_path = "/opt/odd"
    [crio.metrics]
    enable_metrics = true
    metrics_port = 9090
    [unknown]
    x = 1
    """,
    "",
  ]

  static let dictionary: [[UInt8]] = Mutator.tomlTokens + [
    "[crio]\n", "[crio.api]\n", "[crio.runtime]\n", "[crio.runtime.runtimes.x]\n", "stream_idle_timeout = ",
    "\"99999999999999999999h\"", "\"1.5h\"", "\"300ms\"", "\"-1s\"", "\"µs\"", "stream_port = ", "\"65536\"",
    "grpc_max_recv_msg_size = ", "-9223372036854775808", "metrics_port = ", "log_level = ", "cgroup_manager = ",
    "runtime_type = \"vm\"", "\u{0}",
  ].map { Array($0.utf8) }

  @Test func fuzzCrioConfLoadingValidationAndRendering() async throws {
    var loadedCount = 0
    try await Fuzzer(target: "crio-conf", seeds: Self.seeds.map { Array($0.utf8) }, dictionary: Self.dictionary, maxLength: 32 << 10)
      .run { input in
        var loaded = LoadedConfiguration(config: CRIOConfiguration(), warnings: [], explicitlySet: [], files: [])
        do {
          try ConfigLoader.apply(text: String(decoding: input, as: UTF8.self), path: "fuzz.conf", to: &loaded)
          try ConfigValidator.validate(loaded.config)
        } catch is ConfigError {
          return
        }
        loadedCount += 1
        let rendered = ConfigRenderer.toml(loaded.config)
        var again = LoadedConfiguration(config: CRIOConfiguration(), warnings: [], explicitlySet: [], files: [])
        do {
          try ConfigLoader.apply(text: rendered, path: "rendered.conf", to: &again)
        } catch {
          throw FuzzViolation("the rendered configuration does not load: \(error)\n\(rendered)")
        }
        guard again.config == loaded.config else {
          throw FuzzViolation("the rendered configuration loads differently:\n\(rendered)")
        }
        _ = ConfigRenderer.json(loaded.config)
      }
    #expect(loadedCount > 0)
  }

  @Test func fuzzGoDurations() async throws {
    try await Fuzzer(
      target: "go-duration", seeds: ["300ms", "1.5h", "2h45m", "0", "1µs", "4h"],
      dictionary: ["h", "m", "s", "ms", "us", "µs", "ns", ".", "9999999999999999999999", "1e9", "-"].map { Array($0.utf8) },
      maxLength: 256
    ).run { input in
      if let duration = GoDuration.parse(String(decoding: input, as: UTF8.self)), duration < .zero {
        throw FuzzViolation("a negative duration: \(duration)")
      }
    }
  }
}
