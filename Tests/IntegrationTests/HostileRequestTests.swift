import CRIAPI
import CRIClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// Malformed and hostile requests to every RPC of both CRI services, on the
/// real daemon: each gets the status the CRI contract gives it (bad requests
/// INVALID_ARGUMENT, missing objects NOT_FOUND, unimplemented RPCs
/// UNIMPLEMENTED, idempotent removals OK), and the daemon keeps answering.
@Suite(.serialized) struct HostileRequestTests {
  static let unknownID = String(repeating: "f", count: 64)
  static let traversal = "../../etc"
  static let huge = String(repeating: "x", count: 1 << 20)

  /// "OK" or the status code's name.
  static func outcome<T>(_ call: () async throws -> T) async -> String {
    do {
      _ = try await call()
      return "OK"
    } catch let error as RPCError {
      return "\(error.code)"
    } catch {
      return "not an RPCError: \(error)"
    }
  }

  @Test func everyRPCAnswersHostileRequestsWithTheRightStatus() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    var mismatches: [String] = []
    try await CRIConnection.with(dir.endpoint) { c in
      let r = c.runtime
      let i = c.image
      let o = c.options
      func check<T>(_ label: String, _ expected: Set<String>, _ call: () async throws -> T) async {
        let got = await Self.outcome(call)
        if !expected.contains(got) { mismatches.append("\(label): \(got), expected \(expected.sorted())") }
      }

      // Pod sandboxes.
      // Refused before anything is made, and before the pause image is pulled.
      await check("RunPodSandbox empty", ["invalidArgument"]) { try await r.runPodSandbox(.init(), options: o) }
      func pod(_ change: (inout Runtime_V1_RunPodSandboxRequest) -> Void) -> Runtime_V1_RunPodSandboxRequest {
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config.metadata = .with { $0.name = Self.traversal; $0.namespace = Self.traversal; $0.uid = Self.huge }
        change(&request)
        return request
      }
      let hostilePods: [(String, Runtime_V1_RunPodSandboxRequest)] = [
        ("no name", pod { $0.config.metadata.name = "" }),
        ("no uid", pod { $0.config.metadata.uid = "" }),
        ("unknown handler", pod { $0.runtimeHandler = "../../bin/sh" }),
        ("host sysctl", pod { $0.config.linux.sysctls = ["kernel.panic": "1"] }),
        ("traversing sysctl", pod { $0.config.linux.sysctls = ["net/../../proc/sysrq-trigger": "c"] }),
        ("network namespace of a container", pod { $0.config.linux.securityContext.namespaceOptions.network = .target }),
      ]
      for (label, request) in hostilePods {
        await check("RunPodSandbox \(label)", ["invalidArgument"]) { try await r.runPodSandbox(request, options: o) }
      }
      await check("StopPodSandbox empty", ["invalidArgument"]) { try await r.stopPodSandbox(.init(), options: o) }
      await check("RemovePodSandbox empty", ["invalidArgument"]) { try await r.removePodSandbox(.init(), options: o) }
      for id in [Self.unknownID, Self.traversal, Self.huge] {
        let label = String(id.prefix(16))
        // Stop and remove of what is not there succeed: kubelet retries them (CRI-O does the same).
        await check("StopPodSandbox \(label)", ["OK", "notFound"]) {
          try await r.stopPodSandbox(.with { $0.podSandboxID = id }, options: o)
        }
        await check("RemovePodSandbox \(label)", ["OK", "notFound"]) {
          try await r.removePodSandbox(.with { $0.podSandboxID = id }, options: o)
        }
        await check("PodSandboxStatus \(label)", ["notFound"]) {
          try await r.podSandboxStatus(.with { $0.podSandboxID = id; $0.verbose = true }, options: o)
        }
        await check("PodSandboxStats \(label)", ["notFound"]) {
          try await r.podSandboxStats(.with { $0.podSandboxID = id }, options: o)
        }
        await check("PortForward \(label)", ["notFound", "invalidArgument"]) {
          try await r.portForward(.with { $0.podSandboxID = id; $0.port = [-1, 70000] }, options: o)
        }
        await check("CreateContainer in \(label)", ["notFound"]) {
          try await r.createContainer(
            .with {
              $0.podSandboxID = id
              $0.config.metadata.name = Self.traversal
              $0.config.image.image = "busybox"
            }, options: o)
        }
      }
      await check("PodSandboxStatus empty", ["notFound", "invalidArgument"]) { try await r.podSandboxStatus(.init(), options: o) }
      await check("ListPodSandbox filter", ["OK"]) {
        try await r.listPodSandbox(.with { $0.filter.id = Self.traversal; $0.filter.labelSelector = ["": Self.huge] }, options: o)
      }
      await check("ListPodSandboxStats filter", ["OK"]) {
        try await r.listPodSandboxStats(.with { $0.filter.id = Self.traversal }, options: o)
      }

      // Containers.
      for id in ["", Self.unknownID, Self.traversal, Self.huge] {
        let label = id.isEmpty ? "empty" : String(id.prefix(16))
        await check("StartContainer \(label)", ["notFound", "invalidArgument"]) {
          try await r.startContainer(.with { $0.containerID = id }, options: o)
        }
        await check("StopContainer \(label)", ["OK", "notFound", "invalidArgument"]) {
          try await r.stopContainer(.with { $0.containerID = id; $0.timeout = -5 }, options: o)
        }
        await check("RemoveContainer \(label)", ["OK", "notFound", "invalidArgument"]) {
          try await r.removeContainer(.with { $0.containerID = id }, options: o)
        }
        await check("ContainerStatus \(label)", ["notFound", "invalidArgument"]) {
          try await r.containerStatus(.with { $0.containerID = id; $0.verbose = true }, options: o)
        }
        await check("UpdateContainerResources \(label)", ["notFound", "invalidArgument"]) {
          try await r.updateContainerResources(
            .with {
              $0.containerID = id
              $0.linux.cpuShares = -1
              $0.linux.memoryLimitInBytes = -1
              $0.linux.cpuQuota = .min
            }, options: o)
        }
        await check("ReopenContainerLog \(label)", ["notFound", "invalidArgument"]) {
          try await r.reopenContainerLog(.with { $0.containerID = id }, options: o)
        }
        await check("ExecSync \(label)", ["notFound", "invalidArgument"]) {
          try await r.execSync(.with { $0.containerID = id; $0.cmd = ["true"]; $0.timeout = -1 }, options: o)
        }
        await check("Exec \(label)", ["notFound", "invalidArgument"]) {
          try await r.exec(.with { $0.containerID = id; $0.cmd = ["sh"]; $0.stdout = true }, options: o)
        }
        await check("Attach \(label)", ["notFound", "invalidArgument"]) {
          try await r.attach(.with { $0.containerID = id; $0.stdout = true }, options: o)
        }
        await check("ContainerStats \(label)", ["notFound", "invalidArgument"]) {
          try await r.containerStats(.with { $0.containerID = id }, options: o)
        }
      }
      await check("Exec without a command", ["invalidArgument"]) {
        try await r.exec(.with { $0.containerID = Self.unknownID; $0.stdout = true }, options: o)
      }
      await check("Attach without streams", ["invalidArgument", "notFound"]) {
        try await r.attach(.with { $0.containerID = Self.unknownID }, options: o)
      }
      await check("ListContainers filter", ["OK"]) {
        try await r.listContainers(.with { $0.filter.id = Self.traversal; $0.filter.podSandboxID = Self.huge }, options: o)
      }
      await check("ListContainerStats filter", ["OK"]) {
        try await r.listContainerStats(.with { $0.filter.id = Self.traversal }, options: o)
      }

      // The rest of RuntimeService.
      await check("Version", ["OK"]) { try await r.version(.with { $0.version = Self.huge }, options: o) }
      await check("Status", ["OK"]) { try await r.status(.with { $0.verbose = true }, options: o) }
      await check("RuntimeConfig", ["OK"]) { try await r.runtimeConfig(.init(), options: o) }
      await check("ListMetricDescriptors", ["OK"]) { try await r.listMetricDescriptors(.init(), options: o) }
      await check("ListPodSandboxMetrics", ["OK"]) { try await r.listPodSandboxMetrics(.init(), options: o) }
      await check("UpdateRuntimeConfig", ["invalidArgument"]) {
        try await r.updateRuntimeConfig(.with { $0.runtimeConfig.networkConfig.podCidr = Self.traversal }, options: o)
      }
      await check("CheckpointContainer", ["unimplemented"]) {
        try await r.checkpointContainer(.with { $0.containerID = Self.traversal; $0.location = "/etc/passwd" }, options: o)
      }
      await check("UpdatePodSandboxResources", ["unimplemented"]) {
        try await r.updatePodSandboxResources(.with { $0.podSandboxID = Self.traversal }, options: o)
      }

      // ImageService.
      for name in ["", "NOT a reference!!", Self.traversal, Self.huge, "busybox@sha256:short", "a:b:c:d"] {
        let label = name.isEmpty ? "empty" : String(name.prefix(16))
        await check("PullImage \(label)", ["invalidArgument"]) {
          try await i.pullImage(.with { $0.image.image = name }, options: o)
        }
      }
      for name in ["", Self.traversal, Self.unknownID, "sha256:\(Self.unknownID)", "busybox:never-pulled", Self.huge] {
        let label = name.isEmpty ? "empty" : String(name.prefix(16))
        // An image that is not there is an empty answer for ImageStatus (CRI), and nothing to do for RemoveImage.
        await check("ImageStatus \(label)", name.isEmpty ? ["invalidArgument"] : ["OK", "invalidArgument"]) {
          try await i.imageStatus(.with { $0.image.image = name; $0.verbose = true }, options: o)
        }
        await check("RemoveImage \(label)", name.isEmpty ? ["invalidArgument"] : ["OK", "invalidArgument", "notFound"]) {
          try await i.removeImage(.with { $0.image.image = name }, options: o)
        }
      }
      await check("ListImages filter", ["OK"]) { try await i.listImages(.with { $0.filter.image.image = Self.traversal }, options: o) }
      await check("ImageFsInfo", ["OK"]) { try await i.imageFsInfo(.init(), options: o) }

      // Status messages that quote a huge request are cut short (else they break the connection).
      do {
        _ = try await r.containerStatus(.with { $0.containerID = Self.huge }, options: o)
      } catch let error as RPCError {
        #expect(error.code == .notFound)
        #expect(error.message.utf8.count <= 4096 && error.message.hasSuffix("(truncated)"), "\(error.message.prefix(100))")
      }

      // Still alive.
      let alive = try await r.version(.init(), options: o)
      #expect(alive.runtimeName == "crio")
    }
    #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    #expect(daemon.process.isRunning, "crio died:\n\(daemon.log)")
    #expect(try await daemon.stop() == 0)
  }

  /// Bytes that are not the message the method takes: invalid UTF-8 in a
  /// string field (protobuf refuses it), a truncated field, garbage.
  @Test func undecodableMessagesAreRefusedAndTheDaemonSurvives() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: dir.socket), transportSecurity: .plaintext)
    let cases: [(String, [UInt8])] = [
      ("PodSandboxStatus", [0x0a, 0x02, 0xff, 0xfe]),  // pod_sandbox_id: invalid UTF-8
      ("ContainerStatus", [0x0a, 0x05, 0x61]),  // container_id: length 5, one byte given
      ("Version", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),  // an over-long varint tag
      ("ListContainers", [0x0a, 0x80, 0x80, 0x80, 0x80, 0x08]),  // a field longer than the message
    ]
    var codes: [String: String] = [:]
    try await withGRPCClient(transport: transport) { client in
      for (method, bytes) in cases {
        let descriptor = MethodDescriptor(fullyQualifiedService: "runtime.v1.RuntimeService", method: method)
        do {
          _ = try await client.unary(
            request: ClientRequest(message: bytes), descriptor: descriptor, serializer: RawBytes(),
            deserializer: RawBytes(), options: .defaults
          ) { try $0.message }
          codes[method] = "OK"
        } catch let error as RPCError {
          codes[method] = "\(error.code)"
        }
      }
      // Still serving.
      let version = try await Runtime_V1_RuntimeService.Client(wrapping: client).version(.init())
      #expect(version.runtimeName == "crio")
    }
    #expect(codes == ["PodSandboxStatus": "invalidArgument", "ContainerStatus": "invalidArgument",
                      "Version": "invalidArgument", "ListContainers": "invalidArgument"])
    #expect(try await daemon.stop() == 0)
  }

  /// The streaming server listens on loopback only unless configured otherwise:
  /// no socket of the daemon's listens on a wildcard or outside address.
  @Test func theStreamingServerListensOnLoopbackOnlyByDefault() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let daemon = try await DaemonProcess.started(in: dir)
    // The CRI socket accepts connections from the moment it is bound; an
    // answered RPC means the daemon serves, and it starts streaming before that.
    _ = try await CRIConnection.with(dir.endpoint) { try await $0.runtime.version(.init(), options: $0.options) }
    let listening = try ListeningSockets.of(pid: daemon.process.processIdentifier)
    #expect(!listening.isEmpty, "the streaming server listens on a TCP port")
    for socket in listening {
      #expect(socket.isLoopback, "crio listens on \(socket)")
    }
    #expect(try await daemon.stop() == 0)
  }
}

