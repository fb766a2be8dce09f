import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A registry front run by the tests, on 127.0.0.1, in front of a real
/// `RegistryServer`: it can demand Bearer tokens from its own token service
/// (the `WWW-Authenticate: Bearer realm=...` flow of Docker Hub and others),
/// or die in the middle of sending a blob.
public final class RegistryProxy: @unchecked Sendable {
  public enum Mode: Sendable {
    /// Every registry request needs a token; the token service wants these Basic credentials
    /// (nil: anonymous tokens are handed out to anyone).
    case bearer(username: String?, password: String?)
    /// Blob downloads send their headers and this many bytes, then the connection is closed.
    case cutBlobs(afterBytes: Int)
    /// Requests pass through untouched.
    case passThrough
  }

  public let port: Int
  public var host: String { "127.0.0.1:\(port)" }
  private let channel: any Channel
  private let state: NIOLockedValueBox<State>
  private let http = HTTPClient(eventLoopGroupProvider: .singleton)

  struct State {
    var tokens: Set<String> = []
    var tokenRequests = 0
    var mode: Mode
  }

  /// How many times the token service was asked for a token.
  public var tokenRequests: Int { state.withLockedValue { $0.tokenRequests } }

  /// Switches the mode (e.g. stop cutting blobs, so the next pull succeeds).
  public func setMode(_ mode: Mode) { state.withLockedValue { $0.mode = mode } }

  public init(backend: String, mode: Mode) async throws {
    let state = NIOLockedValueBox(State(mode: mode))
    self.state = state
    let http = self.http
    let portBox = NIOLockedValueBox(0)
    channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMap {
          channel.pipeline.addHandler(
            ProxyHandler(backend: backend, http: http, state: state, port: { portBox.withLockedValue { $0 } }))
        }
      }
      .bind(host: "127.0.0.1", port: 0).get()
    port = channel.localAddress?.port ?? 0
    portBox.withLockedValue { $0 = port }
  }

  public func stop() {
    try? channel.close().wait()
    try? http.syncShutdown()
  }
}

private final class ProxyHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  let backend: String
  let http: HTTPClient
  let state: NIOLockedValueBox<RegistryProxy.State>
  let port: @Sendable () -> Int
  var head: HTTPRequestHead?

  init(backend: String, http: HTTPClient, state: NIOLockedValueBox<RegistryProxy.State>, port: @escaping @Sendable () -> Int) {
    self.backend = backend
    self.http = http
    self.state = state
    self.port = port
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head): self.head = head
    case .body: break
    case .end:
      guard let head else { return }
      self.head = nil
      let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
      let eventLoop = context.eventLoop
      Task {
        let reply = await self.respond(to: head)
        eventLoop.execute { self.write(reply, head: head, context: loopBound.value) }
      }
    }
  }

  struct Reply: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: [UInt8]
    /// Close the connection after this many body bytes (a dying registry).
    var cutAfter: Int?
  }

  func respond(to head: HTTPRequestHead) async -> Reply {
    let mode = state.withLockedValue { $0.mode }
    let path = String(head.uri.split(separator: "?").first ?? "")
    if path == "/token" {
      return token(head, mode: mode)
    }
    if case .bearer = mode {
      let authorization = head.headers.first(name: "authorization") ?? ""
      let token = authorization.hasPrefix("Bearer ") ? String(authorization.dropFirst(7)) : ""
      guard state.withLockedValue({ $0.tokens.contains(token) }) else {
        let repository = path.split(separator: "/").dropFirst(1).prefix { $0 != "manifests" && $0 != "blobs" }
          .joined(separator: "/")
        var headers = HTTPHeaders()
        headers.add(
          name: "WWW-Authenticate",
          value: #"Bearer realm="http://127.0.0.1:\#(port())/token",service="crio-test",scope="repository:\#(repository):pull""#)
        return Reply(status: .unauthorized, headers: headers, body: Array(#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.utf8))
      }
    }
    var request = HTTPClientRequest(url: "http://\(backend)\(head.uri)")
    request.method = head.method
    for name in ["accept"] {
      for value in head.headers[name] { request.headers.add(name: name, value: value) }
    }
    do {
      let response = try await http.execute(request, timeout: .seconds(30))
      let body = try await response.body.collect(upTo: 512 * 1024 * 1024)
      var headers = HTTPHeaders()
      for name in ["content-type", "docker-content-digest", "www-authenticate"] {
        for value in response.headers[name] { headers.add(name: name, value: value) }
      }
      var reply = Reply(status: response.status, headers: headers, body: Array(body.readableBytesView))
      if case .cutBlobs(let bytes) = mode, path.contains("/blobs/"), response.status == .ok {
        reply.cutAfter = bytes
      }
      return reply
    } catch {
      return Reply(status: .badGateway, headers: HTTPHeaders(), body: Array("\(error)".utf8))
    }
  }

  func token(_ head: HTTPRequestHead, mode: RegistryProxy.Mode) -> Reply {
    state.withLockedValue { $0.tokenRequests += 1 }
    if case .bearer(let username?, let password?) = mode {
      let expected = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
      guard head.headers.first(name: "authorization") == expected else {
        return Reply(status: .unauthorized, headers: HTTPHeaders(), body: Array(#"{"details":"bad credentials"}"#.utf8))
      }
    }
    let token = "token-\(UUID().uuidString)"
    state.withLockedValue { _ = $0.tokens.insert(token) }
    var headers = HTTPHeaders()
    headers.add(name: "content-type", value: "application/json")
    return Reply(status: .ok, headers: headers, body: Array(#"{"token":"\#(token)","expires_in":300}"#.utf8))
  }

  func write(_ reply: Reply, head: HTTPRequestHead, context: ChannelHandlerContext) {
    var headers = reply.headers
    headers.replaceOrAdd(name: "content-length", value: String(reply.body.count))
    let responseHead = HTTPResponseHead(version: head.version, status: reply.status, headers: headers)
    context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
    if let cut = reply.cutAfter {
      let partial = ByteBuffer(bytes: reply.body.prefix(cut))
      context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(partial))), promise: nil)
      context.close(promise: nil)
      return
    }
    if head.method != .HEAD {
      context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body)))), promise: nil)
    }
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
  }
}
