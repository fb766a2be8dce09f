import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import SPDY

/// The local ends of an exec or attach.
public struct RemoteCommandIO: Sendable {
  /// What to send as stdin; nil for none. Its end half-closes stdin.
  public var stdin: AsyncStream<ByteBuffer>?
  public var stdout: (@Sendable (ByteBuffer) async -> Void)?
  public var stderr: (@Sendable (ByteBuffer) async -> Void)?
  /// Terminal sizes (with a tty).
  public var resize: AsyncStream<StreamTerminalSize>?
  public var tty: Bool

  public init(
    stdin: AsyncStream<ByteBuffer>? = nil, stdout: (@Sendable (ByteBuffer) async -> Void)? = nil,
    stderr: (@Sendable (ByteBuffer) async -> Void)? = nil, resize: AsyncStream<StreamTerminalSize>? = nil,
    tty: Bool = false
  ) {
    self.stdin = stdin
    self.stdout = stdout
    self.stderr = stderr
    self.resize = resize
    self.tty = tty
  }
}

/// A client of the remotecommand protocols (exec and attach), over SPDY
/// (`v4.channel.k8s.io`) or WebSocket (`v5.channel.k8s.io`), as kubectl
/// and crictl speak them.
public enum RemoteCommandClient {
  /// Runs the session to its end and returns the remote exit code (0 for
  /// an attach that ended normally).
  public static func run(
    url: String, transport: StreamTransport, io: RemoteCommandIO,
    group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) async throws -> Int32 {
    let target = try StreamURL(url)
    switch transport {
    case .spdy: return try await runSPDY(target, io: io, group: group)
    case .websocket: return try await runWebSocket(target, io: io, group: group)
    }
  }

  /// The exit code a `metav1.Status` (v4+) error channel reports. v4 and v5
  /// always send one: a connection that ends without it is an error.
  static func exitCode(fromStatus data: Data) throws -> Int32 {
    guard !data.isEmpty else {
      throw StreamClientError.protocolError("the connection ended before the server reported how the command ended")
    }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw StreamClientError.remote(String(decoding: data, as: UTF8.self))
    }
    if object["status"] as? String == "Success" { return 0 }
    if object["reason"] as? String == "NonZeroExitCode",
       let details = object["details"] as? [String: Any], let causes = details["causes"] as? [[String: Any]],
       let cause = causes.first(where: { $0["reason"] as? String == "ExitCode" }),
       let message = cause["message"] as? String, let code = Int32(message)
    {
      return code
    }
    throw StreamClientError.remote(object["message"] as? String ?? String(decoding: data, as: UTF8.self))
  }

  // MARK: SPDY

  static let spdyProtocols = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]

  private static func runSPDY(_ url: StreamURL, io: RemoteCommandIO, group: EventLoopGroup) async throws -> Int32 {
    guard !url.secure else { throw StreamClientError.tlsUnsupported }
    var headers = HTTPHeaders()
    headers.add(name: "Host", value: url.authority)
    for name in spdyProtocols { headers.add(name: "X-Stream-Protocol-Version", value: name) }
    let connection: SPDYConnection
    let response: HTTPResponseHead
    do {
      (connection, response) = try await SPDYClient.connect(
        host: url.host, port: url.port, path: url.path, headers: headers, group: group)
    } catch SPDYError.upgradeRefused(let status, let body) {
      throw StreamClientError.refused("HTTP \(status): \(body.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    let negotiated = response.headers["X-Stream-Protocol-Version"].first ?? "channel.k8s.io"
    func open(_ type: String) async throws -> SPDYStream {
      var headers = SPDYHeaders()
      headers.add(name: "streamType", value: type)
      return try await connection.openStream(headers: headers)
    }
    do {
      let errorStream = try await open("error")
      let stdinStream = io.stdin != nil ? try await open("stdin") : nil
      let stdoutStream = io.stdout != nil ? try await open("stdout") : nil
      let stderrStream = io.stderr != nil && !io.tty ? try await open("stderr") : nil
      let resizeStream = io.tty && negotiated != "channel.k8s.io" && negotiated != "v2.channel.k8s.io"
        ? try await open("resize") : nil

      let inputs = Task {
        await withTaskGroup(of: Void.self) { tasks in
          if let stdin = io.stdin, let stream = stdinStream {
            tasks.addTask {
              do {
                for await chunk in stdin { try await stream.write(chunk) }
                try await stream.finish()
              } catch {}
            }
          }
          if let resize = io.resize, let stream = resizeStream {
            tasks.addTask {
              for await size in resize {
                guard var data = try? JSONEncoder().encode(size) else { continue }
                data.append(UInt8(ascii: "\n"))
                try? await stream.write(ByteBuffer(bytes: data))
              }
            }
          }
        }
      }
      defer { inputs.cancel() }
      async let out: Void = copy(stdoutStream, to: io.stdout)
      async let err: Void = copy(stderrStream, to: io.stderr)
      var status = Data()
      do {
        for try await chunk in errorStream.inbound { status.append(contentsOf: chunk.readableBytesView) }
      } catch {}
      _ = await (out, err)
      await connection.close()
      if negotiated == "v4.channel.k8s.io" { return try exitCode(fromStatus: status) }
      guard status.isEmpty else { throw StreamClientError.remote(String(decoding: status, as: UTF8.self)) }
      return 0
    } catch {
      await connection.close()
      throw error
    }
  }

  private static func copy(_ stream: SPDYStream?, to sink: (@Sendable (ByteBuffer) async -> Void)?) async {
    guard let stream, let sink else { return }
    do {
      for try await chunk in stream.inbound { await sink(chunk) }
    } catch {}
  }

  // MARK: WebSocket

  private static func runWebSocket(_ url: StreamURL, io: RemoteCommandIO, group: EventLoopGroup) async throws -> Int32 {
    let connection = try await WebSocketDial.connect(url, protocols: ["v5.channel.k8s.io"], group: group) { channel in
      try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
    }
    return try await connection.executeThenClose { inbound, outbound in
      let allocator = ByteBufferAllocator()
      @Sendable func send(_ channel: UInt8, _ payload: ByteBuffer) async throws {
        var data = allocator.buffer(capacity: payload.readableBytes + 1)
        data.writeInteger(channel)
        data.writeImmutableBuffer(payload)
        try await outbound.write(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: data))
      }
      let inputs = Task {
        await withTaskGroup(of: Void.self) { tasks in
          if let stdin = io.stdin {
            tasks.addTask {
              do {
                for await chunk in stdin { try await send(0, chunk) }
                // v5: CLOSE of the stdin channel.
                try await outbound.write(
                  WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: [255, 0])))
              } catch {}
            }
          }
          if let resize = io.resize, io.tty {
            tasks.addTask {
              for await size in resize {
                guard let data = try? JSONEncoder().encode(size) else { continue }
                try? await send(4, ByteBuffer(bytes: data))
              }
            }
          }
        }
      }
      defer { inputs.cancel() }
      var status = Data()
      do {
        loop: for try await frame in inbound {
          switch frame.opcode {
          case .binary:
            var data = frame.unmaskedData
            guard let channel = data.readInteger(as: UInt8.self) else { continue }
            switch channel {
            case 1: if data.readableBytes > 0 { await io.stdout?(data) }
            case 2: if data.readableBytes > 0 { await io.stderr?(data) }
            case 3: status.append(contentsOf: data.readableBytesView)
            default: continue
            }
          case .ping:
            try await outbound.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
          case .connectionClose:
            var code = allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            try? await outbound.write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code))
            break loop
          default:
            continue
          }
        }
      } catch {}
      return try exitCode(fromStatus: status)
    }
  }
}
