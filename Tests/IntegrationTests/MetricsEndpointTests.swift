import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// A TCP port nothing listens on right now.
private func freePort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
  }
  guard bound else { throw HarnessError("cannot find a free port") }
  return Int(UInt16(bigEndian: address.sin_port))
}

/// An HTTP/1.0 GET over TCP (`port`) or a unix socket (`socketPath`), read to the end.
private func httpGet(_ path: String, port: Int? = nil, socketPath: String? = nil) throws -> (status: Int, body: String) {
  let fd: Int32
  if let socketPath {
    fd = crioUnixConnect(socketPath)
  } else {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port ?? 0).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
      close(fd)
      throw HarnessError("cannot connect to 127.0.0.1:\(port ?? 0): errno \(errno)")
    }
  }
  guard fd >= 0 else { throw HarnessError("cannot connect to \(socketPath ?? "?")") }
  defer { close(fd) }
  let request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
  _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  var response: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n <= 0 { break }
    response += buffer[0..<n]
  }
  let text = String(decoding: response, as: UTF8.self)
  guard let split = text.range(of: "\r\n\r\n") else { throw HarnessError("not an HTTP response: \(text)") }
  let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
  return (status, String(text[split.upperBound...]))
}

private func crioUnixConnect(_ path: String) -> Int32 {
  let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
  var address = sockaddr_un()
  address.sun_family = sa_family_t(AF_UNIX)
  withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
  }
  if connected != 0 {
    close(fd)
    return -1
  }
  return fd
}

/// The Prometheus text format (0.0.4), parsed strictly enough to catch a
/// malformed exposition: `# HELP` / `# TYPE` lines, then samples of the
/// declared families.
struct PrometheusText {
  struct Sample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
  }

  var types: [String: String] = [:]
  var samples: [Sample] = []

  init(_ text: String) throws {
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
      if line.hasPrefix("# TYPE ") {
        let parts = line.split(separator: " ")
        guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
          throw HarnessError("bad TYPE line: \(line)")
        }
        types[String(parts[2])] = String(parts[3])
        continue
      }
      if line.hasPrefix("# HELP ") || line.hasPrefix("#") { continue }
      samples.append(try Self.sample(String(line)))
    }
    for sample in samples {
      let family = types.keys.first { sample.name == $0 || sample.name.hasPrefix($0 + "_") }
      guard let family else { throw HarnessError("sample \(sample.name) has no TYPE") }
      if types[family] == "histogram", sample.name != family {
        guard ["_bucket", "_sum", "_count"].contains(String(sample.name.dropFirst(family.count))) else {
          throw HarnessError("histogram \(family) has a stray series \(sample.name)")
        }
      }
    }
  }

  static func sample(_ line: String) throws -> Sample {
    var rest = Substring(line)
    let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
    guard !name.isEmpty, name.first?.isNumber == false else { throw HarnessError("bad metric name in: \(line)") }
    rest = rest.dropFirst(name.count)
    var labels: [String: String] = [:]
    if rest.first == "{" {
      guard let close = rest.firstIndex(of: "}") else { throw HarnessError("unclosed labels: \(line)") }
      for pair in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, kv[1].hasPrefix("\""), kv[1].hasSuffix("\""), kv[1].count >= 2 else {
          throw HarnessError("bad label \(pair) in: \(line)")
        }
        labels[String(kv[0])] = String(kv[1].dropFirst().dropLast())
      }
      rest = rest[rest.index(after: close)...]
    }
    let fields = rest.split(separator: " ")
    guard (1...2).contains(fields.count), let value = Double(fields[0]) ?? (fields[0] == "+Inf" ? .infinity : nil) else {
      throw HarnessError("bad value in: \(line)")
    }
    return Sample(name: String(name), labels: labels, value: value)
  }

  func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
    samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
  }
}

