import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// How a test layer is compressed in the registry.
public enum TestLayerCompression: Sendable {
  case gzip, zstd, none

  public var mediaType: String {
    switch self {
    case .gzip: "application/vnd.oci.image.layer.v1.tar+gzip"
    case .zstd: "application/vnd.oci.image.layer.v1.tar+zstd"
    case .none: "application/vnd.oci.image.layer.v1.tar"
    }
  }
}

/// A blob ready to push: bytes and their digest.
public struct Blob: Sendable {
  public let bytes: [UInt8]
  public let mediaType: String
  public var digest: String { sha256(bytes) }
  public var size: Int { bytes.count }

  public init(bytes: [UInt8], mediaType: String) {
    self.bytes = bytes
    self.mediaType = mediaType
  }

  var descriptorJSON: [String: Any] { ["mediaType": mediaType, "digest": digest, "size": size] }
}

/// A small OCI image built in memory, reproducibly: fixed timestamps, fixed
/// owners, compressed without names or times.
public struct TestImage: Sendable {
  public let layers: [Blob]
  /// sha256 of each uncompressed layer.
  public let diffIDs: [String]
  public let config: Blob
  public let manifest: Blob

  /// The image ID crio reports: the config digest's hex.
  public var id: String { String(config.digest.dropFirst("sha256:".count)) }

  /// Builds an image from uncompressed layer tars.
  public init(
    layerTars: [[UInt8]], compression: [TestLayerCompression]? = nil, user: String = "",
    cmd: [String] = ["sh"], architecture: String = "amd64", label: String = ""
  ) throws {
    var layers: [Blob] = []
    for (i, tar) in layerTars.enumerated() {
      let kind = compression?[i] ?? .gzip
      layers.append(Blob(bytes: try compress(tar, kind), mediaType: kind.mediaType))
    }
    diffIDs = layerTars.map(sha256)
    var execution: [String: Any] = ["Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd]
    if !user.isEmpty { execution["User"] = user }
    if !label.isEmpty { execution["Labels"] = ["test": label] }
    let configObject: [String: Any] = [
      "created": "2024-01-01T00:00:00Z", "architecture": architecture, "os": "linux", "config": execution,
      "rootfs": ["type": "layers", "diff_ids": diffIDs],
    ]
    config = Blob(bytes: try canonicalJSON(configObject), mediaType: "application/vnd.oci.image.config.v1+json")
    let manifestObject: [String: Any] = [
      "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": config.descriptorJSON, "layers": layers.map(\.descriptorJSON),
    ]
    manifest = Blob(bytes: try canonicalJSON(manifestObject), mediaType: "application/vnd.oci.image.manifest.v1+json")
    self.layers = layers
  }

  /// A busybox image: the host's busybox-static with applets as hard links,
  /// /etc/passwd and /etc/group, and `extra` files.
  public static func busybox(
    extraFiles: [String: String] = [:], user: String = "", compression: TestLayerCompression = .gzip, label: String = ""
  ) throws -> TestImage {
    try TestImage(layerTars: [try busyboxLayer(extraFiles: extraFiles)], compression: [compression], user: user, label: label)
  }

  /// The base layer of `busybox`.
  public static func busyboxLayer(extraFiles: [String: String] = [:]) throws -> [UInt8] {
    let busybox = "/bin/busybox"
    guard let binary = FileManager.default.contents(atPath: busybox), isStatic(busybox) else {
      throw RegistryServer.SetupError(description: "\(busybox) (static) is missing: run `make deps` (busybox-static)")
    }
    var tar = TarWriter()
    for dir in ["bin", "etc", "tmp", "var", "root", "home"] {
      tar.directory(dir, mode: dir == "tmp" ? 0o1777 : 0o755)
    }
    tar.add(TarWriter.Entry(name: "bin/busybox", kind: .file, content: Array(binary), mode: 0o755))
    for applet in ["sh", "ls", "cat", "echo", "sleep", "id", "true", "false", "env", "ps", "top", "wc", "head", "touch", "mkdir", "rm"] {
      tar.hardLink("bin/\(applet)", to: "bin/busybox")
    }
    tar.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
    tar.file("etc/group", "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n")
    for (path, content) in extraFiles.sorted(by: { $0.key < $1.key }) {
      tar.file(path, content)
    }
    return tar.archive
  }

  static func isStatic(_ path: String) -> Bool {
    (try? run("/usr/bin/file", ["-L", path]).output.contains("statically linked")) ?? true
  }

  /// Pushes the blobs and the manifest as `repository:tag` (or by digest when `tag` is nil).
  public func push(to registry: String, repository: String, tag: String?, auth: (String, String)? = nil) async throws {
    let client = Pusher(registry: registry, auth: auth)
    defer { client.shutdown() }
    for blob in layers + [config] {
      try await client.pushBlob(blob, repository: repository)
    }
    try await client.pushManifest(manifest, repository: repository, reference: tag ?? manifest.digest)
  }
}

/// A multi-platform index over images already pushed by digest.
public struct TestIndex: Sendable {
  public let index: Blob

