import CRIOSystem
import Foundation
import Glibc

/// Intents of multi-step operations, written before an operation makes its
/// first change and removed after its last, under `<root>/crio/journal`.
/// An entry still there when the daemon starts means the daemon died in
/// the middle of that operation: recovery rolls a creation back and carries
/// a stop or a removal through (see `RuntimeRecovery`).
///
/// Entries are small files written without fsync: they guard against the
/// daemon dying, not the machine (after a reboot, `RuntimeRecovery` wipes
/// pods and containers anyway, as CRI-O does).
public struct OperationJournal: Sendable {
  public enum Operation: String, Codable, Sendable, CaseIterable {
    case runSandbox = "run-sandbox"
    case stopSandbox = "stop-sandbox"
    case removeSandbox = "remove-sandbox"
    case createContainer = "create-container"
  }

  public struct Entry: Codable, Sendable, Equatable {
    public var operation: Operation
    /// The sandbox's or container's ID.
    public var id: String
    /// For container operations: the container's sandbox.
    public var sandboxID: String?
  }

  /// An entry that was written; `end` removes it.
  public struct Ticket: Sendable {
    let path: String
  }

  public let directory: String

  public init(directory: String) {
    self.directory = directory
  }

  public init(root: String) {
    self.init(directory: "\(root)/crio/journal")
  }

  public func prepare() throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  }

  /// Records that `operation` on `id` begins. Each call gets its own file,
  /// so concurrent operations on one object never remove each other's entry.
  public func begin(_ operation: Operation, id: String, sandboxID: String? = nil) throws -> Ticket {
    let entry = Entry(operation: operation, id: id, sandboxID: sandboxID)
    let data = try JSONEncoder().encode(entry)
    let path = "\(directory)/\(operation.rawValue)-\(id)-\(UInt32.random(in: 0...UInt32.max))"
    do {
      try RecordFile.write(data, to: path)
    } catch {
      throw JournalError(description: "cannot write journal entry: \(error)")
    }
    return Ticket(path: path)
  }

  /// The operation finished (or failed cleanly): its entry goes.
  public func end(_ ticket: Ticket) {
    unlink(ticket.path)
  }

  /// Entries of operations that never ended, with their tickets. Unreadable
  /// entries and temporary files are removed.
  public func pending() -> [(Entry, Ticket)] {
    var result: [(Entry, Ticket)] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
      let path = "\(directory)/\(name)"
      guard !name.hasSuffix(".tmp"), let data = FileManager.default.contents(atPath: path),
        let entry = try? JSONDecoder().decode(Entry.self, from: data)
      else {
        unlink(path)
        continue
      }
      result.append((entry, Ticket(path: path)))
    }
    return result
  }

  public struct JournalError: Error, CustomStringConvertible {
    public let description: String
  }
}
