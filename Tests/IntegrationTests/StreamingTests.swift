import CRIAPI
import CRIClient
import CRIOTestSupport
import Dispatch
import Foundation
import GRPCCore
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// Exec, attach and port-forward through the real daemon's streaming
/// server, over SPDY/3.1 and over WebSocket, with crio's own clients.
@Suite(.serialized) struct StreamingTests {
  typealias Fixture = ContainerTests.Fixture

  /// Collects what a stream writes.
  final class Sink: Sendable {
    private let data = NIOLockedValueBox(Data())
    var text: String { String(decoding: data.withLockedValue { $0 }, as: UTF8.self) }
    var write: @Sendable (ByteBuffer) async -> Void {
      { [data] chunk in data.withLockedValue { $0.append(contentsOf: chunk.readableBytesView) } }
    }
  }

  static func url(_ f: Fixture, exec id: String, _ cmd: [String], stdin: Bool = false, tty: Bool = false) async throws -> String {
    try await f.call {
      var request = Runtime_V1_ExecRequest()
      request.containerID = id
      request.cmd = cmd
      request.stdin = stdin
      request.stdout = true
      request.stderr = !tty
      request.tty = tty
      return try await $0.runtime.exec(request, options: $0.options).url
    }
  }

  static func exec(
    _ f: Fixture, _ id: String, _ cmd: [String], transport: StreamTransport, stdin: [String]? = nil, tty: Bool = false,
    resize: StreamTerminalSize? = nil
  ) async throws -> (code: Int32, out: String, err: String) {
    let url = try await url(f, exec: id, cmd, stdin: stdin != nil, tty: tty)
    let (out, err) = (Sink(), Sink())
    let input = stdin.map { chunks in
      AsyncStream<ByteBuffer> { continuation in
        for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
        continuation.finish()
      }
    }
    let sizes = resize.map { size in AsyncStream<StreamTerminalSize> { $0.yield(size) } }
    let code = try await RemoteCommandClient.run(
      url: url, transport: transport,
      io: RemoteCommandIO(stdin: input, stdout: out.write, stderr: tty ? nil : err.write, resize: sizes, tty: tty))
    return (code, out.text, err.text)
  }

  func runningContainer(_ f: Fixture, name: String, command: [String], stdin: Bool = false, tty: Bool = false) async throws
    -> (pod: (String, Runtime_V1_PodSandboxConfig), id: String)
  {
    let pod = try await f.runPod(name)
    let id = try await f.call {
      var request = Runtime_V1_CreateContainerRequest()
      request.podSandboxID = pod.0
      request.sandboxConfig = pod.1
      request.config.metadata.name = name
      request.config.image.image = "registry.test/test/busybox:1"
      request.config.command = command
      request.config.stdin = stdin
      request.config.tty = tty
      request.config.logPath = "\(name).log"
      return try await $0.runtime.createContainer(request, options: $0.options).containerID
    }
    try await f.start(id)
    _ = try await f.waitFor(id, state: .containerRunning)
    return (pod, id)
  }

