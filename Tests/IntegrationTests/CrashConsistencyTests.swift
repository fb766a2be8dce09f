import CRIAPI
import CRIClient
import CRIOSystem
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Crash consistency by fault injection: for every failpoint, the real
/// daemon is killed there (SIGKILL, from inside), restarted, and the host's
/// inventory (`HostInventory`) must show the operation either not done at
/// all or done completely; then removing everything through the CRI must
/// bring the host back to exactly what it was before the test's pods.
@Suite(.serialized) struct CrashConsistencyTests {
  /// The operation a failpoint sits in.
  enum Operation {
    case runSandbox, stopSandbox, removeSandbox, createContainer, startContainer, stopContainer, removeContainer
    case pullImage, removeImage

    init(_ failpoint: Failpoint) {
      let name = failpoint.rawValue
      if name.hasPrefix("sandbox-run") { self = .runSandbox }
      else if name.hasPrefix("sandbox-stop") { self = .stopSandbox }
      else if name.hasPrefix("sandbox-remove") { self = .removeSandbox }
      else if name.hasPrefix("container-create") { self = .createContainer }
      else if name.hasPrefix("container-start") { self = .startContainer }
      else if name.hasPrefix("container-stop") { self = .stopContainer }
      else if name.hasPrefix("container-remove") { self = .removeContainer }
      else if name.hasPrefix("image-pull") { self = .pullImage }
      else { self = .removeImage }
    }

    var isContainerOperation: Bool {
      switch self {
      case .createContainer, .startContainer, .stopContainer, .removeContainer: true
      default: false
      }
    }
  }

  @Test(arguments: Failpoint.allCases)
  func aDaemonKilledMidOperationCompletesOrRollsItBackAndLeaksNothing(_ failpoint: Failpoint) async throws {
    try await crash(at: failpoint, userNamespace: false)
  }

  /// The same for pods in user namespaces (a user namespace pin, idmapped
  /// layers of the rootfs and of the image volume).
  @Test(arguments: [
    Failpoint.sandboxRunAfterNamespaces, .sandboxRunAfterRecord, .sandboxRemoveAfterNamespaces,
    .containerCreateAfterRootfs, .containerCreateAfterConmon, .containerRemoveAfterRuntime,
  ])
  func aDaemonKilledMidOperationOnAPodInAUserNamespaceLeaksNothing(_ failpoint: Failpoint) async throws {
    try await crash(at: failpoint, userNamespace: true)
  }

