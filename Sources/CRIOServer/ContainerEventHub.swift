import CRIAPI
import CRIORuntime
import Foundation
import Logging
import Synchronization

/// What the RPC handlers and the exit watcher report, in the order they
/// report it. `ContainerEventHub` turns these into CRI events.
enum LifecycleNote: Sendable {
  case created(ContainerRecord)
  /// Sent before `runc start`, so an exit seen during the start is held
  /// back until STARTED has gone out.
  case starting(id: String)
  case started(id: String)
  case startFailed(id: String)
  /// An exit file appeared, or StopContainer returned: STOPPED if the
  /// container has exited and it was not reported yet.
  case mayHaveExited(id: String)
  /// The kernel dropped exit notifications: check every started container.
  case recheckAll
  /// RemoveContainer: the record as it was just before removal.
  case removed(ContainerRecord)
  case sandboxCreated(id: String)
  case sandboxStopped(id: String)
  case sandboxRemoved(SandboxRecord)
}

/// The producer of `GetContainerEvents`: a single pipeline turns life-cycle
/// notes into events, in order, and hands each to every subscriber.
///
/// - One task consumes the notes one at a time, so events of one container
///   always go out in life-cycle order (CREATED, STARTED, STOPPED, DELETED),
///   whichever thread reported what first; STOPPED is never skipped (a
///   container removed before its exit was seen gets it just before DELETED).
/// - Every subscriber receives the same events in the same order. Each has
///   its own buffer; one that falls `bufferLimit` events behind is cut off
///   with an error rather than silently missing events.
public final class ContainerEventHub: Sendable {
  /// Builds the event (with the pod's status and its containers' statuses).
  typealias Builder = @Sendable (EventSubject) async -> Runtime_V1_ContainerEventResponse?

  struct EventSubject: Sendable {
    var type: Runtime_V1_ContainerEventType
    var containerID: String
    var sandboxID: String
    /// A container or pod that no longer exists (or whose state the event
    /// must show as stopped): attached as given.
    var removedContainer: ContainerRecord?
    var removedSandbox: SandboxRecord?
  }

  enum Phase: Equatable {
    case created
    case starting(exitHeld: Bool)
    case started
    case stopped
    case deleted
  }

  let enabled: Bool
  let bufferLimit: Int
  private let notes: AsyncStream<LifecycleNote>
  private let noteSink: AsyncStream<LifecycleNote>.Continuation
  private let state = Mutex(SubscriberState())

  private struct SubscriberState {
    var next = 0
    var subscribers: [Int: AsyncThrowingStream<Runtime_V1_ContainerEventResponse, any Error>.Continuation] = [:]
    var closed = false
  }

  struct SubscriberOverflow: Error, CustomStringConvertible {
    let limit: Int
    var description: String { "the client fell more than \(limit) container events behind; stream closed" }
  }

  public init(enabled: Bool, bufferLimit: Int = 10_000) {
    self.enabled = enabled
    self.bufferLimit = bufferLimit
    (notes, noteSink) = AsyncStream.makeStream(of: LifecycleNote.self, bufferingPolicy: .unbounded)
  }

  /// Reports a life-cycle step. Never blocks; safe from any thread.
  func note(_ note: LifecycleNote) {
    guard enabled else { return }
    noteSink.yield(note)
  }

