import CRIOConfig
import CRIOSystem
import Foundation
import Glibc
import Testing

@testable import CRIORuntime

private func tempDir() throws -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("crio-rt-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

private func script(_ path: String, _ body: String) throws {
  try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: false, encoding: .utf8)
  chmod(path, 0o755)
}

@Suite struct RuntimeHealthTests {
  /// runc and conmon come from `make deps`; without them this test must fail, not skip.
  @Test func theRealRuncAndConmonAreReady() async throws {
    try #require(ExecutableLookup.find("runc") != nil, "runc is not installed (make deps installs it)")
    try #require(ExecutableLookup.find("conmon") != nil, "conmon is not installed (make deps installs it)")
    let condition = await RuntimeHealth(config: CRIOConfiguration()).check()
    #expect(condition == .init(ready: true, reason: "", message: ""))
  }

  @Test func aMissingRuntimeIsNotReady() async throws {
    var config = CRIOConfiguration()
    config.runtime.runtimes["runc"]?.runtimePath = "/nonexistent/runc"
    let condition = await RuntimeHealth(config: config).check()
    #expect(!condition.ready)
    #expect(condition.reason == "RuntimeBinaryNotFound")
    #expect(condition.message.contains("/nonexistent/runc"))
  }

  @Test func aRuntimeThatDoesNotRunIsNotReady() async throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try script("\(dir)/runtime", "exit 1")
    var config = CRIOConfiguration()
    config.runtime.runtimes["runc"]?.runtimePath = "\(dir)/runtime"
    let condition = await RuntimeHealth(config: config).check()
    #expect(!condition.ready)
    #expect(condition.reason == "RuntimeBinaryNotExecutable")
  }

  @Test func aMissingConmonIsNotReady() async throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try script("\(dir)/runtime", "echo runtime 1.0")
    var config = CRIOConfiguration()
    config.runtime.runtimes["runc"]?.runtimePath = "\(dir)/runtime"
    config.runtime.conmon = "\(dir)/conmon"
    let condition = await RuntimeHealth(config: config).check()
    #expect(condition.reason == "ConmonNotFound")
  }

  @Test func aReplacedBinaryIsCheckedAgain() async throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try script("\(dir)/runtime", "echo runtime 1.0")
    try script("\(dir)/conmon", "echo conmon 1.0")
    var config = CRIOConfiguration()
    config.runtime.runtimes["runc"]?.runtimePath = "\(dir)/runtime"
    config.runtime.conmon = "\(dir)/conmon"
    let health = RuntimeHealth(config: config)
    #expect(await health.check().ready)
    try FileManager.default.removeItem(atPath: "\(dir)/conmon")
    try script("\(dir)/conmon", "echo broken conmon; exit 2")
    let condition = await health.check()
    #expect(condition.reason == "ConmonNotExecutable")
    #expect(condition.message.contains("exited with 2"))
  }
}
