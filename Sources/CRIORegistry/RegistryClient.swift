import AsyncHTTPClient
import Crypto
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import OCI
import Synchronization

/// A manifest or index as fetched from a registry.
public struct FetchedManifest: Sendable {
  public var data: Data
  public var mediaType: String
  /// sha256 of `data`: the image's repo digest when it is the top-level document.
  public var digest: OCI.Digest
}

/// A client for the OCI distribution API (Docker Registry HTTP API v2):
/// manifests with content negotiation, blobs streamed to disk and verified,
/// Bearer-token and Basic auth, HTTP only for insecure registries, retries
/// with back-off on transient failures.
public final class RegistryClient: Sendable {
  public static let manifestAccept = [
    MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList,
  ].joined(separator: ", ")
  /// Manifests larger than this are refused (as containers/image does).
  public static let maxManifestSize = 4 * 1024 * 1024

  private let http: HTTPClient
  private let insecureHTTP: HTTPClient
  private let logger: Logger
  private let state = Mutex(State())
  /// Attempts at each request (and at each blob download) before a transient failure is final.
  public let attempts: Int

  private struct State {
    /// Bearer tokens by "registry|scope".
    var tokens: [String: String] = [:]
    /// For registries marked insecure: whether each speaks plain HTTP.
    var plainHTTP: [String: Bool] = [:]
  }

