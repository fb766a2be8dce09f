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