  func tearDown(_ f: Fixture, pod: String) async throws {
    try await f.call {
      var stop = Runtime_V1_StopPodSandboxRequest()
      stop.podSandboxID = pod
      _ = try await $0.runtime.stopPodSandbox(stop, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = pod
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }

  @Test(arguments: StreamTransport.allCases)
  func execWithAndWithoutTerminal(transport: StreamTransport) async throws {
    let f = try await Fixture()
    let (pod, id) = try await runningContainer(f, name: "exec-\(transport)", command: ["sleep", "3600"])

    let plain = try await Self.exec(f, id, ["sh", "-c", "echo out; echo err >&2; exit 3"], transport: transport)
    #expect(plain.code == 3)
    #expect(plain.out == "out\n")
    #expect(plain.err == "err\n")

    let piped = try await Self.exec(f, id, ["sh", "-c", "cat; echo done"], transport: transport, stdin: ["hello\n", "world\n"])
    #expect(piped.code == 0)
    #expect(piped.out == "hello\nworld\ndone\n", "stdin reaches the process and its end closes it")

    // A terminal: the process sees a tty of the size the client sent.
    let script = "for i in $(seq 50); do s=$(stty size); [ \"$s\" = '40 120' ] && break; sleep 0.1; done; echo size=$s; tty; exit 5"
    let terminal = try await Self.exec(
      f, id, ["sh", "-c", script], transport: transport, tty: true, resize: StreamTerminalSize(width: 120, height: 40))
    #expect(terminal.code == 5)
    #expect(terminal.out.contains("size=40 120"), "\(terminal.out)")
    #expect(terminal.out.contains("/dev/pts/"), "\(terminal.out)")
    #expect(terminal.out.contains("\r\n"), "output went through a terminal")

    // Bad requests are refused by the RPC.
    let both = await #expect(throws: RPCError.self) {
      try await f.call {
        var request = Runtime_V1_ExecRequest()
        request.containerID = id
        request.cmd = ["true"]
        request.tty = true
        request.stderr = true
        return try await $0.runtime.exec(request, options: $0.options)
      }
    }
    #expect(both?.code == .invalidArgument)
    let unknown = await #expect(throws: RPCError.self) { try await Self.url(f, exec: "nonexistent", ["true"]) }
    #expect(unknown?.code == .notFound)
    try await tearDown(f, pod: pod.0)
  }

  @Test(arguments: StreamTransport.allCases)
  func attachSendsStdinAndDetachingKeepsTheContainer(transport: StreamTransport) async throws {
    let f = try await Fixture()
    let (pod, id) = try await runningContainer(f, name: "attach-\(transport)", command: ["sh"], stdin: true)
    for round in 1...2 {
      let url = try await f.call {
        var request = Runtime_V1_AttachRequest()
        request.containerID = id
        request.stdin = true
        request.stdout = true
        request.stderr = true
        return try await $0.runtime.attach(request, options: $0.options).url
      }
      let out = Sink()
      let (input, typing) = AsyncStream.makeStream(of: ByteBuffer.self)
      let session = Task {
        try await RemoteCommandClient.run(
          url: url, transport: transport, io: RemoteCommandIO(stdin: input, stdout: out.write, stderr: out.write))
      }
      typing.yield(ByteBuffer(string: "echo attached-\(round)\n"))
      for _ in 0..<200 where !out.text.contains("attached-\(round)") { try await Task.sleep(for: .milliseconds(25)) }
      #expect(out.text.contains("attached-\(round)"), "\(out.text)")
      if round == 1 {
        // Detach by leaving: the client goes away, the container stays.
        session.cancel()
        _ = try? await session.value
      } else {
        // Detach by ending stdin (no stdin_once): the session ends cleanly.
        typing.finish()
        #expect(try await session.value == 0)
      }
      try await Task.sleep(for: .milliseconds(200))
      #expect(try await f.status(id).state == .containerRunning)
    }
    try await tearDown(f, pod: pod.0)
  }

  @Test(arguments: StreamTransport.allCases)
  func attachToATerminalFollowsResizes(transport: StreamTransport) async throws {
    let f = try await Fixture()
    let (pod, id) = try await runningContainer(f, name: "tty-\(transport)", command: ["sh"], stdin: true, tty: true)
    let url = try await f.call {
      var request = Runtime_V1_AttachRequest()
      request.containerID = id
      request.stdin = true
      request.stdout = true
      request.tty = true
      return try await $0.runtime.attach(request, options: $0.options).url
    }
    let out = Sink()
    let (input, typing) = AsyncStream.makeStream(of: ByteBuffer.self)
    let (sizes, resizing) = AsyncStream.makeStream(of: StreamTerminalSize.self)
    let session = Task {
      try await RemoteCommandClient.run(
        url: url, transport: transport, io: RemoteCommandIO(stdin: input, stdout: out.write, resize: sizes, tty: true))
    }
    resizing.yield(StreamTerminalSize(width: 132, height: 43))
    // conmon applies the size through the ctl fifo; the shell reads it.
    typing.yield(ByteBuffer(string: "for i in $(seq 50); do s=$(stty size); [ \"$s\" = '43 132' ] && break; sleep 0.1; done; echo \"size=$s\"\n"))
    for _ in 0..<300 where !out.text.contains("size=43 132") { try await Task.sleep(for: .milliseconds(25)) }
    #expect(out.text.contains("size=43 132"), "\(out.text)")
    session.cancel()
    _ = try? await session.value
    try await Task.sleep(for: .milliseconds(200))
    #expect(try await f.status(id).state == .containerRunning, "detaching leaves the container running")
    try await tearDown(f, pod: pod.0)
  }

  @Test(arguments: StreamTransport.allCases)
  func portForwardReachesAServerInsideThePod(transport: StreamTransport) async throws {
    let f = try await Fixture()
    let (pod, _) = try await runningContainer(
      f, name: "web-\(transport)",
      command: ["sh", "-c", "mkdir -p /www && echo forwarded-page > /www/index.html && exec httpd -f -p 8080 -h /www"])
    let url = try await f.call {
      var request = Runtime_V1_PortForwardRequest()
      request.podSandboxID = pod.0
      request.port = [8080]
      return try await $0.runtime.portForward(request, options: $0.options).url
    }
    let (ports, announce) = AsyncStream.makeStream(of: Int.self)
    let errors = Sink()
    let forwarder = Task {
      try await PortForwardClient.run(
        url: url, transport: transport, localPort: 0, remotePort: 8080, ready: { announce.yield($0) },
        onError: { message in Task { await errors.write(ByteBuffer(string: message)) } })
    }
    var iterator = ports.makeAsyncIterator()
    let local = try #require(await iterator.next())
    for _ in 1...2 {
      var page = ""
      for _ in 0..<50 where !page.contains("forwarded-page") {
        page = (try? await Self.httpGet(port: local)) ?? ""
        if !page.contains("forwarded-page") { try await Task.sleep(for: .milliseconds(100)) }
      }
      #expect(page.contains("forwarded-page"), "\(page)")
    }
    forwarder.cancel()
    _ = try? await forwarder.value

    // Nothing listens on that port: the client hears why.
    let closedURL = try await f.call {
      var request = Runtime_V1_PortForwardRequest()
      request.podSandboxID = pod.0
      return try await $0.runtime.portForward(request, options: $0.options).url
    }
    let (closedPorts, announceClosed) = AsyncStream.makeStream(of: Int.self)
    let refused = Sink()
    let second = Task {
      try await PortForwardClient.run(
        url: closedURL, transport: transport, localPort: 0, remotePort: 8081, ready: { announceClosed.yield($0) },
        onError: { message in Task { await refused.write(ByteBuffer(string: message)) } })
    }
    var closedIterator = closedPorts.makeAsyncIterator()
    let closedLocal = try #require(await closedIterator.next())
    _ = try? await Self.httpGet(port: closedLocal)
    for _ in 0..<100 where refused.text.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
    #expect(refused.text.contains("8081"), "\(refused.text)")
    second.cancel()
    _ = try? await second.value
    try await tearDown(f, pod: pod.0)
  }

  @Test func tokensAreSingleUseAndAClientThatLeavesKillsItsProcess() async throws {
    let f = try await Fixture()
    let (pod, id) = try await runningContainer(f, name: "tokens", command: ["sleep", "3600"])
    let url = try await Self.url(f, exec: id, ["true"])
    #expect(try await RemoteCommandClient.run(url: url, transport: .spdy, io: RemoteCommandIO(stdout: Sink().write, stderr: Sink().write)) == 0)
    for transport in StreamTransport.allCases {
      let reused = await #expect(throws: StreamClientError.self) {
        try await RemoteCommandClient.run(url: url, transport: transport, io: RemoteCommandIO(stdout: Sink().write, stderr: Sink().write))
      }
      #expect(reused != nil)
    }
    let forged = url.replacingOccurrences(of: "/exec/", with: "/exec/x")
    let refused = await #expect(throws: StreamClientError.self) {
      try await RemoteCommandClient.run(url: forged, transport: .spdy, io: RemoteCommandIO(stdout: Sink().write, stderr: Sink().write))
    }
    #expect("\(String(describing: refused))".contains("404"), "\(String(describing: refused))")

