import Foundation
import Glibc
import Testing

@testable import CRIOSystem

private func tempDir() throws -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("crio-sys-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

@Suite struct DiskUsageTests {
  @Test func countsBlocksAndInodesAndHardLinksOnce() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let empty = DiskUsage.measure(dir)
    #expect(empty.inodes == 1)

    let payload = Data(repeating: 7, count: 64 * 1024)
    try payload.write(to: URL(fileURLWithPath: "\(dir)/a"))
    try FileManager.default.createDirectory(atPath: "\(dir)/sub", withIntermediateDirectories: false)
    #expect(link("\(dir)/a", "\(dir)/sub/a-link") == 0)
    let usage = DiskUsage.measure(dir)
    #expect(usage.inodes == 3)  // dir, sub, a (the link is the same inode)
    #expect(usage.bytes >= empty.bytes + 64 * 1024)
    #expect(usage.bytes < empty.bytes + 2 * 64 * 1024 + 16 * 1024)
  }

  @Test func anAbsentPathUsesNothing() {
    #expect(DiskUsage.measure("/nonexistent/\(UUID().uuidString)") == DiskUsage())
  }
}

@Suite struct UnixSocketTests {
  @Test func tellsAbsentStaleLiveAndNotASocketApart() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = "\(dir)/s.sock"
    #expect(UnixSocket.state(of: path) == .absent)

    let fd = try UnixSocket.listen(path: path, mode: 0o660)
    #expect(UnixSocket.state(of: path) == .live)
    var st = stat()
    #expect(stat(path, &st) == 0)
    #expect(st.st_mode & 0o777 == 0o660)
    close(fd)
    #expect(UnixSocket.state(of: path) == .stale)

    #expect(throws: UnixSocket.ListenError.self) { try UnixSocket.listen(path: path, mode: 0o660) }

    try "x".write(toFile: "\(dir)/file", atomically: true, encoding: .utf8)
    #expect(UnixSocket.state(of: "\(dir)/file") == .notASocket)
  }

  @Test func refusesPathsThatDoNotFit() {
    let long = "/tmp/" + String(repeating: "x", count: UnixSocket.maxPathLength)
    #expect(throws: UnixSocket.ListenError.self) { try UnixSocket.listen(path: long, mode: 0o660) }
  }
}

@Suite struct ExecutableLookupTests {
  @Test func findsProgramsOnPathAndChecksAbsolutePaths() throws {
    #expect(ExecutableLookup.find("sh", path: "/bin:/usr/bin") != nil)
    #expect(ExecutableLookup.find("no-such-program-\(UUID().uuidString)", path: "/bin") == nil)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = "\(dir)/tool"
    try "#!/bin/sh\n".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(!ExecutableLookup.isExecutable(file))
    #expect(chmod(file, 0o755) == 0)
    #expect(ExecutableLookup.find(file) == file)
    #expect(ExecutableLookup.find("tool", path: dir) == file)
    #expect(!ExecutableLookup.isExecutable(dir))
  }
}

@Suite struct ProcessRunnerTests {
  @Test func collectsOutputAndExitCode() async throws {
    let result = try await ProcessRunner.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
    #expect(result.exitCode == 3)
    #expect(result.output.contains("out"))
    #expect(result.output.contains("err"))
  }