@Suite(.serialized) struct MetricsEndpointTests {
  @Test func theEndpointCountsTheRPCsAndPullsTheTestMade() async throws {
    let port = try freePort()
    let socketPath = "/tmp/crio-it-metrics-\(UUID().uuidString.prefix(8)).sock"
    let f = try await ContainerTests.Fixture(
      extraConfig: "[crio.metrics]\nenable_metrics = true\nmetrics_port = \(port)\nmetrics_socket = \"\(socketPath)\"\n")

    try await f.call { connection in
      for _ in 0..<3 { _ = try await connection.runtime.version(Runtime_V1_VersionRequest(), options: connection.options) }
      for _ in 0..<2 {
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = "0123456789abcdef"
        _ = try? await connection.runtime.containerStatus(request, options: connection.options)
      }
      _ = try await connection.runtime.listPodSandbox(Runtime_V1_ListPodSandboxRequest(), options: connection.options)
    }
    // The fixture pulled the image once; a second pull reuses every layer.
    _ = try await f.images.pull("registry.test/test/busybox:1")

    let (status, body) = try httpGet("/metrics", port: port)
    #expect(status == 200)
    let text = try PrometheusText(body)
    let operations = "container_runtime_crio_operations_total"
    #expect(text.types[operations] == "counter")
    #expect(text.value(operations, ["operation": "Version"]) == 3)
    #expect(text.value(operations, ["operation": "ContainerStatus"]) == 2)
    #expect(text.value(operations, ["operation": "ListPodSandbox"]) == 1)
    #expect(text.value(operations, ["operation": "PullImage"]) == 2)
    let errors = "container_runtime_crio_operations_errors_total"
    #expect(text.value(errors, ["operation": "ContainerStatus", "code": "NotFound"]) == 2)
    #expect(text.value(errors, ["operation": "Version"]) == nil)

    let latency = "container_runtime_crio_operations_latency_seconds"
    #expect(text.types[latency] == "histogram")
    #expect(text.value(latency + "_count", ["operation": "Version"]) == 3)
    let buckets = text.samples.filter { $0.name == latency + "_bucket" && $0.labels["operation"] == "Version" }
    #expect(buckets.map(\.value) == buckets.map(\.value).sorted(), "cumulative buckets")
    #expect(buckets.last?.labels["le"] == "+Inf" && buckets.last?.value == 3)
    let sum = try #require(text.value(latency + "_sum", ["operation": "Version"]))
    #expect(sum > 0 && sum < 3, "\(sum) s for three Version calls")

    // Pulls: the layer's compressed bytes once, then a reuse.
    #expect(text.value("container_runtime_crio_image_pulls_bytes_total") == Double(f.image.layers[0].size))
    #expect(text.value("container_runtime_crio_image_layer_reuse_total") == 1)
    #expect(text.value("container_runtime_crio_image_pulls_success_total") == 2)

    // The unix socket serves the same registry; other paths are 404.
    let overSocket = try PrometheusText(try httpGet("/metrics", socketPath: socketPath).body)
    #expect(overSocket.value(operations, ["operation": "Version"]) == 3)
    #expect(try httpGet("/other", port: port).status == 404)

    try await f.images.stop()
    #expect(!FileManager.default.fileExists(atPath: socketPath), "the socket is removed on shutdown")
    #expect(throws: HarnessError.self) { try httpGet("/metrics", port: port) }
  }

  /// A container the OOM killer stops is counted once: not again on later
  /// status calls, and not by a restarted daemon that reads its record back.
  @Test func oomKillsAreCountedOncePerContainer() async throws {
    let port = try freePort()
    let f = try await ContainerTests.Fixture(extraConfig: "[crio.metrics]\nenable_metrics = true\nmetrics_port = \(port)\n")
    let total = "container_runtime_crio_containers_oom_total"
    let byName = "container_runtime_crio_containers_oom_count_total"
    let before = try PrometheusText(try httpGet("/metrics", port: port).body)
    #expect(before.types[total] == "counter")
    #expect(before.value(total) == 0)

    let pod = try await f.runPod("oom")
    let hog = try await f.create(pod, name: "hog", command: ["sh", "-c", "x=a; while true; do x=$x$x; done"]) {
      $0.linux.resources.memoryLimitInBytes = 32 * 1024 * 1024
    }
    let sleeper = try await f.run(pod, name: "sleeper", command: ["sleep", "3600"])
    try await f.start(hog)
    #expect(try await f.waitFor(hog, state: .containerExited).reason == "OOMKilled")
    try await f.stop(sleeper, timeout: 0)
    for _ in 0..<3 {
      _ = try await f.status(hog)
      _ = try await f.call { try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options) }
    }
    let name = "k8s_hog_oom_default_uid-oom_0"
    let after = try PrometheusText(try httpGet("/metrics", port: port).body)
    #expect(after.value(total) == 1)
    #expect(after.value(byName, ["name": name]) == 1)
    #expect(after.samples.filter { $0.name == byName }.count == 1, "the SIGKILLed sleeper is no OOM kill")

    #expect(try await f.images.daemon.stop() == 0)
    f.images.daemon = try await DaemonProcess.started(in: f.dir)
    #expect(try await f.status(hog).reason == "OOMKilled")
    let restarted = try PrometheusText(try httpGet("/metrics", port: port).body)
    #expect(restarted.value(total) == 0, "a recovered record was counted by the daemon that saw the kill")
    #expect(restarted.value(byName, ["name": name]) == nil)

    for id in [hog, sleeper] { try await f.remove(id) }
    try await f.removePod(pod.0)
    try await f.images.stop()
  }

  @Test func metricsAreOffByDefault() async throws {
    let f = try await SandboxFixture()
    #expect(!f.daemon.log.contains("Serving metrics"))
    try await f.stopDaemon()
  }
}
