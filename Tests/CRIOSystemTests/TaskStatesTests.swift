import Foundation
import Glibc
import Testing

@testable import CRIOSystem

@Suite struct TaskStatesTests {
  @Test func theStateIsTheFieldAfterTheLastParenthesis() {
    #expect(TaskStates.state(statLine: "1 (sleep) S 0 1 1 0 -1 4194560 108 0 0 0 0 0") == "S")
    // A command name may hold spaces and parentheses of its own.
    #expect(TaskStates.state(statLine: "42 (a) R (b) ) D 1 42 42 0 -1") == "D")
    #expect(TaskStates.state(statLine: "garbage") == nil)
  }

  @Test func countsTheFourStatesAndLeavesTheRestOut() throws {
    let proc = FileManager.default.temporaryDirectory.appendingPathComponent("crio-proc-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: proc) }
    let letters: [Int32: String] = [10: "R", 11: "S", 12: "S", 13: "D", 14: "T", 15: "t", 16: "Z", 17: "I"]
    for (tid, letter) in letters {
      try FileManager.default.createDirectory(atPath: "\(proc)/\(tid)", withIntermediateDirectories: true)
      try "\(tid) (worker \(tid)) \(letter) 1 \(tid) \(tid) 0 -1 4194560\n"
        .write(toFile: "\(proc)/\(tid)/stat", atomically: false, encoding: .utf8)
    }
    // 99 has exited meanwhile: it counts nothing.
    let states = TaskStates.of(tasks: Array(letters.keys) + [99], proc: proc)
    #expect(states == TaskStates(running: 1, sleeping: 2, uninterruptible: 1, stopped: 2))
  }

  @Test func thisThreadIsRunningInTheRealProc() {
    // The test's own thread reads its stat while on a CPU. /proc/thread-self links to `<pid>/task/<tid>`.
    let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
    let tid = Int32(link.split(separator: "/").last ?? "")
    #expect(tid != nil, "\(link)")
    let states = TaskStates.of(tasks: [tid ?? 0])
    #expect(states == TaskStates(running: 1))
  }
}
