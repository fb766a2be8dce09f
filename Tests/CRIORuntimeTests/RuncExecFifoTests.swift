import Foundation
import Testing

@testable import CRIORuntime

/// The exec-fifo handshake of `runc start`, against shell processes that
/// play runc's init: open the fifo for writing, write a byte, exit.
@Suite struct RuncExecFifoTests {
  private func scratch() throws -> String {
    let dir = NSTemporaryDirectory() + "execfifo-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  private func writer(_ script: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    try process.run()
    return process
  }

  @Test func releasesTheWriterAndRemovesTheFifo() async throws {
    let dir = try scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = "\(dir)/exec.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let init_ = try writer("printf 0 > \(fifo); exit 7")
    let outcome = await RuncExecFifo(path: fifo).start(pid: init_.processIdentifier)
    #expect(outcome == .started)
    #expect(!FileManager.default.fileExists(atPath: fifo))
    init_.waitUntilExit()
    #expect(init_.terminationStatus == 7)
  }

  @Test func aWriterThatWritesNothingWasAlreadyStarted() async throws {
    let dir = try scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = "\(dir)/exec.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let init_ = try writer(": > \(fifo)")
    let outcome = await RuncExecFifo(path: fifo).start(pid: init_.processIdentifier)
    #expect(outcome == .failed("the container was already started"))
    #expect(FileManager.default.fileExists(atPath: fifo))
    init_.waitUntilExit()
  }

  @Test func aDeadInitFailsInsteadOfBlocking() async throws {
    let dir = try scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = "\(dir)/exec.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    let gone = try writer("exit 0")
    gone.waitUntilExit()
    let outcome = await RuncExecFifo(path: fifo).start(pid: gone.processIdentifier)
    #expect(outcome == .failed("the container process is already dead"))
  }

  @Test func noFifoMeansAskTheRuntime() async throws {
    let dir = try scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(await RuncExecFifo(path: "\(dir)/exec.fifo").start(pid: getpid()) == .noFifo)
    #expect(RuncExecFifo(runtimeRoot: dir, id: "abc") == nil)
    try FileManager.default.createDirectory(atPath: "\(dir)/abc", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: "\(dir)/abc/state.json", contents: Data("{}".utf8))
    #expect(RuncExecFifo(runtimeRoot: dir, id: "abc")?.path == "\(dir)/abc/exec.fifo")
    #expect(RuncExecFifo(runtimeRoot: dir, id: "../abc") == nil)
  }
}
