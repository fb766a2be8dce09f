import Foundation
import Testing

@testable import CRIOConfig

@Suite struct ConfigRendererTests {
  /// A configuration with every kind of value away from its default, including
  /// strings that need escaping.
  static func unusualConfig() -> CRIOConfiguration {
    var config = CRIOConfiguration()
    config.root = "/srv/with space/and \"quotes\" \\ backslash"
    config.api.listen = "/run/tab\there.sock"
    config.api.grpcMaxSendMsgSize = 1234
    config.runtime.defaultCapabilities = []
    config.runtime.defaultSysctls = ["net.ipv4.ip_unprivileged_port_start=0", "kernel.msgmax=65536"]
    config.runtime.dropInfraCtr = false
    config.runtime.pidsLimit = -1
    config.runtime.runtimes["crun"] = .init(runtimePath: "/usr/bin/crun", runtimeRoot: "/run/crun")
    config.runtime.runtimes["odd.name"] = .init(runtimePath: "/opt/odd")
    config.image.pauseImage = "127.0.0.1:5000/pause:3.10"
    config.network.pluginDirs = ["/opt/cni/bin/"]
    config.metrics.enableMetrics = true
    config.metrics.metricsPort = 0
    return config
  }

  @Test(arguments: [CRIOConfiguration(), unusualConfig()])
  func tomlRoundTripsUnchanged(config: CRIOConfiguration) throws {
    let dir = try TempDir()
    let rendered = ConfigRenderer.toml(config)
    let file = try dir.write("rendered.conf", rendered)
    let loaded = try ConfigLoader.load(configFile: file, configFileRequired: true, configDir: nil)
    #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
    #expect(loaded.config == config)
    #expect(ConfigRenderer.toml(loaded.config) == rendered)
  }

  @Test func tomlUsesCRIOTableAndKeyNames() {
    let rendered = ConfigRenderer.toml(CRIOConfiguration())
    for line in [
      "[crio]", "[crio.api]", "[crio.runtime]", "[crio.runtime.runtimes.runc]", "[crio.image]", "[crio.network]",
      "[crio.metrics]", "listen = \"/var/run/crio/crio.sock\"", "default_runtime = \"runc\"",
      "cgroup_manager = \"cgroupfs\"", "network_dir = \"/etc/cni/net.d/\"", "metrics_port = 9090",
    ] {
      #expect(rendered.contains(line + "\n"), "missing \(line)")
    }
  }

  @Test func stringsAreEscaped() {
    #expect(ConfigRenderer.tomlString("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
    #expect(ConfigRenderer.tomlKey("runc") == "runc")
    #expect(ConfigRenderer.tomlKey("odd.name") == "\"odd.name\"")
  }

  @Test func jsonNestsTablesUnderCrio() throws {
    let json = ConfigRenderer.json(CRIOConfiguration())
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let crio = try #require(object["crio"] as? [String: Any])
    let api = try #require(crio["api"] as? [String: Any])
    #expect(api["listen"] as? String == "/var/run/crio/crio.sock")
    let runtime = try #require(crio["runtime"] as? [String: Any])
    let runtimes = try #require(runtime["runtimes"] as? [String: Any])
    #expect(runtimes["runc"] != nil)
    #expect(crio["root"] as? String == "/var/lib/containers/storage")
  }
}
