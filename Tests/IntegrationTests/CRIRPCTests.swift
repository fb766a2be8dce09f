import CRIAPI
import CRIClient
import Foundation
import GRPCCore
import Testing

/// The CRI RPCs that have real answers, called with the generated client on
/// the real daemon.
@Suite(.serialized) struct CRIRPCTests {
  @Test func versionNamesCrioAndTheV1API() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    let response = try await CRIConnection.with(dir.endpoint) {
      try await $0.runtime.version(Runtime_V1_VersionRequest(), options: $0.options)
    }
    #expect(response.runtimeName == "crio")
    #expect(response.runtimeApiVersion == "v1")
    #expect(response.version == "0.1.0")
    #expect(!response.runtimeVersion.isEmpty)
    #expect(try await daemon.stop() == 0)
  }

  @Test func statusReportsRuntimeAndNetworkReadiness() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    func status() async throws -> Runtime_V1_StatusResponse {
      try await CRIConnection.with(dir.endpoint) {
        var request = Runtime_V1_StatusRequest()
        request.verbose = true
        return try await $0.runtime.status(request, options: $0.options)
      }
    }
    func condition(_ type: String, _ response: Runtime_V1_StatusResponse) throws -> Runtime_V1_RuntimeCondition {
      try #require(response.status.conditions.first { $0.type == type })
    }

    let before = try await status()
    #expect(try condition("RuntimeReady", before).status == true)
    let network = try condition("NetworkReady", before)
    #expect(network.status == false)
    #expect(network.reason == "NetworkPluginNotReady")
    #expect(network.message.contains(dir.cniDir))
    #expect(before.runtimeHandlers.map(\.name) == ["", "runc"])

    // The verbose info carries the effective configuration as JSON.
    let json = try #require(before.info["config"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let api = (object["crio"] as? [String: Any])?["api"] as? [String: Any]
    #expect(api?["listen"] as? String == dir.socket)

    // A CNI config appearing makes the network ready without a restart.
    let conflist = """
      {"cniVersion": "1.0.0", "name": "test", "plugins": [{"type": "bridge", "bridge": "crio-it0"}]}
      """
    try conflist.write(toFile: "\(dir.cniDir)/10-test.conflist", atomically: true, encoding: .utf8)
    #expect(try condition("NetworkReady", try await status()).status == true)
    // Emptied: not ready again. A broken file is skipped, and named.
    try FileManager.default.removeItem(atPath: "\(dir.cniDir)/10-test.conflist")
    #expect(try condition("NetworkReady", try await status()).status == false)
    try "{not json".write(toFile: "\(dir.cniDir)/05-broken.conflist", atomically: true, encoding: .utf8)
    let broken = try condition("NetworkReady", try await status())
    #expect(broken.status == false)
    #expect(broken.message.contains("05-broken.conflist"), "\(broken.message)")
    // Refilled: ready, the broken file still skipped.
    try conflist.write(toFile: "\(dir.cniDir)/10-test.conflist", atomically: true, encoding: .utf8)
    #expect(try condition("NetworkReady", try await status()).status == true)
    #expect(try await daemon.stop() == 0)
  }

  @Test func runtimeReadyTurnsFalseWhenTheRuntimeBinaryDisappears() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let copy = "\(dir.path)/runc-copy"
    try FileManager.default.copyItem(atPath: "/usr/sbin/runc", toPath: copy)
    try "[crio.runtime.runtimes.runc]\nruntime_path = \"\(copy)\"\n"
      .write(toFile: dir.configFile, atomically: true, encoding: .utf8)
    let daemon = try await DaemonProcess.started(in: dir)
    func runtimeReady() async throws -> Runtime_V1_RuntimeCondition? {
      try await CRIConnection.with(dir.endpoint) {
        try await $0.runtime.status(Runtime_V1_StatusRequest(), options: $0.options)
      }.status.conditions.first { $0.type == "RuntimeReady" }
    }
    #expect(try await runtimeReady()?.status == true)
    try FileManager.default.removeItem(atPath: copy)
    let after = try await runtimeReady()
    #expect(after?.status == false)
    #expect(after?.reason == "RuntimeBinaryNotFound")
    #expect(after?.message.contains(copy) == true)
    #expect(try await daemon.stop() == 0)
  }

  @Test func runtimeConfigReportsTheCgroupDriver() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    let response = try await CRIConnection.with(dir.endpoint) {
      try await $0.runtime.runtimeConfig(Runtime_V1_RuntimeConfigRequest(), options: $0.options)
    }
    #expect(response.linux.cgroupDriver == .cgroupfs)
    #expect(try await daemon.stop() == 0)

    let systemd = try await DaemonProcess.started(in: dir, extraArguments: ["--cgroup-manager", "systemd"])
    let driver = try await CRIConnection.with(dir.endpoint) {
      try await $0.runtime.runtimeConfig(Runtime_V1_RuntimeConfigRequest(), options: $0.options)
    }.linux.cgroupDriver
    #expect(driver == .systemd)
    #expect(try await systemd.stop() == 0)
  }

  @Test func imageFsInfoMeasuresTheImageStore() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    func usage() async throws -> Runtime_V1_FilesystemUsage {
      let response = try await CRIConnection.with(dir.endpoint) {
        try await $0.image.imageFsInfo(Runtime_V1_ImageFsInfoRequest(), options: $0.options)
      }
      #expect(response.imageFilesystems.count == 1)
      #expect(response.containerFilesystems == response.imageFilesystems)
      return try #require(response.imageFilesystems.first)
    }
    let empty = try await usage()
    #expect(empty.fsID.mountpoint == "\(dir.root)/overlay-images")
    #expect(empty.usedBytes.value > 0)
    #expect(empty.inodesUsed.value >= 4)
    #expect(empty.timestamp > 0)

    // Real usage: a 1 MiB layer file shows up in the next answer.
    let layer = Data(repeating: 1, count: 1 << 20)
    try layer.write(to: URL(fileURLWithPath: "\(dir.root)/overlay/test-layer"))
    let grown = try await usage()
    #expect(grown.usedBytes.value >= empty.usedBytes.value + (1 << 20))
    #expect(grown.inodesUsed.value == empty.inodesUsed.value + 1)
    #expect(try await daemon.stop() == 0)
  }

  @Test func unimplementedRPCsSayWhichRPC() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    try await CRIConnection.with(dir.endpoint) { connection in
      let checkpoint = await #expect(throws: RPCError.self) {
        try await connection.runtime.checkpointContainer(Runtime_V1_CheckpointContainerRequest(), options: connection.options)
      }
      #expect(checkpoint?.code == .unimplemented)
      #expect(checkpoint?.message == "CheckpointContainer is not implemented yet by crio")

      // A server-streaming RPC is mapped the same way.
      let stream = await #expect(throws: RPCError.self) {
        try await connection.runtime.streamPodSandboxes(Runtime_V1_StreamPodSandboxesRequest(), options: connection.options) {
          response in
          for try await _ in response.messages {}
        }
      }
      #expect(stream?.code == .unimplemented)
      #expect(stream?.message.contains("StreamPodSandboxes") == true)
    }
    #expect(try await daemon.stop() == 0)
  }

  @Test func requestsAboveTheReceiveLimitAreRefused() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir, extraArguments: ["--grpc-max-recv-msg-size", "1024"])
    try await CRIConnection.with(dir.endpoint) { connection in
      var small = Runtime_V1_VersionRequest()
      small.version = String(repeating: "v", count: 512)
      #expect(try await connection.runtime.version(small, options: connection.options).runtimeName == "crio")

      var large = Runtime_V1_VersionRequest()
      large.version = String(repeating: "v", count: 4096)
      let error = await #expect(throws: RPCError.self) {
        try await connection.runtime.version(large, options: connection.options)
      }
      // grpc-swift resets the stream of an oversized request, so the client reads UNAVAILABLE
      // (grpc-go would answer RESOURCE_EXHAUSTED). Either way the call is refused.
      #expect(error?.code == .unavailable, "\(String(describing: error))")
      // The daemon keeps serving afterwards.
      let ok = try await connection.runtime.version(Runtime_V1_VersionRequest(), options: connection.options)
      #expect(ok.runtimeName == "crio")
    }
    #expect(try await daemon.stop() == 0)
  }
}
