import CRIAPI
import CRIClient
import Foundation
import Glibc
import Testing

/// Start-up, shutdown and refusal to start, observed from outside the real binary.
@Suite(.serialized) struct DaemonLifecycleTests {
  @Test func theSocketIsRootOwnedMode0660() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    var st = stat()
    try #require(lstat(dir.socket, &st) == 0)
    #expect(st.st_mode & S_IFMT == S_IFSOCK)
    #expect(st.st_mode & 0o7777 == 0o660)
    #expect(st.st_uid == 0)
    #expect(try await daemon.stop() == 0)
  }

  @Test(arguments: [SIGTERM, SIGINT])
  func aShutdownSignalExitsCleanlyAndRemovesTheSocket(signal: Int32) async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    let status = try await daemon.stop(signal)
    #expect(status == 0, "\(daemon.log)")
    #expect(!FileManager.default.fileExists(atPath: dir.socket))
    #expect(daemon.log.contains("shutting down"))
  }

  @Test func logsOneStartLineWithVersionAndSocket() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    let startLines = daemon.log.split(separator: "\n").filter { $0.contains("msg=\"Starting crio\"") }
    #expect(startLines.count == 1)
    #expect(startLines.first?.contains("version=0.1.0") == true)
    #expect(startLines.first?.contains("socket=\(dir.socket)") == true)
    #expect(try await daemon.stop() == 0)
  }

  @Test func aSecondDaemonOnTheSameSocketRefusesToStart() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let first = try await DaemonProcess.started(in: dir)
    let second = try DaemonProcess(dir: dir, arguments: dir.isolationFlags)
    #expect(try await second.waitForExit() == 1)
    #expect(second.log.contains("socket \(dir.socket) is in use by a running daemon"))
    #expect(second.log.split(separator: "\n").count == 1, "one line: \(second.log)")
    // The first daemon is untouched and still answers.
    let version = try await CRIConnection.with(dir.endpoint) {
      try await $0.runtime.version(Runtime_V1_VersionRequest(), options: $0.options)
    }
    #expect(version.runtimeName == "crio")
    #expect(try await first.stop() == 0)
  }

  @Test func aStaleSocketFromADeadDaemonIsReplaced() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let crashed = try await DaemonProcess.started(in: dir)
    #expect(try await crashed.stop(SIGKILL) == SIGKILL)
    #expect(FileManager.default.fileExists(atPath: dir.socket))  // left behind by the kill
    let daemon = try await DaemonProcess.started(in: dir)
    #expect(try await daemon.stop() == 0)
  }

  @Test func aMissingRuntimeStopsStartUpWithOneLine() async throws {
    let dir = try DaemonDirectory()
    try "[crio.runtime.runtimes.runc]\nruntime_path = \"/nonexistent/runc\"\n"
      .write(toFile: dir.configFile, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(dir: dir, arguments: dir.isolationFlags)
    #expect(try await daemon.waitForExit() == 1)
    #expect(daemon.log.contains("default OCI runtime \\\"runc\\\" not found (/nonexistent/runc)"), "\(daemon.log)")
    #expect(daemon.log.split(separator: "\n").count == 1, "one line: \(daemon.log)")
    #expect(!FileManager.default.fileExists(atPath: dir.socket))
  }

  @Test func aConfigTypeErrorNamesFileKeyAndType() async throws {
    let dir = try DaemonDirectory()
    try "[crio.metrics]\nmetrics_port = \"9090\"\n".write(toFile: dir.configFile, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(dir: dir, arguments: dir.isolationFlags)
    #expect(try await daemon.waitForExit() == 1)
    #expect(daemon.log == "crio: config file \(dir.configFile): [crio.metrics] metrics_port must be an integer, found a string\n")
  }

  @Test func anUnreadableConfigStopsStartUp() async throws {
    let dir = try DaemonDirectory()
    var flags = dir.isolationFlags
    flags[1] = "\(dir.path)/missing.conf"
    let daemon = try DaemonProcess(dir: dir, arguments: flags)
    #expect(try await daemon.waitForExit() == 1)
    #expect(daemon.log == "crio: cannot read config file \(dir.path)/missing.conf: no such file\n")
  }

  @Test func unknownKeysAndUnhonouredOptionsAreLoggedNotFatal() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    try "[crio.runtime]\nselinux = true\n".write(toFile: "\(dir.configDir)/10-extra.conf", atomically: true, encoding: .utf8)
    let daemon = try await DaemonProcess.started(in: dir, extraArguments: ["--signature-policy", "/tmp/policy.json"])
    let log = daemon.log
    #expect(log.contains("unknown or unsupported option [crio.runtime] selinux ignored"))
    #expect(log.contains("Option [crio.image] signature_policy is accepted but not honoured yet"))
    #expect(try await daemon.stop() == 0)
  }

  @Test func crioConfigRoundTripsThroughStdin() throws {
    let crio = try Binaries.path(of: "crio")
    let dir = try DaemonDirectory()
    let first = try runCommand(crio, dir.isolationFlags + ["--default-sysctls", "net.ipv4.ping_group_range=0 1", "config"])
    #expect(first.status == 0, "\(first.output)")
    let second = try runCommand(crio, ["--config", "/dev/stdin", "--config-dir", dir.configDir, "config"], stdin: first.output)
    #expect(second.status == 0, "\(second.output)")
    #expect(second.output == first.output)
    #expect(first.output.contains("listen = \"\(dir.socket)\""))
  }

  @Test func versionSubcommandPrintsTextAndJSON() throws {
    let crio = try Binaries.path(of: "crio")
    let text = try runCommand(crio, ["version"])
    #expect(text.status == 0)
    #expect(text.output.contains("version"))
    #expect(text.output.contains("0.1.0"))
    let json = try runCommand(crio, ["version", "--json"])
    let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: String]
    #expect(object?["version"] == "0.1.0")
    #expect(object?["runtimeName"] == "crio")
  }
}