/// Raw protobuf bytes, serialized and deserialized as they are.
struct RawBytes: MessageSerializer, MessageDeserializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
    serializedMessageBytes.withUnsafeBytes { Array($0) }
  }
}

/// TCP sockets in LISTEN state that belong to a process, from /proc/net/tcp{,6}
/// and the process's descriptors.
struct ListeningSockets {
  struct Socket: CustomStringConvertible {
    var address: [UInt8]
    var port: Int
    var isLoopback: Bool {
      if address.count == 4 { return address[0] == 127 }
      if address == [UInt8](repeating: 0, count: 15) + [1] { return true }
      // ::ffff:127.x.x.x
      return address.prefix(10).allSatisfy { $0 == 0 } && address[10] == 0xff && address[11] == 0xff && address[12] == 127
    }
    var description: String { "\(address.map(String.init).joined(separator: address.count == 4 ? "." : ":")) port \(port)" }
  }

  static func of(pid: Int32) throws -> [Socket] {
    var inodes: Set<String> = []
    let fdDir = "/proc/\(pid)/fd"
    for fd in try FileManager.default.contentsOfDirectory(atPath: fdDir) {
      if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"),
        target.hasPrefix("socket:[")
      {
        inodes.insert(String(target.dropFirst("socket:[".count).dropLast()))
      }
    }
    var sockets: [Socket] = []
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
      let text = try String(contentsOfFile: table, encoding: .utf8)
      for line in text.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) else { continue }
        let local = fields[1].split(separator: ":")
        sockets.append(Socket(address: Self.address(String(local[0])), port: Int(local[1], radix: 16) ?? -1))
      }
    }
    return sockets
  }

  /// /proc/net/tcp addresses: 32-bit words in host (little-endian) order.
  static func address(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 8)
      let word = UInt32(hex[index..<next], radix: 16) ?? 0
      bytes += [UInt8(word & 0xff), UInt8(word >> 8 & 0xff), UInt8(word >> 16 & 0xff), UInt8(word >> 24)]
      index = next
    }
    return bytes
  }
}