  public init(_ entries: [(image: TestImage, architecture: String, variant: String?)]) throws {
    let manifests: [[String: Any]] = entries.map { entry in
      var platform: [String: Any] = ["os": "linux", "architecture": entry.architecture]
      if let variant = entry.variant { platform["variant"] = variant }
      var descriptor = entry.image.manifest.descriptorJSON
      descriptor["platform"] = platform
      return descriptor
    }
    index = Blob(
      bytes: try canonicalJSON([
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests,
      ]), mediaType: "application/vnd.oci.image.index.v1+json")
  }

  public func push(to registry: String, repository: String, tag: String) async throws {
    let client = Pusher(registry: registry, auth: nil)
    defer { client.shutdown() }
    try await client.pushManifest(index, repository: repository, reference: tag)
  }
}

/// Pushes a hand-made manifest (or index) as `repository:reference`.
public func pushManifest(_ manifest: Blob, to registry: String, repository: String, reference: String) async throws {
  let client = Pusher(registry: registry, auth: nil)
  defer { client.shutdown() }
  try await client.pushManifest(manifest, repository: repository, reference: reference)
}

/// The Distribution API's push side, enough for tests: monolithic blob uploads and manifest PUTs.
final class Pusher: Sendable {
  let registry: String
  let authorization: String?
  let http = HTTPClient(eventLoopGroupProvider: .singleton)

  init(registry: String, auth: (String, String)?) {
    self.registry = registry
    authorization = auth.map { "Basic " + Data("\($0.0):\($0.1)".utf8).base64EncodedString() }
  }

  func shutdown() {
    try? http.syncShutdown()
  }

  func pushBlob(_ blob: Blob, repository: String) async throws {
    var start = HTTPClientRequest(url: "http://\(registry)/v2/\(repository)/blobs/uploads/")
    start.method = .POST
    authorize(&start)
    let started = try await http.execute(start, timeout: .seconds(30))
    _ = try await started.body.collect(upTo: 1 << 20)
    guard started.status == .accepted, var location = started.headers.first(name: "location") else {
      throw RegistryServer.SetupError(description: "blob upload start: HTTP \(started.status)")
    }
    if location.hasPrefix("/") { location = "http://\(registry)\(location)" }
    location += (location.contains("?") ? "&" : "?") + "digest=\(blob.digest)"
    var put = HTTPClientRequest(url: location)
    put.method = .PUT
    authorize(&put)
    put.headers.add(name: "Content-Type", value: "application/octet-stream")
    put.body = .bytes(ByteBuffer(bytes: blob.bytes))
    let done = try await http.execute(put, timeout: .seconds(60))
    _ = try await done.body.collect(upTo: 1 << 20)
    guard done.status == .created else { throw RegistryServer.SetupError(description: "blob upload: HTTP \(done.status)") }
  }

  func pushManifest(_ manifest: Blob, repository: String, reference: String) async throws {
    var put = HTTPClientRequest(url: "http://\(registry)/v2/\(repository)/manifests/\(reference)")
    put.method = .PUT
    authorize(&put)
    put.headers.add(name: "Content-Type", value: manifest.mediaType)
    put.body = .bytes(ByteBuffer(bytes: manifest.bytes))
    let done = try await http.execute(put, timeout: .seconds(30))
    let body = try await done.body.collect(upTo: 1 << 20)
    guard done.status == .created else {
      throw RegistryServer.SetupError(description: "manifest push: HTTP \(done.status) \(String(buffer: body))")
    }
  }

  private func authorize(_ request: inout HTTPClientRequest) {
    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
  }
}

public func sha256(_ bytes: [UInt8]) -> String {
  "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

func canonicalJSON(_ object: Any) throws -> [UInt8] {
  Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
}

/// Compresses a layer reproducibly (no file name, no time stamp).
public func compress(_ tar: [UInt8], _ kind: TestLayerCompression) throws -> [UInt8] {
  switch kind {
  case .none: return tar
  case .gzip: return try pipe(tar, "/bin/gzip", ["-n", "-c"])
  case .zstd: return try pipe(tar, "/usr/bin/zstd", ["-q", "-c"])
  }
}

private func pipe(_ input: [UInt8], _ tool: String, _ arguments: [String]) throws -> [UInt8] {
  guard FileManager.default.isExecutableFile(atPath: tool) else {
    throw RegistryServer.SetupError(description: "\(tool) is missing: run `make deps`")
  }
  let (status, output) = try runForData(tool, arguments, input: input)
  guard status == 0 else { throw RegistryServer.SetupError(description: "\(tool) failed") }
  return output
}
