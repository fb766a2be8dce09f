import CCRIOSys
import CRIClient
import CRIOTestSupport
import CRIOSystem
import Foundation
import Glibc

/// crio started by the bench on its own directories: root, runroot, socket,
/// pinned namespaces, a loopback-only CNI network, and a registries.conf that
/// sends the bench images to the bench registry over plain HTTP. Nothing of
/// the host's crio configuration or state is read or touched.
final class LocalDaemon: @unchecked Sendable {
  let path: String
  let process = Process()
  var socket: String { "\(path)/crio.sock" }
  var logPath: String { "\(path)/crio.log" }
  var endpoint: CRIEndpoint { CRIEndpoint(socketPath: socket) }
  var pid: Int32 { process.processIdentifier }
  /// The runc root crio passes to conmon (`--runtime-arg --root=`), for the leak sweep.
  let runcRoot = "/run/runc"

  /// - Parameters:
  ///   - imageHost: the host part of the bench images' names (registries.conf `prefix`).
  ///   - registry: where that host really is (`location`), served over plain HTTP.
  ///   - conflist: a CNI network configuration for the pods instead of the loopback-only one.
  init(
    binary: String, under workDirectory: String, imageHost: String, registry: String, logLevel: String,
    conflist: String? = nil
  ) throws {
    path = "\(workDirectory)/crio"
    let fm = FileManager.default
    guard fm.isExecutableFile(atPath: binary) else {
      throw BenchError("crio binary \(binary) not found: build it (`swift build -c release --product crio`) or pass --crio")
    }
    for dir in [path, "\(path)/crio.conf.d", "\(path)/cni", "\(path)/registries.conf.d"] {
      try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    try "".write(toFile: "\(path)/crio.conf", atomically: true, encoding: .utf8)
    if let conflist {
      let name = URL(fileURLWithPath: conflist).lastPathComponent
      try fm.copyItem(atPath: conflist, toPath: "\(path)/cni/\(name)")
    } else {
      try #"{"cniVersion": "1.0.0", "name": "crio-bench-lo", "plugins": [{"type": "loopback"}]}"#
        .write(toFile: "\(path)/cni/10-lo.conflist", atomically: true, encoding: .utf8)
    }
    try """
      [[registry]]
      prefix = "\(imageHost)"
      location = "\(registry)"
      insecure = true
      """.write(toFile: "\(path)/registries.conf", atomically: true, encoding: .utf8)
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = [
      "--config", "\(path)/crio.conf", "--config-dir", "\(path)/crio.conf.d", "--listen", socket,
      "--root", "\(path)/root", "--runroot", "\(path)/run", "--log-dir", "\(path)/logs",
      "--cni-config-dir", "\(path)/cni", "--registries-conf", "\(path)/registries.conf",
      "--registries-conf-dir", "\(path)/registries.conf.d", "--namespaces-dir", "\(path)/ns", "--version-file", "\(path)/run/crio/version",
      "--log-level", logLevel,
    ]
    _ = fm.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process.standardError = log
    process.standardOutput = log
    process.standardInput = FileHandle.nullDevice
  }

  /// Starts crio and waits until its socket accepts connections.
  func start(timeout: Duration = .seconds(60)) async throws {
    try process.run()
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      guard process.isRunning else {
        throw BenchError("crio exited with \(process.terminationStatus) at start-up; log: \(tail())")
      }
      if ProcFS.listener(of: socket) != nil { return }
      try await Task.sleep(for: .milliseconds(20))
    }
    throw BenchError("crio did not serve \(socket) within \(timeout); log: \(tail())")
  }

  /// SIGTERM, then SIGKILL after `grace`.
  func stop(grace: Duration = .seconds(30)) async {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGTERM)
    let deadline = ContinuousClock.now + grace
    while process.isRunning && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  /// The last lines of the daemon log.
  func tail(_ lines: Int = 20) -> String {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
  }

  /// After the daemon stopped: whatever the CRI clean-up could not remove
  /// (a crash, a failed call). conmon processes of this daemon (their command
  /// line names this directory) are killed and their runc containers deleted,
  /// mounts under the directory are detached, deepest first. Returns what was found.
  func sweep() -> [String] {
    var found: [String] = []
    for pid in ProcessFacts.allPids() {
      let argv = ProcessFacts.commandLine(pid)
      guard let program = argv.first, program.hasSuffix("conmon"), argv.contains(where: { $0.contains(path) }),
        let flag = argv.firstIndex(of: "-c"), flag + 1 < argv.count
      else { continue }
      let id = argv[flag + 1]
      kill(pid, SIGKILL)
      _ = quietOutput("/usr/sbin/runc", ["--root", runcRoot, "delete", "--force", id])
      found.append("conmon \(pid) (container \(id))")
    }
    // runc containers whose bundle is under this directory (conmon died first, say).
    if let listed = quietOutput("/usr/sbin/runc", ["--root", runcRoot, "list", "--format", "json"]),
      let entries = try? JSONSerialization.jsonObject(with: listed) as? [[String: Any]]
    {
      for entry in entries {
        guard let id = entry["id"] as? String, let bundle = entry["bundle"] as? String, bundle.hasPrefix(path + "/") else {
          continue
        }
        _ = quietOutput("/usr/sbin/runc", ["--root", runcRoot, "delete", "--force", id])
        found.append("runc container \(id)")
      }
    }
    for mount in MountTable.mountPoints(under: path).sorted(by: { $0.count > $1.count }) {
      if crio_unmount(mount) == 0 { found.append("mount \(mount)") }
    }
    return found
  }
}

/// A program's standard output when it exits 0 (stderr discarded: runc
/// complains about other users' containers in a shared root).
func quietOutput(_ path: String, _ arguments: [String]) -> Data? {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let out = Pipe()
  process.standardOutput = out
  process.standardError = FileHandle.nullDevice
  process.standardInput = FileHandle.nullDevice
  guard (try? process.run()) != nil else { return nil }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return process.terminationStatus == 0 ? data : nil
}

struct BenchError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
