import Glibc

/// How many tasks (threads) are in each scheduler state, as cAdvisor's
/// `container_tasks_state` counts them. Read from the state letter of
/// `/proc/<tid>/stat`: `R` running, `S` sleeping, `D` uninterruptible,
/// `T`/`t` stopped. Other letters (`I` idle kernel threads, `Z` zombies,
/// `X` dead, `P` parked) are in none of the four, as in the kernel's
/// taskstats. The kernel's I/O-wait flag (cAdvisor's `iowaiting`) is not
/// visible in /proc, so it is not counted.
public struct TaskStates: Sendable, Equatable {
  public var running: UInt64 = 0
  public var sleeping: UInt64 = 0
  public var uninterruptible: UInt64 = 0
  public var stopped: UInt64 = 0

  public init(running: UInt64 = 0, sleeping: UInt64 = 0, uninterruptible: UInt64 = 0, stopped: UInt64 = 0) {
    self.running = running
    self.sleeping = sleeping
    self.uninterruptible = uninterruptible
    self.stopped = stopped
  }

  /// Counts the tasks' states; a task that has gone meanwhile counts nothing.
  public static func of(tasks: [Int32], proc: String = "/proc") -> TaskStates {
    var states = TaskStates()
    for tid in tasks {
      guard let text = readSmallFile("\(proc)/\(tid)/stat"), let state = state(statLine: text) else { continue }
      states.count(state)
    }
    return states
  }

  /// Adds one task in the state `letter`.
  public mutating func count(_ letter: Character) {
    switch letter {
    case "R": running += 1
    case "S": sleeping += 1
    case "D": uninterruptible += 1
    case "T", "t": stopped += 1
    default: break
    }
  }

  /// The state letter of a `/proc/<pid>/stat` line: the first field after
  /// the command name, which is in parentheses and may itself hold spaces
  /// and parentheses (so the last `)` ends it).
  public static func state(statLine: String) -> Character? {
    guard let close = statLine.lastIndex(of: ")") else { return nil }
    return statLine[statLine.index(after: close)...].first { $0 != " " }
  }

  static func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1024)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    return String(decoding: buffer[0..<n], as: UTF8.self)
  }
}
