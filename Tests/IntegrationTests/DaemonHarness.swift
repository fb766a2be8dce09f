import CRIClient
import Foundation
import Glibc
import Testing

/// Where `swift build` put the executables under test.
enum Binaries {
  static func path(of name: String) throws -> String {
    var candidates: [String] = []
    if let dir = ProcessInfo.processInfo.environment["CRIO_BIN_DIR"] { candidates.append("\(dir)/\(name)") }
    // The test runner lives in the same bin directory as the products.
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = runner.deletingLastPathComponent()
    for _ in 0..<4 {
      candidates.append(dir.appendingPathComponent(name).path)
      dir = dir.deletingLastPathComponent()
    }
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    candidates.append(packageRoot.appendingPathComponent(".build/debug/\(name)").path)
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
      throw HarnessError("\(name) is not built (looked in \(candidates)); `make test` builds it first")
    }
    return found
  }
}

struct HarnessError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// A scratch directory for one daemon: socket, storage, config, CNI dir.
final class DaemonDirectory: @unchecked Sendable {
  let path: String
  var socket: String { "\(path)/crio.sock" }
  var configFile: String { "\(path)/crio.conf" }
  var configDir: String { "\(path)/crio.conf.d" }
  var root: String { "\(path)/root" }
  var cniDir: String { "\(path)/cni" }
  var registriesConf: String { "\(path)/registries.conf" }
  var namespacesDir: String { "\(path)/ns" }

  init() throws {
    path = "/tmp/crio-it-\(UUID().uuidString.prefix(13))"
    for dir in [path, configDir, cniDir] {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    try "".write(toFile: configFile, atomically: true, encoding: .utf8)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  /// Flags that keep a test daemon away from the host's real config and state.
  var isolationFlags: [String] {
    [
      "--config", configFile, "--config-dir", configDir, "--listen", socket, "--root", root,
      "--runroot", "\(path)/run", "--log-dir", "\(path)/logs", "--cni-config-dir", cniDir,
      "--registries-conf", registriesConf, "--registries-conf-dir", "\(path)/registries.conf.d",
      "--namespaces-dir", namespacesDir, "--version-file", "\(path)/run/crio/version",
    ]
  }

  var endpoint: CRIEndpoint { CRIEndpoint(socketPath: socket) }
}

/// The real `crio` binary, started as a child process.
final class DaemonProcess: @unchecked Sendable {
  let process = Process()
  let logPath: String

  /// Starts crio with `arguments`; stderr goes to a log file in `dir`.
  init(dir: DaemonDirectory, arguments: [String], environment: [String: String] = [:]) throws {
    process.executableURL = URL(fileURLWithPath: try Binaries.path(of: "crio"))
    process.arguments = arguments
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    logPath = "\(dir.path)/crio-\(UUID().uuidString.prefix(8)).log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process.standardError = log
    process.standardOutput = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  /// Starts a daemon isolated in `dir` and waits until it accepts connections.
  static func started(
    in dir: DaemonDirectory, extraArguments: [String] = [], environment: [String: String] = [:]
  ) async throws -> DaemonProcess {
    let daemon = try DaemonProcess(dir: dir, arguments: dir.isolationFlags + extraArguments, environment: environment)
    try await daemon.waitUntilServing(socket: dir.socket)
    return daemon
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  func waitUntilServing(socket: String, timeout: Duration = .seconds(60)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      guard process.isRunning else {
        throw HarnessError("crio exited with \(process.terminationStatus) before serving:\n\(log)")
      }
      if connectable(socket) { return }
      try await Task.sleep(for: .milliseconds(20))
    }
    throw HarnessError("crio did not serve \(socket) within \(timeout):\n\(log)")
  }

  /// Waits for the process to exit by itself and returns its exit status.
  func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
      guard ContinuousClock.now < deadline else { throw HarnessError("crio still running after \(timeout):\n\(log)") }
      try await Task.sleep(for: .milliseconds(20))
    }
    return process.terminationStatus
  }

  /// Sends `signal` and waits for the exit status.
  func stop(_ signal: Int32 = SIGTERM) async throws -> Int32 {
    kill(process.processIdentifier, signal)
    return try await waitForExit()
  }

  private func connectable(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      raw.copyBytes(from: bytes)
    }
    let result = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    return result == 0
  }
}

/// Runs a command to completion, returning its exit status and combined output.
func runCommand(_ path: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let out = Pipe()
  process.standardOutput = out
  process.standardError = out
  if let stdin {
    let input = Pipe()
    process.standardInput = input
    try process.run()
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
  } else {
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Host tools an integration test needs. Missing ones fail the test loudly.
func requireHostTools() throws {
  try #require(getuid() == 0, "integration tests run as root (CI does)")
  for tool in ["/usr/sbin/runc", "/usr/bin/conmon"] {
    try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run `make deps`")
  }
}