  @Test func killsAChildThatOutlivesItsTimeout() async throws {
    await #expect(throws: ProcessRunner.Failure.timedOut(path: "/bin/sleep", seconds: 0.2)) {
      try await ProcessRunner.run("/bin/sleep", ["30"], timeout: 0.2)
    }
  }

  /// The daemon's threads block signals and crio ignores some: a helper
  /// (and, through runc exec, a container's process) must start with none
  /// blocked and every disposition at its default.
  @Test func childrenStartWithNoBlockedOrIgnoredSignals() async throws {
    // As in crio (SwiftNIO ignores SIGPIPE process-wide on Linux, once). Not
    // restored: tests run concurrently in this process, and restoring the
    // default after NIO set SIG_IGN would let a write to a closed socket in
    // another test kill the whole test process.
    signal(SIGPIPE, SIG_IGN)
    let own = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    #expect(Self.mask("SigIgn", in: own).map { $0 & (1 << (UInt64(SIGPIPE) - 1)) != 0 } == true, "premise: crio ignores SIGPIPE")
    let result = try await ProcessRunner.run("/bin/cat", ["/proc/self/status"])
    #expect(result.exitCode == 0)
    let status = String(decoding: result.stdout, as: UTF8.self)
    #expect(Self.mask("SigBlk", in: status) == 0, "\(status)")
    #expect(Self.mask("SigIgn", in: status).map { $0 & ~Self.glibcInternal } == 0, "\(status)")
  }

  /// Signals 32 and 33, glibc's own (thread cancellation, setxid): its
  /// posix_spawn leaves them ignored in every child, and no program can
  /// use them through glibc (SIGRTMIN is 34).
  static let glibcInternal: UInt64 = (1 << 31) | (1 << 32)

  @Test func passesInputEnvironmentAndExitSignals() async throws {
    let echoed = try await ProcessRunner.run("/bin/sh", ["-c", "cat; echo \"$GREETING\""], environment: ["GREETING": "hi"], input: Data("in\n".utf8))
    #expect(String(decoding: echoed.stdout, as: UTF8.self) == "in\nhi\n")
    let killed = try await ProcessRunner.run("/bin/sh", ["-c", "kill -TERM $$"])
    #expect(killed.exitCode == SIGTERM)
  }

  static func mask(_ field: String, in status: String) -> UInt64? {
    status.split(separator: "\n").first { $0.hasPrefix("\(field):") }
      .flatMap { UInt64($0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) }
  }

  @Test func reportsAProgramThatCannotStart() async throws {
    await #expect(throws: ProcessRunner.Failure.self) {
      try await ProcessRunner.run("/nonexistent/program", [])
    }
  }
}

@Suite struct FileIdentityTests {
  @Test func changesWhenTheFileIsReplaced() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = "\(dir)/f"
    try "one".write(toFile: file, atomically: false, encoding: .utf8)
    let first = try #require(FileIdentity(path: file))
    #expect(FileIdentity(path: file) == first)
    try FileManager.default.removeItem(atPath: file)
    #expect(FileIdentity(path: file) == nil)
    try "second".write(toFile: file, atomically: false, encoding: .utf8)
    #expect(FileIdentity(path: file) != first)
  }
}

@Suite struct ProcessHandleTests {
  @Test func readsTheStartTimeAfterANameWithSpacesAndParentheses() {
    let stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10"
    #expect(ProcessHandle.parseStartTime(stat) == 987_654)
    #expect(ProcessHandle.parseStartTime("42 (short) S 1") == nil)
  }

  @Test func signalsAndWaitsForAProcessOnlyWhileItIsTheSameOne() async throws {
    let null = open("/dev/null", O_RDWR | O_CLOEXEC)
    defer { close(null) }
    let child = try ChildProcess(
      path: "/bin/sleep", argv: ["sleep", "30"], environment: [], stdin: null, stdout: null, stderr: null)
    let startTime = try #require(ProcessHandle.startTime(of: child.pid))
    #expect(ProcessHandle(pid: child.pid, startTime: startTime + 1) == nil, "another process's start time")
    let handle = try #require(ProcessHandle(pid: child.pid, startTime: startTime))
    #expect(await handle.waitForExit(timeout: .milliseconds(50)) == false)
    #expect(handle.signal(SIGTERM))
    #expect(await handle.waitForExit(timeout: .seconds(30)))
    #expect(ChildProcess.exitCode(await child.wait()) == SIGTERM)
    #expect(handle.signal(SIGTERM) == false, "reaped: nothing to signal")
    #expect(ProcessHandle(pid: child.pid, startTime: startTime) == nil)
  }
}
