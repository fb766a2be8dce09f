import CRIAPI
import Foundation
import NIOConcurrencyHelpers

/// What a streaming URL was issued for.
public enum StreamRequest: Sendable {
  case exec(Runtime_V1_ExecRequest)
  case attach(Runtime_V1_AttachRequest)
  case portForward(Runtime_V1_PortForwardRequest)

  /// The URL path's first component.
  public var route: String {
    switch self {
    case .exec: "exec"
    case .attach: "attach"
    case .portForward: "portforward"
    }
  }
}

public enum StreamTokenError: Error, CustomStringConvertible, Equatable {
  case tooManyOutstanding(Int)

  public var description: String {
    switch self {
    case .tooManyOutstanding(let limit):
      "too many outstanding streaming requests (\(limit)); retry later"
    }
  }
}

/// The single-use tokens behind streaming URLs, as Kubernetes' reference
/// server issues them: 8 random URL-safe base64 characters, valid for a
/// minute, at most `limit` outstanding.
public final class StreamTokens: Sendable {
  private struct Entry {
    var request: StreamRequest
    var expires: ContinuousClock.Instant
  }

  private let entries = NIOLockedValueBox<[String: Entry]>([:])
  let lifetime: Duration
  let limit: Int

  public init(lifetime: Duration = .seconds(60), limit: Int = 1000) {
    self.lifetime = lifetime
    self.limit = limit
  }

  /// Stores `request` and returns its new token.
  public func issue(_ request: StreamRequest) throws -> String {
    try entries.withLockedValue { entries in
      let now = ContinuousClock.now
      entries = entries.filter { $0.value.expires > now }
      guard entries.count < limit else { throw StreamTokenError.tooManyOutstanding(limit) }
      var token = Self.randomToken()
      while entries[token] != nil { token = Self.randomToken() }
      entries[token] = Entry(request: request, expires: now + lifetime)
      return token
    }
  }

  /// Takes the request for `token` on `route`, once: an unknown, expired,
  /// used or mis-routed token gives nil.
  public func consume(_ token: String, route: String) -> StreamRequest? {
    entries.withLockedValue { entries in
      guard let entry = entries[token], entry.request.route == route else { return nil }
      entries[token] = nil
      return entry.expires > ContinuousClock.now ? entry.request : nil
    }
  }

  /// Whether `token` would be accepted on `route` (without using it).
  public func isValid(_ token: String, route: String) -> Bool {
    entries.withLockedValue { entries in
      guard let entry = entries[token] else { return false }
      return entry.request.route == route && entry.expires > ContinuousClock.now
    }
  }

  public var outstanding: Int { entries.withLockedValue { $0.count } }

  static func randomToken() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
  }
}
