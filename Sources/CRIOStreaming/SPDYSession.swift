import CRIAPI
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SPDY

/// Serves remotecommand (exec, attach) and port-forward over a SPDY/3.1
/// connection: the client opens one stream per channel, named by its
/// `streamType` header.
enum SPDYSession {
  static func serveRemoteCommand(
    _ connection: SPDYConnection, protocol proto: RemoteCommandProtocol, request: StreamRequest,
    backend: StreamingBackend, group: EventLoopGroup, streamCreationTimeout: Duration, logger: Logger
  ) async {
    let (stdin, stdout, stderr, tty): (Bool, Bool, Bool, Bool) =
      switch request {
      case .exec(let r): (r.stdin, r.stdout, r.stderr, r.tty)
      case .attach(let r): (r.stdin, r.stdout, r.stderr, r.tty)
      case .portForward: (false, false, false, false)
      }
    var expected: Set<String> = ["error"]
    if stdin { expected.insert("stdin") }
    if stdout { expected.insert("stdout") }
    if stderr && !tty { expected.insert("stderr") }
    if tty && proto.supportsResize { expected.insert("resize") }
    guard let streams = await collect(expected, from: connection, timeout: streamCreationTimeout) else {
      logger.info("Streaming client did not open its streams in time", metadata: ["expected": "\(expected.sorted())"])
      await connection.close()
      return
    }
    let error = streams["error"]!
    func sink(_ stream: SPDYStream?) -> OutputSink? {
      guard let stream else { return nil }
      return OutputSink(write: { try await stream.write($0) }, finish: { try? await stream.finish() })
    }
    let remote = RemoteCommandStreams(
      stdin: streams["stdin"].map(inputStream), stdout: sink(streams["stdout"]), stderr: sink(streams["stderr"]),
      resize: streams["resize"].map(resizeStream),
      finish: { outcome in
        if let message = RemoteCommandStatus.encode(outcome, protocol: proto) { try? await error.write(message) }
        try? await error.finish()
        // The client closes once it has read the status (and everything
        // before it); closing first could drop output still in flight.
        let closed = Task { await connection.closed() }
        await RemoteCommandRunner.waitAll([closed], timeout: .seconds(5), untilCancelled: false)
        await connection.close()
      },
      clientGone: { await connection.closed() })
    await RemoteCommandSession.run(request: request, streams: remote, backend: backend, group: group, logger: logger)
  }

  static func servePortForward(
    _ connection: SPDYConnection, request: Runtime_V1_PortForwardRequest, backend: StreamingBackend,
    group: EventLoopGroup, logger: Logger
  ) async {
    let namespace: String?
    do {
      namespace = try await backend.portForwardNamespace(request)
    } catch {
      logger.info("Port-forward refused", metadata: ["error": "\(error)"])
      await connection.close()
      return
    }
    // Each forwarded connection is a pair of streams (data, error) sharing a requestID.
    var pending: [String: (data: SPDYStream?, error: SPDYStream?)] = [:]
    await withTaskGroup(of: Void.self) { tasks in
      for await stream in connection.inboundStreams {
        let type = stream.headers[first: "streamType"] ?? ""
        let id = stream.headers[first: "requestID"] ?? ""
        guard type == "data" || type == "error" else {
          await stream.reset(.protocolError)
          continue
        }
        var pair = pending[id] ?? (nil, nil)
        if type == "data" { pair.data = stream } else { pair.error = stream }
        guard let data = pair.data, let errorStream = pair.error else {
          pending[id] = pair
          continue
        }
        pending[id] = nil
        guard let port = Int32(data.headers[first: "port"] ?? ""), (1...65535).contains(port) else {
          try? await errorStream.write(ByteBuffer(string: "invalid port \(data.headers[first: "port"] ?? "")"))
          try? await errorStream.finish()
          try? await data.finish()
          continue
        }
        tasks.addTask {
          await PortForwarder.forward(
            port: port, networkNamespace: namespace, input: inputStream(data),
            output: OutputSink(write: { try await data.write($0) }, finish: { try? await data.finish() }),
            errors: OutputSink(write: { try await errorStream.write($0) }, finish: { try? await errorStream.finish() }),
            podSandboxID: request.podSandboxID, group: group)
        }
      }
    }
  }

  /// Waits until the client has opened every expected stream; nil on timeout
  /// or when the connection ends first.
  static func collect(_ expected: Set<String>, from connection: SPDYConnection, timeout: Duration) async
    -> [String: SPDYStream]?
  {
    await withTaskGroup(of: [String: SPDYStream]?.self) { tasks in
      tasks.addTask {
        var found: [String: SPDYStream] = [:]
        for await stream in connection.inboundStreams {
          let type = stream.headers[first: "streamType"] ?? ""
          guard expected.contains(type) else {
            await stream.reset(.protocolError)
            continue
          }
          found[type] = stream
          if Set(found.keys) == expected { return found }
        }
        return nil
      }
      tasks.addTask {
        try? await Task.sleep(for: timeout)
        return nil
      }
      let first = await tasks.next() ?? nil
      tasks.cancelAll()
      return first
    }
  }

  /// A stream's data as the runner consumes it (consuming is what grants
  /// the client more window).
  static func inputStream(_ stream: SPDYStream) -> AsyncThrowingStream<ByteBuffer, Error> {
    let iterator = IteratorBox(stream.inbound.makeAsyncIterator())
    return AsyncThrowingStream { try await iterator.next() }
  }

  /// Terminal sizes: JSON objects, one per line.
  static func resizeStream(_ stream: SPDYStream) -> AsyncStream<TerminalSize> {
    AsyncStream { continuation in
      let task = Task {
        var pending = Data()
        do {
          for try await chunk in stream.inbound {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
              let line = pending[pending.startIndex..<newline]
              pending = Data(pending[(newline + 1)...])
              if let size = try? JSONDecoder().decode(TerminalSize.self, from: Data(line)) { continuation.yield(size) }
            }
          }
        } catch {}
        if let size = try? JSONDecoder().decode(TerminalSize.self, from: pending) { continuation.yield(size) }
        continuation.finish()
      }
      continuation.onTermination = { _ in task.cancel() }
    }
  }
}

/// One consumer's iterator, shared with the unfolding stream that drives it.
/// `AsyncThrowingStream(unfolding:)` calls `next()` one at a time, so the
/// iterator is never used concurrently.
private final class IteratorBox<Iterator: AsyncIteratorProtocol>: @unchecked Sendable where Iterator.Element == ByteBuffer {
  private var iterator: Iterator

  init(_ iterator: Iterator) { self.iterator = iterator }

  func next() async throws -> ByteBuffer? { try await iterator.next() }
}
