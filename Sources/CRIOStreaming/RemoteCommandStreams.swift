import Foundation
import NIOCore

/// A terminal size sent by the client (JSON `{"Width":w,"Height":h}`).
public struct TerminalSize: Sendable, Equatable, Codable {
  public var width: UInt16
  public var height: UInt16

  public init(width: UInt16, height: UInt16) {
    self.width = width
    self.height = height
  }

  enum CodingKeys: String, CodingKey {
    case width = "Width"
    case height = "Height"
  }
}

/// Where output goes: one of the client's channels.
struct OutputSink: Sendable {
  let write: @Sendable (ByteBuffer) async throws -> Void
  /// Half-closes the channel (no more output).
  let finish: @Sendable () async -> Void
}

/// How an exec or attach ended, as the client's error channel reports it.
enum RemoteCommandOutcome: Sendable, Equatable {
  case success
  case exitCode(Int32)
  case failure(String)
}

/// The client's side of an exec or attach, whatever the transport (SPDY
/// streams or WebSocket channels).
struct RemoteCommandStreams: Sendable {
  /// What the client types; nil when it asked for no stdin.
  var stdin: AsyncThrowingStream<ByteBuffer, Error>?
  var stdout: OutputSink?
  var stderr: OutputSink?
  /// Terminal sizes; nil without a tty or a resize channel.
  var resize: AsyncStream<TerminalSize>?
  /// Reports the outcome on the error channel (in the negotiated protocol's
  /// form) and closes the connection.
  var finish: @Sendable (RemoteCommandOutcome) async -> Void
  /// Returns once the client has gone (connection closed).
  var clientGone: @Sendable () async -> Void
}

/// The remotecommand subprotocols, newest first.
enum RemoteCommandProtocol: String, Sendable, CaseIterable {
  case v5 = "v5.channel.k8s.io"
  case v4 = "v4.channel.k8s.io"
  case v3 = "v3.channel.k8s.io"
  case v2 = "v2.channel.k8s.io"
  case v1 = "channel.k8s.io"

  /// Whether the error channel carries a `metav1.Status` JSON (v4 and v5)
  /// rather than plain error text.
  var reportsStatus: Bool { self == .v4 || self == .v5 }

  /// Whether a resize channel exists (v3 and later).
  var supportsResize: Bool { self != .v1 && self != .v2 }

  /// The SPDY protocols crio serves, newest first (v5 is WebSocket only).
  static let spdy: [RemoteCommandProtocol] = [.v4, .v3, .v2, .v1]

  static let portForward = "portforward.k8s.io"
}

/// `metav1.Status` as the v4+ error channel carries it.
enum RemoteCommandStatus {
  static func json(_ outcome: RemoteCommandOutcome) -> ByteBuffer {
    let object: [String: Any]
    switch outcome {
    case .success:
      object = ["metadata": [String: Any](), "status": "Success"]
    case .exitCode(let code):
      object = [
        "metadata": [String: Any](), "status": "Failure",
        "message": "command terminated with non-zero exit code: exit status \(code)",
        "reason": "NonZeroExitCode",
        "details": ["causes": [["reason": "ExitCode", "message": "\(code)"]]],
      ]
    case .failure(let message):
      object = [
        "metadata": [String: Any](), "status": "Failure", "message": message, "reason": "InternalError",
        "details": ["causes": [["message": message]]], "code": 500,
      ]
    }
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return ByteBuffer(bytes: data)
  }

  /// The pre-v4 form: the error text, nothing on success.
  static func text(_ outcome: RemoteCommandOutcome) -> ByteBuffer? {
    switch outcome {
    case .success: nil
    case .exitCode(let code): ByteBuffer(string: "command terminated with non-zero exit code: exit status \(code)")
    case .failure(let message): ByteBuffer(string: message)
    }
  }

  static func encode(_ outcome: RemoteCommandOutcome, protocol: RemoteCommandProtocol) -> ByteBuffer? {
    `protocol`.reportsStatus ? json(outcome) : text(outcome)
  }
}
