import CRIOConfig
import CRIOSystem

/// Whether the host can run containers: the default OCI runtime and conmon
/// both exist and execute (`--version` exits 0).
///
/// Running two processes on every `Status` call would be wasteful (the kubelet
/// polls it), so a binary is executed again only when the file it resolves to
/// changes (inode, size or mtime); otherwise a `stat` is all it costs.
public actor RuntimeHealth {
  public struct Condition: Sendable, Equatable {
    public var ready: Bool
    public var reason: String
    public var message: String
  }

  private let config: CRIOConfiguration
  private var verified: [String: (FileIdentity, ProcessRunner.Result)] = [:]

  public init(config: CRIOConfiguration) {
    self.config = config
  }

  /// The configured default runtime's binary, resolved through `PATH` when not absolute.
  public nonisolated func runtimeBinary() -> String? {
    let name = config.runtime.defaultRuntime
    let path = config.runtime.runtimes[name]?.runtimePath ?? ""
    return ExecutableLookup.find(path.isEmpty ? name : path)
  }

  /// conmon's binary: `[crio.runtime] conmon`, or `conmon` on `PATH`.
  public nonisolated func conmonBinary() -> String? {
    ExecutableLookup.find(config.runtime.conmon.isEmpty ? "conmon" : config.runtime.conmon)
  }

  public func check() async -> Condition {
    let runtimeName = config.runtime.defaultRuntime
    guard let runtime = runtimeBinary() else {
      return Condition(
        ready: false, reason: "RuntimeBinaryNotFound",
        message: "OCI runtime \"\(runtimeName)\" not found (\(describe(runtimeName)))")
    }
    if let failure = await verify(runtime, what: "OCI runtime \"\(runtimeName)\"") {
      return Condition(ready: false, reason: "RuntimeBinaryNotExecutable", message: failure)
    }
    guard let conmon = conmonBinary() else {
      return Condition(
        ready: false, reason: "ConmonNotFound",
        message: "conmon not found (\(config.runtime.conmon.isEmpty ? "not on PATH" : config.runtime.conmon))")
    }
    if let failure = await verify(conmon, what: "conmon") {
      return Condition(ready: false, reason: "ConmonNotExecutable", message: failure)
    }
    return Condition(ready: true, reason: "", message: "")
  }

  private nonisolated func describe(_ runtimeName: String) -> String {
    let path = config.runtime.runtimes[runtimeName]?.runtimePath ?? ""
    return path.isEmpty ? "not on PATH" : path
  }

  /// nil when `path --version` succeeds; otherwise why not.
  private func verify(_ path: String, what: String) async -> String? {
    guard let identity = FileIdentity(path: path) else { return "\(what) at \(path) disappeared" }
    let result: ProcessRunner.Result
    if let (known, cached) = verified[path], known == identity {
      result = cached
    } else {
      do {
        result = try await ProcessRunner.run(path, ["--version"], timeout: 5)
      } catch {
        verified[path] = nil
        return "\(what) at \(path) does not run: \(error)"
      }
      verified[path] = (identity, result)
    }
    guard result.exitCode == 0 else {
      return "\(what) at \(path) --version exited with \(result.exitCode)"
    }
    return nil
  }
}