/// crioctl against the real daemon.
@Suite(.serialized) struct CrioctlTests {
  @Test func versionInfoAndImageFsInfo() async throws {
    try requireHostTools()
    let crioctl = try Binaries.path(of: "crioctl")
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    let endpoint = "unix://\(dir.socket)"

    let version = try runCommand(crioctl, ["--runtime-endpoint", endpoint, "version"])
    #expect(version.status == 0)
    #expect(version.output == "Version:  0.1.0\nRuntimeName:  crio\nRuntimeVersion:  0.1.0\nRuntimeApiVersion:  v1\n")

    let yaml = try runCommand(crioctl, ["-r", endpoint, "version", "-o", "yaml"])
    #expect(yaml.output.contains("runtimeName: \"crio\""))

    let info = try runCommand(crioctl, ["-r", endpoint, "info"])
    #expect(info.status == 0)
    let infoObject = try JSONSerialization.jsonObject(with: Data(info.output.utf8)) as? [String: Any]
    let conditions = (infoObject?["status"] as? [String: Any])?["conditions"] as? [[String: Any]]
    #expect(conditions?.map { $0["type"] as? String } == ["RuntimeReady", "NetworkReady"])
    #expect(infoObject?["config"] is [String: Any])

    let fs = try runCommand(crioctl, ["-r", endpoint, "imagefsinfo"])
    #expect(fs.output.contains("\(dir.root)/overlay-images"))

    // The endpoint can also come from the environment, as with crictl.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: crioctl)
    process.arguments = ["runtime-config"]
    process.environment = ["CONTAINER_RUNTIME_ENDPOINT": endpoint]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(String(decoding: data, as: UTF8.self).contains("CGROUPFS"))
    #expect(try await daemon.stop() == 0)
  }

  @Test func anUnimplementedRPCIsAClearError() async throws {
    try requireHostTools()
    let crioctl = try Binaries.path(of: "crioctl")
    let dir = try DaemonDirectory()
    let missing = try runCommand(crioctl, ["-r", "unix://\(dir.path)/absent.sock", "version"])
    #expect(missing.status == 1)
    #expect(missing.output.contains("unix://\(dir.path)/absent.sock"))
  }
}