    // A client that goes away takes its process with it.
    for (transport, marker) in [(StreamTransport.spdy, "1001"), (.websocket, "1002")] {
      let sleeper = try await Self.url(f, exec: id, ["sleep", marker])
      let session = Task {
        try await RemoteCommandClient.run(url: sleeper, transport: transport, io: RemoteCommandIO(stdout: Sink().write, stderr: Sink().write))
      }
      var seen = false
      for _ in 0..<100 where !seen {
        seen = String(decoding: try await f.execSync(id, ["ps"], timeout: 10).stdout, as: UTF8.self).contains("sleep \(marker)")
        if !seen { try await Task.sleep(for: .milliseconds(50)) }
      }
      #expect(seen)
      session.cancel()
      _ = try? await session.value
      var gone = false
      for _ in 0..<100 where !gone {
        gone = !String(decoding: try await f.execSync(id, ["ps"], timeout: 10).stdout, as: UTF8.self).contains("sleep \(marker)")
        if !gone { try await Task.sleep(for: .milliseconds(50)) }
      }
      #expect(gone, "the exec'd process of a vanished \(transport) client is killed")
    }
    try await tearDown(f, pod: pod.0)
  }

  @Test(arguments: StreamTransport.allCases)
  func aClientThatStopsReadingWedgesNothing(transport: StreamTransport) async throws {
    let f = try await Fixture()
    let (pod, id) = try await runningContainer(f, name: "slow-\(transport)", command: ["sleep", "3600"])
    let url = try await Self.url(f, exec: id, ["sh", "-c", "while true; do echo 0123456789abcdefghijklmnopqrstuvwxyz; done"])
    let received = NIOLockedValueBox(0)
    let session = Task {
      try await RemoteCommandClient.run(
        url: url, transport: transport,
        io: RemoteCommandIO(
          stdout: { chunk in
            received.withLockedValue { $0 += chunk.readableBytes }
            // A reader that stops: it never returns from its first read.
            try? await Task.sleep(for: .seconds(3600))
          }, stderr: Sink().write))
    }
    try await Task.sleep(for: .seconds(1))
    // The daemon and the container still answer while the writer is stuck.
    let status = try await f.status(id)
    #expect(status.state == .containerRunning)
    let echo = try await f.execSync(id, ["echo", "alive"], timeout: 10)
    #expect(String(decoding: echo.stdout, as: UTF8.self) == "alive\n")
    session.cancel()
    _ = try? await session.value
    var gone = false
    for _ in 0..<100 where !gone {
      gone = !String(decoding: try await f.execSync(id, ["ps"], timeout: 10).stdout, as: UTF8.self).contains("while true")
      if !gone { try await Task.sleep(for: .milliseconds(50)) }
    }
    #expect(gone, "the writer's shell is killed once the client is gone")
    #expect(received.withLockedValue { $0 } > 0)
    try await tearDown(f, pod: pod.0)
  }

  /// A plain HTTP/1.0 GET to `host`:`port`, read to the end.
  static func httpGet(port: Int, host: String = "127.0.0.1") async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return continuation.resume(throwing: HarnessError("socket failed")) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return continuation.resume(throwing: HarnessError("connect failed")) }
        let request = Array("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
          let n = read(fd, &buffer, buffer.count)
          if n <= 0 { break }
          response.append(contentsOf: buffer[0..<n])
        }
        continuation.resume(returning: String(decoding: response, as: UTF8.self))
      }
    }
  }
}
