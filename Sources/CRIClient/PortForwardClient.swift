import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SPDY

/// A port-forward client: connections accepted on a local port are carried
/// to a port inside the pod, each as a pair of SPDY streams (`data`,
/// `error`) with `port` and `requestID` headers; over WebSocket the SPDY
/// connection is tunnelled (`SPDY/3.1+portforward.k8s.io`), as client-go does.
public enum PortForwardClient {
  /// Listens on `localHost:localPort` (0: any free port) and forwards until
  /// cancelled or the connection to the server ends. `ready` gets the bound
  /// port; `onError` gets what the server reports for a connection.
  public static func run(
    url: String, transport: StreamTransport, localHost: String = "127.0.0.1", localPort: Int, remotePort: Int32,
    group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    ready: @escaping @Sendable (Int) -> Void = { _ in }, onError: @escaping @Sendable (String) -> Void = { _ in }
  ) async throws {
    let target = try StreamURL(url)
    let connection = try await connect(target, transport: transport, group: group)
    let listener = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.allowRemoteHalfClosure, value: true)
      .bind(host: localHost, port: localPort) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
      }
    ready(listener.channel.localAddress?.port ?? localPort)
    let requestIDs = NIOLockedValueBox(0)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask {
        await connection.closed()
        throw StreamClientError.refused("the streaming server closed the port-forward connection")
      }
      tasks.addTask {
        try await listener.executeThenClose { accepted in
          try await withThrowingTaskGroup(of: Void.self) { connections in
            for try await local in accepted {
              let id = requestIDs.withLockedValue { value -> Int in
                defer { value += 1 }
                return value
              }
              connections.addTask {
                await forward(local, over: connection, port: remotePort, requestID: id, onError: onError)
              }
            }
          }
        }
      }
      defer { tasks.cancelAll() }
      try await tasks.next()
    }
  }

  static func connect(_ url: StreamURL, transport: StreamTransport, group: EventLoopGroup) async throws -> SPDYConnection {
    switch transport {
    case .spdy:
      guard !url.secure else { throw StreamClientError.tlsUnsupported }
      var headers = HTTPHeaders()
      headers.add(name: "Host", value: url.authority)
      headers.add(name: "X-Stream-Protocol-Version", value: "portforward.k8s.io")
      do {
        return try await SPDYClient.connect(host: url.host, port: url.port, path: url.path, headers: headers, group: group).0
      } catch SPDYError.upgradeRefused(let status, let body) {
        throw StreamClientError.refused("HTTP \(status): \(body)")
      }
    case .websocket:
      return try await WebSocketDial.connect(url, protocols: ["SPDY/3.1+portforward.k8s.io"], group: group) { channel in
        try channel.pipeline.syncOperations.addHandler(WebSocketClientTunnelHandler())
        return try SPDYConnection.configure(on: channel, role: .client)
      }
    }
  }

  private static func forward(
    _ local: NIOAsyncChannel<ByteBuffer, ByteBuffer>, over connection: SPDYConnection, port: Int32, requestID: Int,
    onError: @escaping @Sendable (String) -> Void
  ) async {
    func open(_ type: String) async throws -> SPDYStream {
      var headers = SPDYHeaders()
      headers.add(name: "streamType", value: type)
      headers.add(name: "port", value: String(port))
      headers.add(name: "requestID", value: String(requestID))
      return try await connection.openStream(headers: headers)
    }
    guard let errorStream = try? await open("error"), let data = try? await open("data") else {
      try? await local.channel.close()
      return
    }
    let errors = Task {
      var message = ""
      do {
        for try await chunk in errorStream.inbound { message += String(buffer: chunk) }
      } catch {}
      if !message.isEmpty { onError(message) }
    }
    try? await local.executeThenClose { inbound, outbound in
      await withTaskGroup(of: Bool.self) { tasks in
        tasks.addTask {
          do {
            for try await chunk in inbound { try await data.write(chunk) }
            try await data.finish()
            return false
          } catch {
            await data.reset(.cancel)
            return true
          }
        }
        tasks.addTask {
          do {
            for try await chunk in data.inbound { try await outbound.write(chunk) }
          } catch {}
          outbound.finish()
          return true
        }
        while let done = await tasks.next() {
          if done { break }
        }
        tasks.cancelAll()
      }
    }
    await errors.value
  }
}
