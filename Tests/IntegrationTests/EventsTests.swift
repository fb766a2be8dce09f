import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import NIOConcurrencyHelpers
import Testing

/// One GetContainerEvents client, collecting what it receives in the background.
final class EventSubscriber: @unchecked Sendable {
  private let received = NIOLockedValueBox<[Runtime_V1_ContainerEventResponse]>([])
  private let ended = NIOLockedValueBox<(done: Bool, error: (any Error)?)>((false, nil))
  private var task: Task<Void, Never>!

  init(endpoint: CRIEndpoint) {
    task = Task { [received, ended] in
      do {
        try await CRIConnection.with(endpoint, timeout: .seconds(3600)) { connection in
          try await connection.runtime.getContainerEvents(Runtime_V1_GetEventsRequest(), options: connection.options) {
            response in
            for try await event in response.messages { received.withLockedValue { $0.append(event) } }
          }
        }
        ended.withLockedValue { $0 = (true, nil) }
      } catch {
        ended.withLockedValue { $0 = (true, error) }
      }
    }
  }

  var events: [Runtime_V1_ContainerEventResponse] { received.withLockedValue { $0 } }
  var hasEnded: Bool { ended.withLockedValue { $0.done } }
  var error: (any Error)? { ended.withLockedValue { $0.error } }

  /// (type, id) of each event so far, for `id`s among `ids` (all when nil).
  func sequence(of ids: Set<String>? = nil) -> [(Runtime_V1_ContainerEventType, String)] {
    events.filter { ids?.contains($0.containerID) ?? true }.map { ($0.containerEventType, $0.containerID) }
  }

