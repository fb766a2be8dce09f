import Foundation
import Glibc
import Testing

@testable import CRIORuntime

@Suite struct ExitWatcherTests {
  @Test func reportsFilesRenamedOrWrittenIntoTheDirectory() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crio-exits-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (names, sink) = AsyncStream.makeStream(of: String.self)
    let watcher = ExitWatcher(directory: dir, onExit: { sink.yield($0) }, onOverflow: {})
    try watcher.start()
    // As conmon does it (g_file_set_contents): a temporary file renamed into place.
    try "137".write(toFile: "\(dir)/abc.TMP123", atomically: false, encoding: .utf8)
    #expect(rename("\(dir)/abc.TMP123", "\(dir)/abc") == 0)
    try "0".write(toFile: "\(dir)/def", atomically: false, encoding: .utf8)
    var seen: [String] = []
    for await name in names {
      seen.append(name)
      if seen.contains("abc") && seen.contains("def") { break }
    }
    // (The temporary file's own close may be reported too, under its old name or,
    // read after the rename, not: the consumer ignores names it does not know.)
    watcher.stop()
    watcher.stop()  // again: fine
  }

  @Test func parsesPackedEvents() {
    func event(mask: UInt32, name: String, padded: Int) -> [UInt8] {
      var bytes: [UInt8] = []
      for word in [UInt32(1), mask, 0, UInt32(padded)] { withUnsafeBytes(of: word) { bytes += $0 } }
      var nameBytes = Array(name.utf8)
      nameBytes += [UInt8](repeating: 0, count: padded - nameBytes.count)
      return bytes + nameBytes
    }
    let buffer = event(mask: UInt32(IN_MOVED_TO), name: "abc", padded: 16)
      + event(mask: UInt32(IN_Q_OVERFLOW), name: "", padded: 0)
      + event(mask: UInt32(IN_CLOSE_WRITE), name: "0123456789abcdef0123", padded: 32)
    let (names, overflowed) = ExitWatcher.parse(buffer[...])
    #expect(names == ["abc", "0123456789abcdef0123"])
    #expect(overflowed)
  }
}
