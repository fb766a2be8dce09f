import CRIAPI
import CRIORuntime
import Foundation
import GRPCCore
import Logging

/// GetContainerEvents: container life-cycle events with the pod's status attached.
extension RuntimeService {
  /// Streams every event from the moment of the call until the client goes
  /// away or the daemon shuts down. With `enable_pod_events = false` the
  /// stream ends at once, as CRI-O's does.
  public func getContainerEvents(
    request: Runtime_V1_GetEventsRequest,
    response: GRPCCore.RPCWriter<Runtime_V1_ContainerEventResponse>,
    context: GRPCCore.ServerContext
  ) async throws {
    guard events.enabled else { return }
    let (id, stream) = events.subscribe()
    defer { events.unsubscribe(id) }
    do {
      for try await event in stream {
        try await response.write(event)
      }
    } catch let overflow as ContainerEventHub.SubscriberOverflow {
      throw RPCError(code: .resourceExhausted, message: overflow.description)
    }
  }

  /// Runs the event pipeline until the hub is closed: seeds it with the
  /// containers that already exist and builds each event from the current
  /// records.
  func runEventPipeline(logger: Logger) async {
    let containers = self.containers
    let sandboxes = self.sandboxes
    await events.run(
      initial: await containers.list(),
      lookup: { id in try? await containers.find(id) },
      build: { subject in await Self.event(subject, containers: containers, sandboxes: sandboxes) },
      logger: logger)
  }

  static func event(
    _ subject: ContainerEventHub.EventSubject, containers: ContainerManager, sandboxes: SandboxManager
  ) async -> Runtime_V1_ContainerEventResponse? {
    var event = Runtime_V1_ContainerEventResponse()
    event.containerID = subject.containerID
    event.containerEventType = subject.type
    event.createdAt = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
    var sandbox = subject.removedSandbox
    if sandbox == nil { sandbox = try? await sandboxes.find(subject.sandboxID) }
    if let sandbox {
      var status = criStatus(sandbox, infra: await containers.infraContainer(sandbox.id))
      if subject.removedSandbox != nil { status.state = .sandboxNotready }
      event.podSandboxStatus = status
    }
    var records = await containers.inSandbox(subject.sandboxID)
    if let removed = subject.removedContainer {
      records.removeAll { $0.id == removed.id }
      records.append(removed)
    }
    event.containersStatuses = records.map { criStatus($0) }
    return event
  }
}
