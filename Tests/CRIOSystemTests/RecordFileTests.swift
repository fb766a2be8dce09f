import Foundation
import Testing

@testable import CRIOSystem

@Suite struct RecordFileTests {
  @Test func writeReplacesTheFileAndLeavesNothingBeside() throws {
    let dir = NSTemporaryDirectory() + "recordfile-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try RecordFile.write(Data("one".utf8), to: "\(dir)/r.json")
    try RecordFile.write(Data("two".utf8), to: "\(dir)/r.json")
    #expect(FileManager.default.contents(atPath: "\(dir)/r.json") == Data("two".utf8))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["r.json"])
    #expect(throws: RecordFile.WriteError.self) { try RecordFile.write(Data(), to: "\(dir)/missing/r.json") }
  }

  @Test func leftoversOfCutShortWritesGo() throws {
    let dir = NSTemporaryDirectory() + "recordfile-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for name in ["a.json", "a.json.tmp", ".dat.nosync7031.IV33l8", "b.json"] {
      FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data("x".utf8))
    }
    RecordFile.removeLeftovers(in: dir)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["a.json", "b.json"])
  }
}
