import CCRIOSys
import CRIOSystem
import Foundation

/// The OCI runtime's command line (runc's): start, kill, delete.
struct OCIRuntimeCommand: Sendable {
  let path: String
  let root: String

  func run(_ arguments: [String], input: Data? = nil, timeout: Double = 30) async throws -> ProcessRunner.Result {
    try await ProcessRunner.run(path, ["--root", root] + arguments, input: input, timeout: timeout)
  }

  /// Starts the created container `id` whose init process is `pid`: with
  /// runc through its exec fifo (`RuncExecFifo`), as `runc start` does but
  /// without a Go process (9 ms here); other runtimes, and a runc state this
  /// does not recognise, get `runtime start`.
  func start(_ id: String, pid: Int32) async throws {
    if (path as NSString).lastPathComponent == "runc", let fifo = RuncExecFifo(runtimeRoot: root, id: id) {
      switch await fifo.start(pid: pid) {
      case .started: return
      case .noFifo: break
      case .failed(let reason): throw ContainerError.runtimeFailed("start \(id): \(reason)")
      }
    }
    try await start(id)
  }

  func start(_ id: String) async throws {
    let result = try await run(["start", id])
    guard result.exitCode == 0 else {
      throw ContainerError.runtimeFailed("\(path) start \(id): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
  }

  /// Sends `signal`; a container that is already gone is not an error.
  func kill(_ id: String, signal: String) async {
    _ = try? await run(["kill", id, signal])
  }

  /// Deletes `id`, killing it first when it still runs. An exited runc
  /// container is deleted without runc (`RuncStoppedContainer`).
  func delete(_ id: String) async {
    if (path as NSString).lastPathComponent == "runc", RuncStoppedContainer.delete(runtimeRoot: root, id: id) { return }
    _ = try? await run(["delete", "--force", id])
  }
}

/// Starts conmon for a container, as CRI-O does: conmon runs `runtime
/// create`, reports the container's pid on the sync pipe, and then watches
/// the container (log, exit file) on its own, outliving crio.
enum ConmonLauncher {
  struct Launch: Sendable {
    var conmon: String
    var runtime: String
    var runtimeRoot: String
    var id: String
    var name: String
    var bundle: String
    var logPath: String
    var exitDirectory: String
    var socketDirectory: String
    var terminal: Bool
    var stdin: Bool
    var logSizeMax: Int
    /// Keep the container's stdin open when an attached client leaves
    /// (a container without `stdin_once`).
    var leaveStdinOpen = false
    /// The systemd cgroup driver: conmon's `-s` (it passes `--systemd-cgroup` to the runtime's create).
    var systemdCgroup = false
  }

  /// conmon's command line for `launch`, as CRI-O builds it.
  static func arguments(_ launch: Launch) -> [String] {
    var args = [
      launch.conmon, "-b", launch.bundle, "-c", launch.id, "-n", launch.name, "-u", launch.id, "-r", launch.runtime,
      "-p", "\(launch.bundle)/pidfile", "-P", "\(launch.bundle)/conmon-pidfile", "-l", launch.logPath,
      "--exit-dir", launch.exitDirectory, "--socket-dir-path", launch.socketDirectory, "--persist-dir", launch.bundle,
      "--log-level", "info", "--syslog", "--runtime-arg", "--root=\(launch.runtimeRoot)",
    ]
    if launch.logSizeMax > 0 { args += ["--log-size-max", String(launch.logSizeMax)] }
    if launch.systemdCgroup { args.append("-s") }
    if launch.terminal {
      args.append("-t")
    } else if launch.stdin {
      args += ["-i"]
      if launch.leaveStdinOpen { args.append("--leave-stdin-open") }
    }
    return args
  }

  static func create(_ launch: Launch) async throws -> Int32 {
    var syncPipe: [Int32] = [0, 0]
    var startPipe: [Int32] = [0, 0]
    guard crio_pipe_cloexec(&syncPipe) == 0, crio_pipe_cloexec(&startPipe) == 0 else {
      throw ContainerError.runtimeFailed("cannot create pipes for conmon: errno \(errno)")
    }
    let args = arguments(launch)
    let env = ["_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    // In the bundle, as CRI-O runs it: conmon drops its `oom` marker in its working directory.
    let pid = try ProcessSpawner.spawn(args, environment: env, fds: [syncPipe[1], startPipe[0]], directory: launch.bundle)
    close(syncPipe[1])
    close(startPipe[0])
    defer { close(syncPipe[0]) }
    // conmon waits for this byte before it runs the runtime.
    var go: UInt8 = 0
    _ = write(startPipe[1], &go, 1)
    close(startPipe[1])
    let status = await ProcessSpawner.wait(pid)
    let report = await ProcessSpawner.readLine(syncPipe[0])
    guard let object = try? JSONSerialization.jsonObject(with: report) as? [String: Any],
          let containerPID = (object["pid"] as? NSNumber)?.int32Value
    else {
      throw ContainerError.runtimeFailed("conmon (exit status \(status)) reported nothing for \(launch.id)")
    }
    guard containerPID > 0 else {
      let message = object["message"] as? String ?? "unknown error"
      throw ContainerError.runtimeFailed("the runtime could not create the container: \(message)")
    }
    return containerPID
  }
}
