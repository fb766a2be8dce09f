import Foundation
import Glibc

/// A named step inside one of crio's multi-step operations where a test can
/// make the daemon die (SIGKILL, no clean-up), to prove that a restart
/// completes or rolls back whatever was half done.
///
/// Failpoints are enabled only by the `CRIO_FAILPOINTS` environment variable
/// (a comma-separated list of names), read once at start-up; without it
/// `hit()` is a set lookup on an empty set.
public enum Failpoint: String, CaseIterable, Sendable {
  // RunPodSandbox
  case sandboxRunAfterNamespaces = "sandbox-run-after-namespaces"
  case sandboxRunAfterShm = "sandbox-run-after-shm"
  case sandboxRunDuringNetwork = "sandbox-run-during-network"
  case sandboxRunAfterNetwork = "sandbox-run-after-network"
  case sandboxRunAfterInfra = "sandbox-run-after-infra"
  case sandboxRunAfterRecord = "sandbox-run-after-record"
  // StopPodSandbox
  case sandboxStopAfterContainers = "sandbox-stop-after-containers"
  case sandboxStopAfterNetwork = "sandbox-stop-after-network"
  // RemovePodSandbox
  case sandboxRemoveAfterContainers = "sandbox-remove-after-containers"
  case sandboxRemoveAfterNetwork = "sandbox-remove-after-network"
  case sandboxRemoveAfterNamespaces = "sandbox-remove-after-namespaces"
  // CreateContainer
  case containerCreateAfterRootfs = "container-create-after-rootfs"
  case containerCreateAfterConmon = "container-create-after-conmon"
  case containerCreateAfterRecord = "container-create-after-record"
  // StartContainer
  case containerStartAfterRuntime = "container-start-after-runtime"
  // StopContainer
  case containerStopAfterSignal = "container-stop-after-signal"
  // RemoveContainer
  case containerRemoveAfterRuntime = "container-remove-after-runtime"
  case containerRemoveAfterFiles = "container-remove-after-files"
  // PullImage
  case imagePullAfterBlob = "image-pull-after-blob"
  case imagePullAfterLayer = "image-pull-after-layer"
  case imagePullAfterMetadata = "image-pull-after-metadata"
  // RemoveImage
  case imageRemoveAfterIndex = "image-remove-after-index"

  /// The environment variable that enables failpoints.
  public static let environmentVariable = "CRIO_FAILPOINTS"

  /// The failpoints this process was started with (immutable).
  public static let enabled: Set<Failpoint> = parse(ProcessInfo.processInfo.environment[environmentVariable] ?? "")

  /// The failpoints named in `list` (comma-separated); unknown names are ignored.
  public static func parse(_ list: String) -> Set<Failpoint> {
    Set(list.split(separator: ",").compactMap { Failpoint(rawValue: $0.trimmingCharacters(in: .whitespaces)) })
  }

  /// Kills this process with SIGKILL when this failpoint is enabled.
  public func hit() {
    guard Self.enabled.contains(self) else { return }
    let line = "crio: failpoint \(rawValue) reached: killing the daemon\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    kill(getpid(), SIGKILL)
    // SIGKILL cannot be caught; nothing after this point runs.
    pause()
  }
}
