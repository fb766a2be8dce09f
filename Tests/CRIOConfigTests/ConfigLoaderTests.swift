import Foundation
import Testing

@testable import CRIOConfig

@Suite struct ConfigLoaderTests {
  @Test func noFilesGiveBuiltInDefaults() throws {
    let dir = try TempDir()
    let loaded = try ConfigLoader.load(configFile: "\(dir.path)/absent.conf", configDir: "\(dir.path)/absent.d")
    #expect(loaded.config == CRIOConfiguration())
    #expect(loaded.warnings.isEmpty)
    #expect(loaded.files.isEmpty)
    #expect(loaded.config.api.listen == "/var/run/crio/crio.sock")
    #expect(loaded.config.runtime.defaultRuntime == "runc")
    #expect(loaded.config.runtime.cgroupManager == "cgroupfs")
    #expect(loaded.config.api.grpcMaxRecvMsgSize == 80 * 1024 * 1024)
  }

  @Test func fileValuesApply() throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", """
      [crio]
      root = "/srv/storage"
      [crio.api]
      listen = "/run/x.sock"
      grpc_max_recv_msg_size = 1024
      [crio.runtime]
      default_sysctls = ["net.ipv4.ping_group_range=0 2147483647"]
      drop_infra_ctr = false
      [crio.network]
      plugin_dirs = ["/a", "/b"]
      """)
    let loaded = try ConfigLoader.load(configFile: file, configFileRequired: true, configDir: nil)
    #expect(loaded.config.root == "/srv/storage")
    #expect(loaded.config.api.listen == "/run/x.sock")
    #expect(loaded.config.api.grpcMaxRecvMsgSize == 1024)
    #expect(loaded.config.runtime.defaultSysctls == ["net.ipv4.ping_group_range=0 2147483647"])
    #expect(loaded.config.runtime.dropInfraCtr == false)
    #expect(loaded.config.network.pluginDirs == ["/a", "/b"])
    #expect(loaded.explicitlySet.contains("crio.api.listen"))
    #expect(!loaded.explicitlySet.contains("crio.runroot"))
    #expect(loaded.files == [file])
  }

  @Test func dropInsApplyInLexicalOrderAfterTheMainFile() throws {
    let dir = try TempDir()
    let main = try dir.write("crio.conf", "[crio.image]\npause_image = \"main\"\n[crio]\nroot = \"/main\"\n")
    try dir.write("crio.conf.d/20-b.conf", "[crio.image]\npause_image = \"twenty\"\n")
    try dir.write("crio.conf.d/10-a.conf", "[crio.image]\npause_image = \"ten\"\npause_command = \"/ten\"\n")
    try dir.write("crio.conf.d/30-ignored.toml", "[crio.image]\npause_image = \"not a .conf file\"\n")
    let loaded = try ConfigLoader.load(configFile: main, configDir: "\(dir.path)/crio.conf.d")
    #expect(loaded.config.image.pauseImage == "twenty")
    #expect(loaded.config.image.pauseCommand == "/ten")
    #expect(loaded.config.root == "/main")
    #expect(loaded.files.map { ($0 as NSString).lastPathComponent } == ["crio.conf", "10-a.conf", "20-b.conf"])
  }

  @Test func flagsOverrideFiles() throws {
    let dir = try TempDir()
    let main = try dir.write("crio.conf", "[crio.api]\nlisten = \"/from/file.sock\"\n[crio.runtime]\nlog_level = \"debug\"\n")
    try dir.write("d/1.conf", "[crio.api]\nlisten = \"/from/dropin.sock\"\n")
    let loaded = try ConfigLoader.load(
      configFile: main, configDir: "\(dir.path)/d",
      overrides: [ConfigOverride("crio.api.listen", .string("/from/flag.sock"))])
    #expect(loaded.config.api.listen == "/from/flag.sock")
    #expect(loaded.config.runtime.logLevel == "debug")
  }

  @Test func unknownKeysWarnByNameAndDoNotFail() throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", """
      [crio.runtime]
      no_such_option = 3
      [crio.tracing]
      enable_tracing = true
      [other]
      x = 1
      """)
    let loaded = try ConfigLoader.load(configFile: file, configDir: nil)
    #expect(loaded.warnings.count == 3)
    #expect(loaded.warnings.contains { $0.contains("[crio.runtime] no_such_option") && $0.contains(file) })
    #expect(loaded.warnings.contains { $0.contains("[crio.tracing]") })
    #expect(loaded.warnings.contains { $0.contains("[other]") })
    #expect(loaded.config == CRIOConfiguration())
  }

  @Test func typeErrorsNameFileKeyAndExpectedType() throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", "[crio.metrics]\nmetrics_port = \"9090\"\n")
    #expect(throws: ConfigError.wrongType(path: file, key: "[crio.metrics] metrics_port", expected: .integer, found: "string")) {
      try ConfigLoader.load(configFile: file, configDir: nil)
    }
    let list = try dir.write("list.conf", "[crio.runtime]\ndefault_capabilities = \"CHOWN\"\n")
    let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(configFile: list, configDir: nil) }
    #expect(error?.description == "config file \(list): [crio.runtime] default_capabilities must be an array of strings, found a string")
    let mixed = try dir.write("mixed.conf", "[crio.network]\nplugin_dirs = [\"/a\", 2]\n")
    #expect(throws: ConfigError.self) { try ConfigLoader.load(configFile: mixed, configDir: nil) }
  }

  @Test func syntaxErrorsNameTheFile() throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", "[crio\nroot = \n")
    let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(configFile: file, configDir: nil) }
    guard case .syntax(let path, let message)? = error else {
      Issue.record("expected a syntax error, got \(String(describing: error))")
      return
    }
    #expect(path == file)
    #expect(message.contains("line"))
  }

  @Test func aNamedFileMustExistButTheDefaultMayNot() throws {
    let dir = try TempDir()
    #expect(throws: ConfigError.unreadable(path: "\(dir.path)/nope.conf", reason: "no such file")) {
      try ConfigLoader.load(configFile: "\(dir.path)/nope.conf", configFileRequired: true, configDir: nil)
    }
    #expect(throws: Never.self) {
      try ConfigLoader.load(configFile: "\(dir.path)/nope.conf", configFileRequired: false, configDir: nil)
    }
  }

  @Test func runtimeHandlersMergeAndAdd() throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", """
      [crio.runtime]
      default_runtime = "crun"
      [crio.runtime.runtimes.crun]
      runtime_path = "/usr/bin/crun"
      [crio.runtime.runtimes.runc]
      runtime_root = "/run/custom-runc"
      """)
    let loaded = try ConfigLoader.load(configFile: file, configDir: nil)
    #expect(loaded.config.runtime.runtimes["crun"] == .init(runtimePath: "/usr/bin/crun"))
    #expect(loaded.config.runtime.runtimes["runc"] == .init(runtimeRoot: "/run/custom-runc"))
    #expect(loaded.config.runtime.defaultRuntime == "crun")
  }

  @Test(arguments: [
    ("[crio.runtime]\ncgroup_manager = \"hybrid\"\n", "[crio.runtime] cgroup_manager"),
    ("[crio.runtime]\ndefault_runtime = \"kata\"\n", "[crio.runtime] default_runtime"),
    ("[crio.runtime.runtimes.runc]\nruntime_type = \"vm\"\n", "[crio.runtime.runtimes.runc] runtime_type"),
    ("[crio.runtime]\nlog_level = \"loud\"\n", "[crio.runtime] log_level"),
    ("[crio.api]\nstream_port = \"http\"\n", "[crio.api] stream_port"),
    ("[crio.api]\nlisten = \"relative.sock\"\n", "[crio.api] listen"),
    ("[crio.runtime]\ndefault_sysctls = [\"novalue\"]\n", "[crio.runtime] default_sysctls"),
    // Found by the crio-conf fuzz target's go-duration sibling: this trapped instead of being refused.
    ("[crio.api]\nstream_idle_timeout = \"99999999999999999999h\"\n", "[crio.api] stream_idle_timeout"),
  ])
  func invalidValuesAreRejected(text: String, key: String) throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", text)
    let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(configFile: file, configDir: nil) }
    guard case .invalidValue(let reportedKey, _, _)? = error else {
      Issue.record("expected invalidValue, got \(String(describing: error))")
      return
    }
    #expect(reportedKey == key)
  }

  /// A header toml++ would abort on (found by the registries-conf fuzz target) is a syntax error.
  @Test func aTableHeaderWithoutAKeyIsASyntaxErrorNotACrash() throws {
    let dir = try TempDir()
    let file = try dir.write("crio.conf", "[crio]\n[=]\n")
    #expect(throws: ConfigError.syntax(path: file, message: "a table header must start with a key (line 2, column 2)")) {
      try ConfigLoader.load(configFile: file, configDir: nil)
    }
  }

  @Test func everyOptionHasAUniquePathAndAKnownSection() {
    let paths = ConfigSchema.options.map(\.path)
    #expect(Set(paths).count == paths.count)
    for option in ConfigSchema.options {
      #expect(ConfigSchema.sections.contains(option.section), "\(option.path)")
    }
  }
}