  /// Waits until `condition` holds for the events received.
  func wait(
    _ what: String, timeout: Duration = .seconds(60),
    until condition: ([Runtime_V1_ContainerEventResponse]) -> Bool
  ) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition(events) {
      guard ContinuousClock.now < deadline else {
        throw HarnessError("timed out waiting for \(what); got \(sequence().map { "\($0.0) \($0.1.prefix(8))" })")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  func cancel() { task.cancel() }
}

private func types(_ events: [(Runtime_V1_ContainerEventType, String)], for id: String) -> [Runtime_V1_ContainerEventType] {
  events.filter { $0.1 == id }.map(\.0)
}

private let lifeCycle: [Runtime_V1_ContainerEventType] = [
  .containerCreatedEvent, .containerStartedEvent, .containerStoppedEvent, .containerDeletedEvent,
]

@Suite(.serialized) struct EventsTests {
  /// Runs throw-away pods until every subscriber has seen one's removal: a
  /// stream carries only what happens after the daemon registered it, and
  /// the subscriptions are made concurrently with the test (a fast
  /// RunPodSandbox can finish before they are in place).
  static func waitUntilSubscribed(_ subscribers: [EventSubscriber], _ f: ContainerTests.Fixture) async throws {
    for attempt in 0..<20 {
      let probe = try await f.runPod("subscribed-\(attempt)")
      try await f.removePod(probe.0)
      let deadline = ContinuousClock.now + .seconds(2)
      while ContinuousClock.now < deadline {
        if let ended = subscribers.first(where: \.hasEnded) {
          throw HarnessError("an event stream ended early: \(String(describing: ended.error))")
        }
        let seen = subscribers.allSatisfy { subscriber in
          subscriber.events.contains { $0.containerID == probe.0 && $0.containerEventType == .containerDeletedEvent }
        }
        if seen { return }
        try await Task.sleep(for: .milliseconds(20))
      }
    }
    throw HarnessError("the event subscriptions never received a pod's events")
  }

  @Test func aFullLifeCycleReachesEverySubscriberInOrder() async throws {
    let f = try await ContainerTests.Fixture()
    let first = EventSubscriber(endpoint: f.dir.endpoint)
    let second = EventSubscriber(endpoint: f.dir.endpoint)
    defer {
      first.cancel()
      second.cancel()
    }
    try await Self.waitUntilSubscribed([first, second], f)
    let pod = try await f.runPod("events")
    for subscriber in [first, second] {
      try await subscriber.wait("the pod's events") { events in events.contains { $0.containerID == pod.0 } }
    }
    let podEvents = first.events.filter { $0.containerID == pod.0 }
    #expect(podEvents.map(\.containerEventType) == [.containerCreatedEvent, .containerStartedEvent])
    #expect(podEvents.first?.podSandboxStatus.state == .sandboxReady)

    // 1. A container that exits by itself: STOPPED comes without anyone asking for its status.
    let quitter = try await f.create(pod, name: "quitter", command: ["sh", "-c", "sleep 0.5; exit 3"])
    try await f.start(quitter)
    try await first.wait("the quitter's exit") { events in
      events.contains { $0.containerID == quitter && $0.containerEventType == .containerStoppedEvent }
    }
    let stopped = try #require(first.events.first { $0.containerID == quitter && $0.containerEventType == .containerStoppedEvent })
    #expect(stopped.podSandboxStatus.id == pod.0)
    let quitterStatus = stopped.containersStatuses.first { $0.id == quitter }
    #expect(quitterStatus?.state == .containerExited)
    #expect(quitterStatus?.exitCode == 3)
    let started = try #require(first.events.first { $0.containerID == quitter && $0.containerEventType == .containerStartedEvent })
    #expect(started.containersStatuses.first { $0.id == quitter }?.state != .containerCreated)
    try await f.remove(quitter)

    // 2. Stopped, then removed.
    let stoppable = try await f.create(pod, name: "stoppable", command: ["sleep", "600"])
    try await f.start(stoppable)
    try await f.stop(stoppable, timeout: 1)
    try await f.remove(stoppable)

    // 3. Removed while running: STOPPED still comes before DELETED.
    let running = try await f.create(pod, name: "running", command: ["sleep", "600"])
    try await f.start(running)
    try await f.remove(running)

    // 4. Created, never started, removed by the pod's removal.
    let idle = try await f.create(pod, name: "idle", command: ["sleep", "600"])
    try await f.removePod(pod.0)

    let ids: Set<String> = [quitter, stoppable, running, idle, pod.0]
    for subscriber in [first, second] {
      try await subscriber.wait("every event") { events in
        events.contains { $0.containerID == pod.0 && $0.containerEventType == .containerDeletedEvent }
      }
    }
    let seen = first.sequence(of: ids)
    for id in [quitter, stoppable, running] {
      #expect(types(seen, for: id) == lifeCycle, "\(id.prefix(8)): \(types(seen, for: id))")
    }
    #expect(types(seen, for: idle) == [.containerCreatedEvent, .containerStoppedEvent, .containerDeletedEvent])
    #expect(types(seen, for: pod.0) == lifeCycle)
    // Both subscribers saw the very same stream.
    let other = second.sequence(of: ids)
    #expect(seen.map(\.0) == other.map(\.0) && seen.map(\.1) == other.map(\.1))
    let deleted = first.events.last { $0.containerID == pod.0 }
    #expect(deleted?.podSandboxStatus.state == .sandboxNotready)

    // crioctl events prints what comes.
    let crioctl = try Binaries.path(of: "crioctl")
    let cliDone = NIOLockedValueBox(false)
    let cli = Task.detached {
      defer { cliDone.withLockedValue { $0 = true } }
      return try runCommand(crioctl, ["-r", "unix://\(f.dir.socket)", "events", "--count", "2"])
    }
    // It prints what follows its subscription: pods until it has had two events.
    var cliPods: [String] = []
    for attempt in 0..<20 where !cliDone.withLockedValue({ $0 }) {
      cliPods.append(try await f.runPod("cli-events-\(attempt)").0)
      for _ in 0..<25 where !cliDone.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
    }
    let output = try await cli.value
    #expect(output.status == 0)
    #expect(
      output.output.contains("CONTAINER_CREATED_EVENT") && cliPods.contains { output.output.contains($0) }, "\(output.output)")
    for id in cliPods { try await f.removePod(id) }

    // Shutting the daemon down ends the streams; the daemon still exits cleanly.
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    #expect(f.conmons.isEmpty, "\(f.conmons)")
    try await f.images.stop()
    for subscriber in [first, second] {
      try await subscriber.wait("the end of the stream", timeout: .seconds(10)) { _ in subscriber.hasEnded }
      #expect(subscriber.error == nil, "\(String(describing: subscriber.error))")
    }
  }

  @Test func twentyContainersCreatedConcurrentlyLoseNoEvent() async throws {
    let f = try await ContainerTests.Fixture()
    let subscribers = (0..<3).map { _ in EventSubscriber(endpoint: f.dir.endpoint) }
    defer { subscribers.forEach { $0.cancel() } }
    try await Self.waitUntilSubscribed(subscribers, f)
    let pod = try await f.runPod("crowd")
    for subscriber in subscribers {
      try await subscriber.wait("the pod's events") { events in events.contains { $0.containerID == pod.0 } }
    }
    let ids = try await withThrowingTaskGroup(of: String.self) { group in
      for i in 0..<20 {
        // Half exit at once (their exit races the start), half run until removed.
        let command = i % 2 == 0 ? ["true"] : ["sleep", "600"]
        group.addTask {
          let id = try await f.create(pod, name: "c\(i)", command: command)
          try await f.start(id)
          return id
        }
      }
      return try await group.reduce(into: [String]()) { $0.append($1) }
    }
    #expect(ids.count == 20)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for id in ids { group.addTask { try await f.remove(id) } }
      try await group.waitForAll()
    }
    let all = Set(ids)
    for subscriber in subscribers {
      try await subscriber.wait("80 container events") { events in
        events.filter { all.contains($0.containerID) && $0.containerEventType == .containerDeletedEvent }.count == 20
      }
    }
    let reference = subscribers[0].sequence(of: all)
    #expect(reference.count == 80, "\(reference.count) events")
    for id in ids {
      #expect(types(reference, for: id) == lifeCycle, "\(id.prefix(8)): \(types(reference, for: id))")
    }
    for subscriber in subscribers.dropFirst() {
      let sequence = subscriber.sequence(of: all)
      #expect(sequence.map(\.1) == reference.map(\.1) && sequence.map(\.0) == reference.map(\.0), "same order for all")
    }
    try await f.removePod(pod.0)
    #expect(f.conmons.isEmpty, "\(f.conmons)")
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }

  @Test func withPodEventsDisabledTheStreamEndsAtOnce() async throws {
    let f = try await ContainerTests.Fixture(extraConfig: "[crio.runtime]\nenable_pod_events = false\n")
    let subscriber = EventSubscriber(endpoint: f.dir.endpoint)
    try await subscriber.wait("the end of the stream", timeout: .seconds(10)) { _ in subscriber.hasEnded }
    #expect(subscriber.error == nil)
    #expect(subscriber.events.isEmpty)
    try await f.images.stop()
  }
}