  /// A new subscriber's stream. It ends when the hub is closed, and fails
  /// when the subscriber falls too far behind.
  func subscribe() -> (id: Int, events: AsyncThrowingStream<Runtime_V1_ContainerEventResponse, any Error>) {
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: Runtime_V1_ContainerEventResponse.self, bufferingPolicy: .bufferingOldest(bufferLimit))
    let id = state.withLock { state -> Int in
      state.next += 1
      if state.closed { continuation.finish() } else { state.subscribers[state.next] = continuation }
      return state.next
    }
    continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
    return (id, stream)
  }

  func unsubscribe(_ id: Int) {
    state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
  }

  var subscriberCount: Int { state.withLock { $0.subscribers.count } }

  /// Ends every subscriber's stream (daemon shutdown) and the pipeline.
  public func close() {
    let subscribers = state.withLock { state in
      state.closed = true
      defer { state.subscribers = [:] }
      return Array(state.subscribers.values)
    }
    for subscriber in subscribers { subscriber.finish() }
    noteSink.finish()
  }

  private func broadcast(_ event: Runtime_V1_ContainerEventResponse) {
    let subscribers = state.withLock { $0.subscribers }
    for (id, subscriber) in subscribers {
      if case .dropped = subscriber.yield(event) {
        unsubscribe(id)
        subscriber.finish(throwing: SubscriberOverflow(limit: bufferLimit))
      }
    }
  }

  /// The pipeline: runs until `close()`. `initial` seeds what is already
  /// known about existing containers (after a restart); `lookup` finds a
  /// container's current record.
  func run(
    initial: [ContainerRecord], lookup: @escaping @Sendable (String) async -> ContainerRecord?, build: Builder,
    logger: Logger
  ) async {
    var phases: [String: Phase] = [:]
    var sandboxOf: [String: String] = [:]
    for record in initial {
      sandboxOf[record.id] = record.sandboxID
      phases[record.id] = switch record.state {
      case .created: .created
      case .running: .started
      case .exited: .stopped
      }
    }
    func emit(_ subject: EventSubject) async {
      guard let event = await build(subject) else { return }
      broadcast(event)
    }
    func subject(_ type: Runtime_V1_ContainerEventType, _ id: String, sandbox: String) -> EventSubject {
      EventSubject(type: type, containerID: id, sandboxID: sandbox)
    }

    for await note in notes {
      switch note {
      case .created(let record):
        sandboxOf[record.id] = record.sandboxID
        phases[record.id] = .created
        await emit(subject(.containerCreatedEvent, record.id, sandbox: record.sandboxID))
      case .starting(let id):
        if phases[id] == .created || phases[id] == nil { phases[id] = .starting(exitHeld: false) }
      case .started(let id):
        guard let sandbox = sandboxOf[id] else { break }
        let held = phases[id] == .starting(exitHeld: true)
        phases[id] = .started
        await emit(subject(.containerStartedEvent, id, sandbox: sandbox))
        if held {
          phases[id] = .stopped
          await emit(subject(.containerStoppedEvent, id, sandbox: sandbox))
        }
      case .startFailed(let id):
        if phases[id] == .starting(exitHeld: true) {
          phases[id] = .stopped
          if let sandbox = sandboxOf[id] { await emit(subject(.containerStoppedEvent, id, sandbox: sandbox)) }
        } else if case .starting = phases[id] {
          phases[id] = .created
        }
      case .mayHaveExited(let id):
        switch phases[id] {
        case .starting:
          // The exit file can only exist once runc start ran: hold it for STARTED.
          phases[id] = .starting(exitHeld: true)
        case .stopped, .deleted:
          break
        case .created, .started, nil:
          // Unknown names are conmon's temporary files and infra containers: lookup finds no container.
          guard let record = await lookup(id), record.state == .exited else { break }
          sandboxOf[id] = record.sandboxID
          phases[id] = .stopped
          await emit(subject(.containerStoppedEvent, id, sandbox: record.sandboxID))
        }
      case .recheckAll:
        logger.warning("Exit notifications were lost (inotify queue overflow); checking every container")
        for (id, phase) in phases where phase == .started || phase == .created {
          noteSink.yield(.mayHaveExited(id: id))
        }
      case .removed(let record):
        let phase = phases[record.id]
        if phase == .deleted { break }
        if phase != .stopped {
          var stopped = record
          stopped.state = .exited
          var event = subject(.containerStoppedEvent, record.id, sandbox: record.sandboxID)
          event.removedContainer = stopped
          await emit(event)
        }
        // Kept as deleted so a late exit-file note is ignored.
        phases[record.id] = .deleted
        sandboxOf[record.id] = nil
        await emit(subject(.containerDeletedEvent, record.id, sandbox: record.sandboxID))
      case .sandboxCreated(let id):
        await emit(subject(.containerCreatedEvent, id, sandbox: id))
        await emit(subject(.containerStartedEvent, id, sandbox: id))
      case .sandboxStopped(let id):
        await emit(subject(.containerStoppedEvent, id, sandbox: id))
      case .sandboxRemoved(let record):
        var event = subject(.containerDeletedEvent, record.id, sandbox: record.id)
        event.removedSandbox = record
        await emit(event)
      }
      // Keep the table small: deleted containers need no entry once their notes are through.
      if phases.count > 4096 { phases = phases.filter { $0.value != .deleted } }
    }
  }
}