  func crash(at failpoint: Failpoint, userNamespace: Bool) async throws {
    let fixture = try await NodeFixture()
    fixture.userNamespace = userNamespace
    try await fixture.restart(failpoint: failpoint)
    let baseline = fixture.inventory
    let operation = Operation(failpoint)
    let hostPort = Int32.random(in: 30000...39999)
    // Containers of the container operations get an image volume (the extra
    // image), whose mount must be rolled back or released like the rootfs
    // (in a pod with a user namespace: an overlay over idmapped layers).
    let volume: String? = operation.isContainerOperation ? NodeFixture.extra : nil
    if volume != nil { _ = try await fixture.images.pull(NodeFixture.extra) }

    // What exists before the operation.
    var pod = ""
    var container = ""
    var podOnly = baseline
    switch operation {
    case .runSandbox, .pullImage:
      break
    case .removeImage:
      _ = try await fixture.images.pull(NodeFixture.extra)
    case .createContainer:
      pod = try await fixture.runPod("crash", hostPort: hostPort)
    case .startContainer:
      pod = try await fixture.runPod("crash", hostPort: hostPort)
      podOnly = fixture.inventory
      container = try await fixture.createContainer(in: pod, name: "app", imageVolume: volume)
    case .stopSandbox, .removeSandbox, .stopContainer, .removeContainer:
      pod = try await fixture.runPod("crash", hostPort: hostPort)
      podOnly = fixture.inventory
      container = try await fixture.createContainer(in: pod, name: "app", imageVolume: volume)
      try await fixture.startContainer(container)
    }
    let before = fixture.inventory

    // The operation, which the failpoint cuts short. It fails (the daemon
    // died under it), or returns first when the failpoint is in work it
    // finishes in the background (a container's release after RemoveContainer).
    do {
      switch operation {
      case .runSandbox: _ = try await fixture.runPod("crash", hostPort: hostPort)
      case .stopSandbox: try await fixture.stopPod(pod)
      case .removeSandbox: try await fixture.removePod(pod)
      case .createContainer: _ = try await fixture.createContainer(in: pod, name: "app", imageVolume: volume)
      case .startContainer: try await fixture.startContainer(container)
      case .stopContainer: try await fixture.stopContainer(container)
      case .removeContainer: try await fixture.removeContainer(container)
      case .pullImage: _ = try await fixture.images.pull(NodeFixture.extra)
      case .removeImage: try await fixture.removeImage(NodeFixture.extra)
      }
      #expect(operation == .removeContainer, "\(failpoint.rawValue): the operation returned although the daemon was to die in it")
    } catch {}
    #expect(try await fixture.images.daemon.waitForExit() == SIGKILL)
    #expect(fixture.images.daemon.log.contains("failpoint \(failpoint.rawValue) reached"))

    try await fixture.restart()
    let after = fixture.inventory
    let pods = try await fixture.pods()
    let containers = try await fixture.containers()
    switch operation {
    case .runSandbox:
      // Rolled back: no pod, nothing of it.
      #expect(pods.isEmpty, "\(pods)")
      #expect(after == before, "\(failpoint.rawValue):\n\(after.difference(from: before))")
    case .createContainer:
      #expect(containers.isEmpty, "\(containers)")
      #expect(after == before, "\(failpoint.rawValue):\n\(after.difference(from: before))")
    case .pullImage:
      #expect(try await !fixture.hasImage(NodeFixture.extra))
      #expect(after == before, "\(failpoint.rawValue):\n\(after.difference(from: before))")
    case .removeImage:
      // Carried through: the index no longer had it.
      #expect(try await !fixture.hasImage(NodeFixture.extra))
      #expect(after == baseline, "\(failpoint.rawValue):\n\(after.difference(from: baseline))")
    case .removeSandbox:
      #expect(pods.isEmpty, "\(pods)")
      #expect(after == baseline, "\(failpoint.rawValue):\n\(after.difference(from: baseline))")
    case .removeContainer:
      #expect(containers.isEmpty, "\(containers)")
      #expect(after == podOnly, "\(failpoint.rawValue):\n\(after.difference(from: podOnly))")
    case .stopSandbox:
      // Carried through: the pod is stopped, its network and namespaces released, its processes gone.
      #expect(pods.map(\.state) == [.sandboxNotready], "\(pods)")
      #expect(containers.map(\.state) == [.containerExited], "\(containers)")
      #expect(after.veths == 0 && after.allocatedIPs == 0 && after.iptablesRules.isEmpty, "\(after)")
      #expect(after.processes.filter { !$0.hasPrefix("conmon") }.isEmpty, "\(after.processes)")
      #expect(!after.mounts.contains { $0.contains("/netns/") }, "\(after.mounts)")
    case .startContainer:
      // runc started it before the daemon died: a restart finds it running and it answers.
      #expect(containers.map(\.state) == [.containerRunning], "\(containers)")
      #expect(try await fixture.execSync(container, ["true"]).exitCode == 0)
    case .stopContainer:
      // SIGTERM was sent; the container exits by itself, and its state says so.
      var state = containers.first?.state
      for _ in 0..<100 where state != .containerExited {
        try await Task.sleep(for: .milliseconds(50))
        state = try await fixture.containers().first?.state
      }
      #expect(state == .containerExited)
    }

    try await fixture.removeEverything()
    let end = fixture.inventory
    #expect(end == baseline, "after removing everything (\(failpoint.rawValue)):\n\(end.difference(from: baseline))")
    try await fixture.finish()
  }
}
