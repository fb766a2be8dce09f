/// Errors surfaced by the SPDY framing and session layers.
public enum SPDYError: Error, Equatable, CustomStringConvertible {
  /// The stream was reset (RST_STREAM), by the peer or locally, with this status.
  case streamReset(SPDYResetStatus)
  /// The connection is closed (or going away) and the operation cannot proceed.
  case connectionClosed
  /// The server answered the upgrade request with something other than 101.
  case upgradeRefused(status: Int, body: String)
  /// The peer violated the protocol (or sent garbage); the connection is torn down.
  case protocolError(String)
  /// `write` after `finish()`: this side of the stream is already half-closed.
  case streamClosed
  /// `SPDYServerUpgrader`'s `shouldUpgrade` returned nil. NIO's upgrade handler fires this through
  /// the pipeline (errorCaught) and then hands the request to the next HTTP handler.
  case upgradeDeclined

  public var description: String {
    switch self {
    case .streamReset(let status): "SPDY stream reset (\(status))"
    case .connectionClosed: "SPDY connection closed"
    case .upgradeRefused(let status, let body):
      body.isEmpty ? "SPDY upgrade refused: HTTP \(status)" : "SPDY upgrade refused: HTTP \(status): \(body)"
    case .protocolError(let reason): "SPDY protocol error: \(reason)"
    case .streamClosed: "SPDY stream already half-closed for writing"
    case .upgradeDeclined: "SPDY upgrade declined by the server"
    }
  }
}