  public init(logger: Logger, attempts: Int = 3) {
    let timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(60))
    http = HTTPClient(
      eventLoopGroupProvider: .singleton,
      configuration: HTTPClient.Configuration(timeout: timeout))
    insecureHTTP = HTTPClient(
      eventLoopGroupProvider: .singleton,
      configuration: HTTPClient.Configuration(certificateVerification: .none, timeout: timeout))
    self.logger = logger
    self.attempts = attempts
  }

  public func shutdown() async throws {
    try await http.shutdown()
    try await insecureHTTP.shutdown()
  }

  /// Fetches the manifest (or index) `reference` names from `source`.
  public func manifest(_ source: PullSource, credentials: RegistryCredentials?) async throws -> FetchedManifest {
    let ref = source.reference
    let object = ref.digest?.description ?? ref.tag ?? ImageReference.defaultTag
    let response = try await send(
      source, path: "/v2/\(ref.path)/manifests/\(object)", accept: Self.manifestAccept, credentials: credentials,
      what: "manifest \(ref)")
    let data = try await collect(response.body, limit: Self.maxManifestSize, what: "manifest \(ref)")
    let digest = Self.sha256(data)
    if let expected = ref.digest, expected != digest {
      throw RegistryError.digestMismatch(what: "manifest \(ref)", expected: expected.description, actual: digest.description)
    }
    let contentType = response.headers.first(name: "content-type")?.split(separator: ";").first
      .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    let mediaType = Self.mediaType(of: data) ?? contentType
    return FetchedManifest(data: data, mediaType: mediaType, digest: digest)
  }

  /// Fetches a small blob (an image config) into memory, verified.
  public func smallBlob(
    _ descriptor: Descriptor, from source: PullSource, credentials: RegistryCredentials?, limit: Int = 16 * 1024 * 1024
  ) async throws -> Data {
    let what = "blob \(descriptor.digest)"
    guard descriptor.size <= limit else { throw RegistryError.tooLarge(what: what, limit: limit) }
    let response = try await send(
      source, path: "/v2/\(source.reference.path)/blobs/\(descriptor.digest)", accept: "*/*",
      credentials: credentials, what: what)
    let data = try await collect(response.body, limit: limit, what: what)
    guard Int64(data.count) == descriptor.size else {
      throw RegistryError.sizeMismatch(what: what, expected: descriptor.size, actual: Int64(data.count))
    }
    let digest = Self.sha256(data)
    guard digest == descriptor.digest else {
      throw RegistryError.digestMismatch(what: what, expected: descriptor.digest.description, actual: digest.description)
    }
    return data
  }

  /// Streams a blob into `path` (created or truncated), verifying its size
  /// and digest as it arrives. On any failure the partial file is deleted.
  /// `progress` is told the bytes received so far. The file is not fsync'd:
  /// a caller that keeps it must sync it (the puller only unpacks it and
  /// deletes it).
  public func downloadBlob(
    _ descriptor: Descriptor, from source: PullSource, credentials: RegistryCredentials?, to path: String,
    progress: (@Sendable (Int64) -> Void)? = nil
  ) async throws {
    let what = "blob \(descriptor.digest)"
    var lastError: (any Error)?
    for attempt in 0..<attempts {
      if attempt > 0 { try await backoff(attempt) }
      do {
        try await downloadOnce(descriptor, from: source, credentials: credentials, to: path, what: what, progress: progress)
        return
      } catch let error as RegistryError where error.isTransient {
        lastError = error
        logger.info("retrying download", metadata: ["blob": "\(descriptor.digest)", "error": "\(error)"])
      } catch {
        unlink(path)
        throw error
      }
    }
    unlink(path)
    throw lastError ?? RegistryError.unreachable(url: what, detail: "no attempt made")
  }

  /// Hands a blob to `sink` chunk by chunk as it arrives, verifying its size
  /// as it goes and its digest at the end: the bytes are trusted only once
  /// this returns. One attempt (the sink consumed the bytes of a failed one):
  /// the caller retries transient failures (`RegistryError.isTransient`).
  /// Errors the sink throws come out unchanged.
  public func streamBlob(
    _ descriptor: Descriptor, from source: PullSource, credentials: RegistryCredentials?,
    to sink: (Data) async throws -> Void
  ) async throws {
    let what = "blob \(descriptor.digest)"
    let response = try await send(
      source, path: "/v2/\(source.reference.path)/blobs/\(descriptor.digest)", accept: "*/*",
      credentials: credentials, what: what)
    var hasher = SHA256()
    var received: Int64 = 0
    var chunks = response.body.makeAsyncIterator()
    while true {
      let next: ByteBuffer?
      do {
        next = try await chunks.next()
      } catch {
        throw RegistryError.unreachable(url: what, detail: "download interrupted: \(error)")
      }
      guard let chunk = next else { break }
      received += Int64(chunk.readableBytes)
      guard received <= descriptor.size else {
        throw RegistryError.sizeMismatch(what: what, expected: descriptor.size, actual: received)
      }
      chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
      try await sink(Data(chunk.readableBytesView))
    }
    guard received == descriptor.size else {
      throw RegistryError.sizeMismatch(what: what, expected: descriptor.size, actual: received)
    }
    let digest = OCI.Digest(sha256: hasher.finalize())
    guard digest == descriptor.digest else {
      throw RegistryError.digestMismatch(what: what, expected: descriptor.digest.description, actual: digest.description)
    }
  }

  private func downloadOnce(
    _ descriptor: Descriptor, from source: PullSource, credentials: RegistryCredentials?, to path: String,
    what: String, progress: (@Sendable (Int64) -> Void)?
  ) async throws {
    let response = try await send(
      source, path: "/v2/\(source.reference.path)/blobs/\(descriptor.digest)", accept: "*/*",
      credentials: credentials, what: what, retry: false)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw RegistryError.unreachable(url: path, detail: "cannot create file: errno \(errno)") }
    var closed = false
    defer { if !closed { close(fd) } }
    var hasher = SHA256()
    var received: Int64 = 0
    do {
      for try await chunk in response.body {
        received += Int64(chunk.readableBytes)
        guard received <= descriptor.size else {
          throw RegistryError.sizeMismatch(what: what, expected: descriptor.size, actual: received)
        }
        try chunk.withUnsafeReadableBytes { bytes in
          hasher.update(bufferPointer: bytes)
          var offset = 0
          while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
              if errno == EINTR { continue }
              throw RegistryError.unreachable(url: path, detail: "write failed: errno \(errno)")
            }
            offset += written
          }
        }
        progress?(received)
      }
    } catch let error as RegistryError {
      throw error
    } catch {
      throw RegistryError.unreachable(url: what, detail: "download interrupted: \(error)")
    }
    guard received == descriptor.size else {
      throw RegistryError.sizeMismatch(what: what, expected: descriptor.size, actual: received)
    }
    let digest = OCI.Digest(sha256: hasher.finalize())
    guard digest == descriptor.digest else {
      throw RegistryError.digestMismatch(what: what, expected: descriptor.digest.description, actual: digest.description)
    }
    closed = true
    close(fd)
  }

  // MARK: requests and auth

  /// GET `path` on the source's registry, authenticating as the registry
  /// asks, retrying transient failures. Returns a 2xx response whose body
  /// is not yet read.
  private func send(
    _ source: PullSource, path: String, accept: String, credentials: RegistryCredentials?, what: String,
    retry: Bool = true
  ) async throws -> HTTPClientResponse {
    var lastError: (any Error)?
    for attempt in 0..<(retry ? attempts : 1) {
      if attempt > 0 { try await backoff(attempt) }
      do {
        return try await sendOnce(source, path: path, accept: accept, credentials: credentials, what: what)
      } catch let error as RegistryError where error.isTransient {
        lastError = error
      }
    }
    throw lastError!
  }

  private func sendOnce(
    _ source: PullSource, path: String, accept: String, credentials: RegistryCredentials?, what: String
  ) async throws -> HTTPClientResponse {
    let registry = source.reference.domain
    let scope = "repository:\(source.reference.path):pull"
    var response = try await get(source, path: path, accept: accept, authorization: authorization(registry, scope, credentials))
    if response.status == .unauthorized {
      let challenges = response.headers["www-authenticate"].compactMap(AuthChallenge.init(header:))
      _ = try? await response.body.collect(upTo: 64 * 1024)
      let header = try await authenticate(
        registry: registry, scope: scope, challenges: challenges, credentials: credentials, source: source)
      response = try await get(source, path: path, accept: accept, authorization: header)
      if response.status == .unauthorized {
        _ = try? await response.body.collect(upTo: 64 * 1024)
        throw RegistryError.unauthorized(registry: registry, detail: "credentials were refused")
      }
    }
    switch response.status.code {
    case 200..<300:
      return response
    case 404:
      _ = try? await response.body.collect(upTo: 64 * 1024)
      throw RegistryError.notFound(what)
    case 403:
      _ = try? await response.body.collect(upTo: 64 * 1024)
      throw RegistryError.unauthorized(registry: registry, detail: "access denied")
    default:
      let body = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
      throw RegistryError.httpStatus(url: what, status: Int(response.status.code), detail: String(body.prefix(200)))
    }
  }

  /// The Authorization header to send before any challenge: a cached token,
  /// a registry token, or Basic credentials.
  private func authorization(_ registry: String, _ scope: String, _ credentials: RegistryCredentials?) -> String? {
    if case .registryToken(let token)? = credentials { return "Bearer \(token)" }
    if let token = state.withLock({ $0.tokens["\(registry)|\(scope)"] }) { return "Bearer \(token)" }
    return nil
  }

  /// Answers a 401: Basic credentials as they are, or a Bearer token from the realm.
  private func authenticate(
    registry: String, scope: String, challenges: [AuthChallenge], credentials: RegistryCredentials?,
    source: PullSource
  ) async throws -> String {
    if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.realm {
      let token = try await fetchToken(
        realm: realm, service: bearer.service, scope: bearer.scope ?? scope, credentials: credentials,
        registry: registry, insecure: source.insecure)
      state.withLock { $0.tokens["\(registry)|\(scope)"] = token }
      return "Bearer \(token)"
    }
    if challenges.contains(where: { $0.scheme == "basic" }) {
      guard let header = credentials?.basicHeader else {
        throw RegistryError.unauthorized(registry: registry, detail: "the registry requires a username and password")
      }
      return header
    }
    throw RegistryError.unauthorized(registry: registry, detail: "no supported authentication challenge")
  }

  private func fetchToken(
    realm: String, service: String?, scope: String, credentials: RegistryCredentials?, registry: String,
    insecure: Bool
  ) async throws -> String {
    guard var components = URLComponents(string: realm), components.scheme == "https" || components.scheme == "http"
    else { throw RegistryError.unauthorized(registry: registry, detail: "invalid token realm") }
    if components.scheme == "http" && !insecure {
      throw RegistryError.unauthorized(registry: registry, detail: "refusing a plain-HTTP token realm for a secure registry")
    }
    var request: HTTPClientRequest
    if case .identityToken(let refreshToken)? = credentials {
      // OAuth2 refresh-token grant, as docker does with identity tokens.
      request = HTTPClientRequest(url: realm)
      request.method = .POST
      var form = URLComponents()
      form.queryItems = [
        URLQueryItem(name: "grant_type", value: "refresh_token"),
        URLQueryItem(name: "refresh_token", value: refreshToken),
        URLQueryItem(name: "service", value: service ?? ""),
        URLQueryItem(name: "scope", value: scope),
        URLQueryItem(name: "client_id", value: "crio"),
      ]
      request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
      request.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
    } else {
      var items = components.queryItems ?? []
      if let service { items.append(URLQueryItem(name: "service", value: service)) }
      items.append(URLQueryItem(name: "scope", value: scope))
      components.queryItems = items
      guard let url = components.string else {
        throw RegistryError.unauthorized(registry: registry, detail: "invalid token realm")
      }
      request = HTTPClientRequest(url: url)
      if let basic = credentials?.basicHeader { request.headers.add(name: "Authorization", value: basic) }
    }
    let client = insecure ? insecureHTTP : http
    let response: HTTPClientResponse
    do {
      response = try await client.execute(request, timeout: .seconds(30), logger: nil)
    } catch {
      throw RegistryError.unreachable(url: "token service of \(registry)", detail: "\(error)")
    }
    let body = try await collect(response.body, limit: 1024 * 1024, what: "token response")
    guard response.status == .ok else {
      throw RegistryError.unauthorized(registry: registry, detail: "token service answered HTTP \(response.status.code)")
    }
    guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
          let token = (object["token"] as? String) ?? (object["access_token"] as? String), !token.isEmpty
    else { throw RegistryError.unauthorized(registry: registry, detail: "token service gave no token") }
    return token
  }

  /// One GET, over HTTPS, or over HTTP for an insecure registry that does not speak TLS.
  private func get(_ source: PullSource, path: String, accept: String, authorization: String?) async throws
    -> HTTPClientResponse
  {
    let host = Self.endpointHost(source.reference.domain)
    var schemes = ["https"]
    if source.insecure {
      schemes = try await insecureSchemes(host)
    }
    var lastError: (any Error)?
    for scheme in schemes {
      var request = HTTPClientRequest(url: "\(scheme)://\(host)\(path)")
      request.headers.add(name: "Accept", value: accept)
      request.headers.add(name: "User-Agent", value: "crio")
      if let authorization { request.headers.add(name: "Authorization", value: authorization) }
      do {
        let response = try await (source.insecure ? insecureHTTP : http).execute(request, timeout: .seconds(60), logger: nil)
        if scheme == "http" { state.withLock { $0.plainHTTP[host] = true } }
        return response
      } catch {
        lastError = error
      }
    }
    throw RegistryError.unreachable(url: "\(host)\(path)", detail: "\(lastError.map { "\($0)" } ?? "unknown error")")
  }

  /// The schemes to try, in order, for an insecure registry: its known
  /// scheme, or what a one-round-trip probe finds, or HTTPS then HTTP.
  private func insecureSchemes(_ host: String) async throws -> [String] {
    if let known = state.withLock({ $0.plainHTTP[host] }) { return known ? ["http"] : ["https"] }
    guard PlainHTTPProbe.split(host) != nil else { return ["https", "http"] }
    let plain = await withCheckedContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(returning: PlainHTTPProbe.speaksPlainHTTP(host)) }
    }
    state.withLock { $0.plainHTTP[host] = plain }
    return plain ? ["http"] : ["https", "http"]
  }

  private func collect(_ body: HTTPClientResponse.Body, limit: Int, what: String) async throws -> Data {
    do {
      let buffer = try await body.collect(upTo: limit)
      return Data(buffer.readableBytesView)
    } catch is NIOTooManyBytesError {
      throw RegistryError.tooLarge(what: what, limit: limit)
    } catch {
      throw RegistryError.unreachable(url: what, detail: "\(error)")
    }
  }

  private func backoff(_ attempt: Int) async throws {
    try await Task.sleep(for: .milliseconds(100 << (attempt - 1)))
  }

  /// Docker Hub's API lives on registry-1.docker.io.
  static func endpointHost(_ domain: String) -> String {
    domain == ImageReference.defaultDomain ? "registry-1.docker.io" : domain
  }

  static func sha256(_ data: Data) -> OCI.Digest {
    OCI.Digest(sha256: SHA256.hash(data: data))
  }

  /// The `mediaType` a manifest declares in its own JSON, if any.
  static func mediaType(of data: Data) -> String? {
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
    if let type = object["mediaType"] as? String { return type }
    if object["manifests"] != nil { return MediaType.ociIndex }
    if object["layers"] != nil { return MediaType.ociManifest }
    return nil
  }
}

extension OCI.Digest {
  /// The digest of a finished SHA-256.
  public init(sha256 digest: SHA256.Digest) {
    let hex = digest.map { String(format: "%02x", $0) }.joined()
    self = try! OCI.Digest(parsing: "sha256:\(hex)")
  }
}
