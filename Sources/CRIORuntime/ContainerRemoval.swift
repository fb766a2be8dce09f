import CRIOSystem
import Foundation
import Glibc

/// Removing containers. `RemoveContainer` returns once the container is
/// gone from the lists and its name is free; what it owned (the runtime's
/// state and cgroup, the rootfs mount and upper dir, the bundle, the exit
/// file) is released in the background, as containerd releases a
/// snapshot. The record moves to `<root>/crio/removing-containers/` first,
/// and leaves it only when everything is released: a crio that dies
/// meanwhile finishes the job on its next start. Whoever needs it all gone
/// (RemovePodSandbox, RemoveImage) waits for it (`settleRemovals`).
extension ContainerManager {
  public func remove(_ idOrPrefix: String) async throws {
    guard let record = try find(idOrPrefix) else { return }
    try await stop(record.id, timeout: 0)
    let tombstone = removalPath(record.id)
    if rename(recordPath(record.id), tombstone) != 0 {
      // No record file (it could not be written): the tombstone is written afresh.
      try writeRecord(record, to: tombstone)
    }
    containers[record.id] = nil
    names[Self.reservedName(record.spec, sandboxID: record.sandboxID)] = nil
    startRelease(record)
    logger.info("Removed container", metadata: ["id": "\(record.id)"])
  }

  /// Waits until the background removals of `sandboxID`'s containers
  /// (every container's, when nil) are done.
  public func settleRemovals(sandboxID: String? = nil) async {
    let pending = removals.values.filter { sandboxID == nil || $0.sandboxID == sandboxID }.map(\.task)
    for task in pending { await task.value }
  }

  func recordPath(_ id: String) -> String { "\(recordsDirectory)/\(id).json" }

  func removalPath(_ id: String) -> String { "\(removingDirectory)/\(id).json" }

  func startRelease(_ record: ContainerRecord) {
    let task = Task { await self.release(record) }
    removals[record.id] = PendingRemoval(sandboxID: record.sandboxID, imageID: record.image.id, task: task)
  }

  /// Releases what a removed container owned, then its tombstone.
  private func release(_ record: ContainerRecord) async {
    var phases = PhaseTimes()
    await releaseResources(id: record.id, record: record, phases: &phases)
    unlink(removalPath(record.id))
    removals[record.id] = nil
    logger.debug("Released container", metadata: ["id": "\(record.id)", "phases": "\(phases.summary)"])
  }

  /// Finishes the removals a previous crio left (its tombstones); a
  /// container that has both a record and a tombstone (a crash between
  /// the two writes) was being removed.
  func resumeRemovals() {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: removingDirectory)) ?? []
    for file in files where !file.hasSuffix(".json") {
      unlink("\(removingDirectory)/\(file)")
    }
    for file in files where file.hasSuffix(".json") {
      let path = "\(removingDirectory)/\(file)"
      guard let data = FileManager.default.contents(atPath: path),
            let record = try? JSONDecoder().decode(ContainerRecord.self, from: data)
      else {
        logger.warning("Dropping an unreadable removal record", metadata: ["file": "\(path)"])
        unlink(path)
        continue
      }
      if let kept = containers[record.id] {
        names[Self.reservedName(kept.spec, sandboxID: kept.sandboxID)] = nil
        containers[record.id] = nil
      }
      unlink(recordPath(record.id))
      logger.info("Finishing the removal of a container", metadata: ["id": "\(record.id)"])
      startRelease(record)
    }
  }

  func writeRecord(_ record: ContainerRecord, to path: String) throws {
    let data = try JSONEncoder().encode(record)
    do {
      try RecordFile.write(data, to: path)
    } catch {
      throw ContainerError.runtimeFailed("\(error)")
    }
  }
}

/// A removed container whose files are still being released.
struct PendingRemoval: Sendable {
  let sandboxID: String
  let imageID: String
  let task: Task<Void, Never>
}
