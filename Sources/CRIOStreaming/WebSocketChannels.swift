import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// Kubernetes' WebSocket channel protocol (`channel.k8s.io` family): every
/// message starts with its channel number (0 stdin, 1 stdout, 2 stderr,
/// 3 error, 4 resize); the `base64.` variants send text messages whose
/// first character is the channel digit and whose rest is base64; v5 adds
/// CLOSE (`255, channel`) to end one channel.
struct WebSocketChannelProtocol: Sendable, Equatable {
  static let stdin: UInt8 = 0
  static let stdout: UInt8 = 1
  static let stderr: UInt8 = 2
  static let error: UInt8 = 3
  static let resize: UInt8 = 4
  static let close: UInt8 = 255

  /// The subprotocol's name as negotiated ("" when the client asked for none).
  var name: String
  var base64: Bool
  var version: RemoteCommandProtocol

  /// The remotecommand subprotocols crio accepts, by name.
  static let supported: [String: WebSocketChannelProtocol] = {
    var table: [String: WebSocketChannelProtocol] = [:]
    for (name, base64, version) in [
      ("v5.channel.k8s.io", false, RemoteCommandProtocol.v5),
      ("v4.channel.k8s.io", false, .v4), ("v4.base64.channel.k8s.io", true, .v4),
      ("channel.k8s.io", false, .v1), ("base64.channel.k8s.io", true, .v1),
    ] {
      table[name] = WebSocketChannelProtocol(name: name, base64: base64, version: version)
    }
    return table
  }()

  /// The first of the client's protocols (in its order) crio supports; the
  /// legacy binary protocol when the client offered none; nil when it
  /// offered only unknown ones.
  static func negotiate(_ offered: [String]) -> WebSocketChannelProtocol? {
    if offered.isEmpty { return WebSocketChannelProtocol(name: "", base64: false, version: .v1) }
    return offered.lazy.compactMap { supported[$0] }.first
  }

  /// A message for `channel`.
  func frame(channel: UInt8, payload: ByteBuffer, allocator: ByteBufferAllocator) -> WebSocketFrame {
    var data = allocator.buffer(capacity: payload.readableBytes + 1)
    if base64 {
      data.writeString(String(channel))
      data.writeString(Data(payload.readableBytesView).base64EncodedString())
      return WebSocketFrame(fin: true, opcode: .text, data: data)
    }
    data.writeInteger(channel)
    data.writeImmutableBuffer(payload)
    return WebSocketFrame(fin: true, opcode: .binary, data: data)
  }

  /// The channel and payload of a client message; nil for an empty or
  /// malformed one.
  func parse(_ frame: WebSocketFrame) -> (channel: UInt8, payload: ByteBuffer)? {
    var data = frame.unmaskedData
    if base64 {
      guard let text = data.readString(length: data.readableBytes), let first = text.first,
            let channel = first.wholeNumberValue
      else { return nil }
      guard let decoded = Data(base64Encoded: String(text.dropFirst())) else { return nil }
      return (UInt8(channel), ByteBuffer(bytes: decoded))
    }
    guard let channel = data.readInteger(as: UInt8.self) else { return nil }
    return (channel, data)
  }
}

/// Splits a client's channel messages into stdin and resize streams.
final class WebSocketInboundRouter: Sendable {
  let stdin: AsyncThrowingStream<ByteBuffer, Error>
  let resize: AsyncStream<TerminalSize>
  private let stdinContinuation: AsyncThrowingStream<ByteBuffer, Error>.Continuation
  private let resizeContinuation: AsyncStream<TerminalSize>.Continuation

  init() {
    (stdin, stdinContinuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .unbounded)
    (resize, resizeContinuation) = AsyncStream.makeStream(of: TerminalSize.self, bufferingPolicy: .bufferingNewest(4))
  }

  func route(channel: UInt8, payload: ByteBuffer, protocol proto: WebSocketChannelProtocol) {
    switch channel {
    case WebSocketChannelProtocol.stdin:
      if payload.readableBytes > 0 { stdinContinuation.yield(payload) }
    case WebSocketChannelProtocol.resize:
      if let size = try? JSONDecoder().decode(TerminalSize.self, from: Data(payload.readableBytesView)) {
        resizeContinuation.yield(size)
      }
    case WebSocketChannelProtocol.close where proto.version == .v5:
      var payload = payload
      if payload.readInteger(as: UInt8.self) == WebSocketChannelProtocol.stdin { stdinContinuation.finish() }
    default:
      break
    }
  }

  func finish() {
    stdinContinuation.finish()
    resizeContinuation.finish()
  }
}
