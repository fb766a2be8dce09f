import CRIAPI
import CRIClient
import CCRIOSys
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// A daemon whose registries.conf sends `registry.test/...` to a real local
/// docker-registry over plain HTTP (a `location` rewrite, as an air-gapped
/// node would configure it). Nothing leaves 127.0.0.1.
final class ImageFixture: @unchecked Sendable {
  let dir: DaemonDirectory
  let registry: RegistryServer
  /// A test-run front (token auth, a dying connection) between crio and the registry.
  let proxy: RegistryProxy?
  var daemon: DaemonProcess!

  init(
    basicAuth: (String, String)? = nil, authFile: String? = nil, extraConfig: String = "",
    proxyMode: RegistryProxy.Mode? = nil
  ) async throws {
    try requireHostTools()
    dir = try DaemonDirectory()
    registry = try await RegistryServer(basicAuth: basicAuth.map { (username: $0.0, password: $0.1) })
    if let proxyMode {
      proxy = try await RegistryProxy(backend: registry.host, mode: proxyMode)
    } else {
      proxy = nil
    }
    try """
      [[registry]]
      prefix = "registry.test"
      location = "\(proxy?.host ?? registry.host)"
      insecure = true
      """.write(toFile: dir.registriesConf, atomically: true, encoding: .utf8)
    var config = extraConfig
    if let authFile { config += "\n[crio.image]\nglobal_auth_file = \"\(authFile)\"\n" }
    try config.write(toFile: dir.configFile, atomically: true, encoding: .utf8)
    daemon = try await DaemonProcess.started(in: dir)
  }

  func stop() async throws {
    #expect(try await daemon.stop() == 0)
    proxy?.stop()
    registry.stop()
  }

  func pull(_ image: String, auth: Runtime_V1_AuthConfig? = nil) async throws -> String {
    try await CRIConnection.with(dir.endpoint, timeout: .seconds(120)) {
      var request = Runtime_V1_PullImageRequest()
      request.image.image = image
      if let auth { request.auth = auth }
      return try await $0.image.pullImage(request, options: $0.options).imageRef
    }
  }

  func status(_ image: String, verbose: Bool = false) async throws -> Runtime_V1_ImageStatusResponse {
    try await CRIConnection.with(dir.endpoint) {
      var request = Runtime_V1_ImageStatusRequest()
      request.image.image = image
      request.verbose = verbose
      return try await $0.image.imageStatus(request, options: $0.options)
    }
  }

  func list(_ filter: String? = nil) async throws -> [Runtime_V1_Image] {
    try await CRIConnection.with(dir.endpoint) {
      var request = Runtime_V1_ListImagesRequest()
      if let filter { request.filter.image.image = filter }
      return try await $0.image.listImages(request, options: $0.options).images
    }
  }

  func remove(_ image: String) async throws {
    try await CRIConnection.with(dir.endpoint) {
      var request = Runtime_V1_RemoveImageRequest()
      request.image.image = image
      _ = try await $0.image.removeImage(request, options: $0.options)
    }
  }

  /// Chain-ID directories of unpacked layers.
  var layerDirectories: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "\(dir.root)/overlay")) ?? []).sorted()
  }

  var stagingLeftovers: [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: "\(dir.root)/overlay-staging")) ?? []
  }
}

@Suite(.serialized) struct ImageServiceTests {
  @Test func pullStatusListAndRemoveThroughALocationRewrite() async throws {
    let fixture = try await ImageFixture()
    let image = try TestImage.busybox(user: "www-data")
    try await image.push(to: fixture.registry.host, repository: "test/busybox", tag: "1.0")

    let ref = try await fixture.pull("registry.test/test/busybox:1.0")
    #expect(ref == image.id)

    for name in ["registry.test/test/busybox:1.0", image.id, "sha256:\(image.id)", String(image.id.prefix(12)),
                 "registry.test/test/busybox@\(image.manifest.digest)"] {
      let status = try await fixture.status(name)
      #expect(status.hasImage, "lookup by \(name)")
      #expect(status.image.id == image.id)
    }
    let status = try await fixture.status("registry.test/test/busybox:1.0", verbose: true)
    #expect(status.image.repoTags == ["registry.test/test/busybox:1.0"])
    #expect(status.image.repoDigests == ["registry.test/test/busybox@\(image.manifest.digest)"])
    #expect(status.image.username == "www-data")
    #expect(!status.image.hasUid)
    #expect(status.image.size > 1_000_000)
    let info = try #require(status.info["info"])
    #expect(info.contains("\"diff_ids\""))
    #expect(try await fixture.status("registry.test/test/other:1.0").hasImage == false)

    // The layer is unpacked once, with busybox's applets as hard links.
    #expect(fixture.layerDirectories.count == 1)
    let diff = "\(fixture.dir.root)/overlay/\(fixture.layerDirectories[0])/diff"
    var sh = stat()
    var busybox = stat()
    #expect(lstat("\(diff)/bin/sh", &sh) == 0 && lstat("\(diff)/bin/busybox", &busybox) == 0)
    #expect(sh.st_ino == busybox.st_ino)
    #expect(sh.st_mode & 0o777 == 0o755)

    #expect(try await fixture.list().map(\.id) == [image.id])
    #expect(try await fixture.list("registry.test/test/busybox:1.0").count == 1)
    #expect(try await fixture.list("registry.test/test/nothing:1").isEmpty)

    try await fixture.remove("registry.test/test/busybox:1.0")
    #expect(try await fixture.list().isEmpty)
    #expect(fixture.layerDirectories.isEmpty)
    // Removing what is not there succeeds (the kubelet retries removals).
    try await fixture.remove("registry.test/test/busybox:1.0")
    #expect(fixture.stagingLeftovers.isEmpty)
    try await fixture.stop()
  }

  @Test func sharedLayersAreStoredOnceAndTagsUntagFirst() async throws {
    let fixture = try await ImageFixture()
    let base = try TestImage.busyboxLayer()
    var extra = TarWriter()
    extra.file("hello.txt", "hello\n")
    let one = try TestImage(layerTars: [base], label: "one")
    let two = try TestImage(layerTars: [base, extra.archive], compression: [.gzip, .zstd], label: "two")
    try await one.push(to: fixture.registry.host, repository: "test/one", tag: "a")
    try await one.push(to: fixture.registry.host, repository: "test/one", tag: "b")
    try await two.push(to: fixture.registry.host, repository: "test/two", tag: "latest")

    _ = try await fixture.pull("registry.test/test/one:a")
    _ = try await fixture.pull("registry.test/test/one:b")
    _ = try await fixture.pull("registry.test/test/two")
    #expect(fixture.layerDirectories.count == 2)  // base once, plus two's extra layer
    let tags = try await fixture.status(one.id).image.repoTags
    #expect(Set(tags) == ["registry.test/test/one:a", "registry.test/test/one:b"])

    // One tag of a two-tag image only untags it.
    try await fixture.remove("registry.test/test/one:a")
    #expect(try await fixture.status(one.id).image.repoTags == ["registry.test/test/one:b"])
    // The last tag removes the image; the shared layer stays for `two`.
    try await fixture.remove("registry.test/test/one:b")
    #expect(try await fixture.status(one.id).hasImage == false)
    #expect(fixture.layerDirectories.count == 2)
    try await fixture.remove(two.id)
    #expect(fixture.layerDirectories.isEmpty)
    try await fixture.stop()
  }

  @Test func multiPlatformIndexPicksThisArchitecture() async throws {
    let fixture = try await ImageFixture()
    let amd64 = try TestImage.busybox(label: "amd64")
    let arm64 = try TestImage(layerTars: [try TestImage.busyboxLayer(extraFiles: ["arch": "arm64"])], architecture: "arm64", label: "arm64")
    try await amd64.push(to: fixture.registry.host, repository: "test/multi", tag: nil)
    try await arm64.push(to: fixture.registry.host, repository: "test/multi", tag: nil)
    let index = try TestIndex([(arm64, "arm64", "v8"), (amd64, "amd64", nil)])
    try await index.push(to: fixture.registry.host, repository: "test/multi", tag: "1")
    let ref = try await fixture.pull("registry.test/test/multi:1")
    #expect(ref == amd64.id)
    // The repo digest is the index's: what the user asked for.
    #expect(try await fixture.status(ref).image.repoDigests == ["registry.test/test/multi@\(index.index.digest)"])
    try await fixture.stop()
  }

  @Test func whiteoutsAndOpaqueDirectoriesBecomeOverlayMarkers() async throws {
    let fixture = try await ImageFixture()
    var upper = TarWriter()
    upper.file("etc/.wh.group")
    upper.directory("var")
    upper.file("var/.wh..wh..opq")
    upper.file("var/new", "x")
    let image = try TestImage(layerTars: [try TestImage.busyboxLayer(), upper.archive], compression: [.gzip, .none])
    try await image.push(to: fixture.registry.host, repository: "test/whiteout", tag: "1")
    _ = try await fixture.pull("registry.test/test/whiteout:1")
    let chain = sha256(Array("\(image.diffIDs[0]) \(image.diffIDs[1])".utf8))
    let diff = "\(fixture.dir.root)/overlay/\(chain.dropFirst(7))/diff"
    var whiteout = stat()
    #expect(lstat("\(diff)/etc/group", &whiteout) == 0)
    #expect(whiteout.st_mode & S_IFMT == S_IFCHR)
    #expect(whiteout.st_rdev == 0)
    #expect(!FileManager.default.fileExists(atPath: "\(diff)/etc/.wh.group"))
    var value = [UInt8](repeating: 0, count: 8)
    let n = crio_lgetxattr("\(diff)/var", "trusted.overlay.opaque", &value, UInt(value.count))
    #expect(n == 1 && value[0] == UInt8(ascii: "y"))
    try await fixture.stop()
  }

  @Test func hostileLayersAreRejectedAndLeaveNothing() async throws {
    let fixture = try await ImageFixture()
    let outside = "/tmp/crio-escape-\(UUID().uuidString.prefix(8))"
    var traversal = TarWriter()
    traversal.file("../../../..\(outside)", "escaped")
    var symlinkEscape = TarWriter()
    symlinkEscape.symlink("evil", to: "/tmp")
    symlinkEscape.file("evil/\((outside as NSString).lastPathComponent)", "escaped")
    for (name, tar) in [("traversal", traversal.archive), ("symlink", symlinkEscape.archive)] {
      let image = try TestImage(layerTars: [tar])
      try await image.push(to: fixture.registry.host, repository: "test/\(name)", tag: "1")
      let error = await #expect(throws: RPCError.self) { try await fixture.pull("registry.test/test/\(name):1") }
      #expect(error?.code == .dataLoss, "\(String(describing: error))")
      #expect(error?.message.contains("layer rejected") == true)
      #expect(!FileManager.default.fileExists(atPath: outside))
    }
    #expect(try await fixture.list().isEmpty)
    #expect(fixture.layerDirectories.isEmpty)
    #expect(fixture.stagingLeftovers.isEmpty)
    try await fixture.stop()
  }

  @Test func aLyingManifestFailsThePullCleanly() async throws {
    let fixture = try await ImageFixture()
    let image = try TestImage.busybox()
    try await image.push(to: fixture.registry.host, repository: "test/liar", tag: "good")
    // Same blobs, but the manifest claims a different size for the layer.
    var manifest = try JSONSerialization.jsonObject(with: Data(image.manifest.bytes)) as! [String: Any]
    var layers = manifest["layers"] as! [[String: Any]]
    layers[0]["size"] = (layers[0]["size"] as! Int) - 10
    manifest["layers"] = layers
    let lying = Blob(
      bytes: Array(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])),
      mediaType: image.manifest.mediaType)
    try await pushManifest(lying, to: fixture.registry.host, repository: "test/liar", reference: "bad")
    let error = await #expect(throws: RPCError.self) { try await fixture.pull("registry.test/test/liar:bad") }
    #expect(error?.code == .dataLoss, "\(String(describing: error))")
    #expect(error?.message.contains("size mismatch") == true)
    #expect(fixture.layerDirectories.isEmpty)
    #expect(fixture.stagingLeftovers.isEmpty)
    // The honest tag still pulls.
    #expect(try await fixture.pull("registry.test/test/liar:good") == image.id)
    try await fixture.stop()
  }

  @Test func missingImagesAndBadReferencesAreClearErrors() async throws {
    let fixture = try await ImageFixture()
    let missing = await #expect(throws: RPCError.self) { try await fixture.pull("registry.test/test/absent:1") }
    #expect(missing?.code == .notFound)
    let invalid = await #expect(throws: RPCError.self) { try await fixture.pull("Invalid/UPPER") }
    #expect(invalid?.code == .invalidArgument)
    let empty = await #expect(throws: RPCError.self) { try await fixture.pull("") }
    #expect(empty?.code == .invalidArgument)
    try await fixture.stop()
  }

  @Test func concurrentPullsOfOneImageShareTheDownload() async throws {
    let fixture = try await ImageFixture()
    let image = try TestImage.busybox()
    try await image.push(to: fixture.registry.host, repository: "test/busybox", tag: "1")
    let refs = try await withThrowingTaskGroup(of: String.self) { group in
      for _ in 0..<8 { group.addTask { try await fixture.pull("registry.test/test/busybox:1") } }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(Set(refs) == [image.id])
    #expect(fixture.layerDirectories.count == 1)
    #expect(fixture.stagingLeftovers.isEmpty)
    try await fixture.stop()
  }

  @Test func basicAuthWithRequestCredentialsAndTheGlobalAuthFile() async throws {
    let fixture = try await ImageFixture(basicAuth: ("alice", "s3cret"))
    let image = try TestImage.busybox()
    try await image.push(to: fixture.registry.host, repository: "test/private", tag: "1", auth: ("alice", "s3cret"))

    let anonymous = await #expect(throws: RPCError.self) { try await fixture.pull("registry.test/test/private:1") }
    #expect(anonymous?.code == .permissionDenied, "\(String(describing: anonymous))")
    var wrong = Runtime_V1_AuthConfig()
    wrong.username = "alice"
    wrong.password = "nope"
    let refused = await #expect(throws: RPCError.self) { try await fixture.pull("registry.test/test/private:1", auth: wrong) }
    #expect(refused?.code == .permissionDenied)
    #expect(!fixture.daemon.log.contains("nope"))

    var right = Runtime_V1_AuthConfig()
    right.auth = Data("alice:s3cret".utf8).base64EncodedString()
    #expect(try await fixture.pull("registry.test/test/private:1", auth: right) == image.id)
    #expect(!fixture.daemon.log.contains("s3cret"))
    try await fixture.remove(image.id)
    try await fixture.stop()

    // The same pull with credentials from [crio.image] global_auth_file.
    let authDir = try DaemonDirectory()
    let authFile = "\(authDir.path)/auth.json"
    let encoded = Data("alice:s3cret".utf8).base64EncodedString()
    try #"{"auths": {"registry.test": {"auth": "\#(encoded)"}}}"#.write(toFile: authFile, atomically: true, encoding: .utf8)
    let withFile = try await ImageFixture(basicAuth: ("alice", "s3cret"), authFile: authFile)
    try await image.push(to: withFile.registry.host, repository: "test/private", tag: "1", auth: ("alice", "s3cret"))
    #expect(try await withFile.pull("registry.test/test/private:1") == image.id)
    try await withFile.stop()
  }

  @Test func imagesSurviveADaemonRestart() async throws {
    let fixture = try await ImageFixture()
    let image = try TestImage.busybox()
    try await image.push(to: fixture.registry.host, repository: "test/busybox", tag: "1")
    _ = try await fixture.pull("registry.test/test/busybox:1")
    #expect(try await fixture.daemon.stop(SIGKILL) == SIGKILL)
    fixture.daemon = try await DaemonProcess.started(in: fixture.dir)
    #expect(try await fixture.status("registry.test/test/busybox:1").image.id == image.id)
    try await fixture.stop()
  }

  @Test func bearerTokensFromTheRealmAnonymousAndWithCredentials() async throws {
    let anonymous = try await ImageFixture(proxyMode: .bearer(username: nil, password: nil))
    let image = try TestImage.busybox()
    try await image.push(to: anonymous.registry.host, repository: "test/busybox", tag: "1")
    try await image.push(to: anonymous.registry.host, repository: "test/busybox", tag: "2")
    #expect(try await anonymous.pull("registry.test/test/busybox:1") == image.id)
    let afterFirst = try #require(anonymous.proxy).tokenRequests
    #expect(afterFirst >= 1)
    // The token for the repository is reused by the next pull from it.
    #expect(try await anonymous.pull("registry.test/test/busybox:2") == image.id)
    #expect(try #require(anonymous.proxy).tokenRequests == afterFirst)
    try await anonymous.stop()

    let guarded = try await ImageFixture(proxyMode: .bearer(username: "bob", password: "hunter2"))
    try await image.push(to: guarded.registry.host, repository: "test/busybox", tag: "1")
    let refused = await #expect(throws: RPCError.self) { try await guarded.pull("registry.test/test/busybox:1") }
    #expect(refused?.code == .permissionDenied, "\(String(describing: refused))")
    var auth = Runtime_V1_AuthConfig()
    auth.username = "bob"
    auth.password = "hunter2"
    #expect(try await guarded.pull("registry.test/test/busybox:1", auth: auth) == image.id)
    #expect(!guarded.daemon.log.contains("hunter2"))
    try await guarded.remove(image.id)

    // A registry token is sent as is: crio asks the token service nothing.
    let token = try await fetchToken(from: try #require(guarded.proxy), username: "bob", password: "hunter2")
    let before = try #require(guarded.proxy).tokenRequests
    var tokenAuth = Runtime_V1_AuthConfig()
    tokenAuth.registryToken = token
    #expect(try await guarded.pull("registry.test/test/busybox:1", auth: tokenAuth) == image.id)
    #expect(try #require(guarded.proxy).tokenRequests == before)
    try await guarded.stop()
  }

  @Test func aRegistryThatDiesMidPullLeavesNothingAndTheNextPullWorks() async throws {
    let fixture = try await ImageFixture(proxyMode: .cutBlobs(afterBytes: 4096))
    let image = try TestImage.busybox()
    try await image.push(to: fixture.registry.host, repository: "test/busybox", tag: "1")
    let error = await #expect(throws: RPCError.self) { try await fixture.pull("registry.test/test/busybox:1") }
    #expect(error?.code == .unavailable, "\(String(describing: error))")
    #expect(try await fixture.list().isEmpty)
    #expect(fixture.layerDirectories.isEmpty)
    #expect(fixture.stagingLeftovers.isEmpty)
    #expect(try await fixture.status("registry.test/test/busybox:1").hasImage == false)

    try #require(fixture.proxy).setMode(.passThrough)
    #expect(try await fixture.pull("registry.test/test/busybox:1") == image.id)
    #expect(fixture.layerDirectories.count == 1)
    try await fixture.stop()
  }

  @Test func aMirrorThatLacksTheImageFallsBackToTheLocation() async throws {
    let fixture = try await ImageFixture()
    let mirror = try await RegistryServer()
    defer { mirror.stop() }
    let image = try TestImage.busybox()
    try await image.push(to: fixture.registry.host, repository: "test/busybox", tag: "1")
    let mirrored = try TestImage.busybox(label: "from-mirror")
    try await mirrored.push(to: mirror.host, repository: "test/busybox", tag: "2")
    try """
      [[registry]]
      prefix = "registry.test"
      location = "\(fixture.registry.host)"
      insecure = true
      [[registry.mirror]]
      location = "\(mirror.host)"
      insecure = true
      """.write(toFile: fixture.dir.registriesConf, atomically: true, encoding: .utf8)
    #expect(try await fixture.daemon.stop() == 0)
    fixture.daemon = try await DaemonProcess.started(in: fixture.dir)
    // Tag 1 exists only at the location; tag 2 only on the mirror, which is tried first.
    #expect(try await fixture.pull("registry.test/test/busybox:1") == image.id)
    #expect(try await fixture.pull("registry.test/test/busybox:2") == mirrored.id)
    try await fixture.stop()
  }

  @Test func thePauseImageAndPinnedImagesArePinned() async throws {
    let fixture = try await ImageFixture(extraConfig: """
      [crio.image]
      pause_image = "registry.test/test/pause:3.10"
      pinned_images = ["registry.test/test/keep*"]
      """)
    let image = try TestImage.busybox()
    for repository in ["test/pause", "test/keep-me", "test/free"] {
      try await image.push(to: fixture.registry.host, repository: repository, tag: "3.10")
    }
    _ = try await fixture.pull("registry.test/test/free:3.10")
    #expect(try await fixture.status(image.id).image.pinned == false)
    _ = try await fixture.pull("registry.test/test/keep-me:3.10")
    #expect(try await fixture.status(image.id).image.pinned == true)
    try await fixture.remove("registry.test/test/keep-me:3.10")
    #expect(try await fixture.status(image.id).image.pinned == false)
    _ = try await fixture.pull("registry.test/test/pause:3.10")
    #expect(try await fixture.status(image.id).image.pinned == true)
    try await fixture.stop()
  }
}

/// Asks a test token service for a token, as a client outside crio would.
func fetchToken(from proxy: RegistryProxy, username: String, password: String) async throws -> String {
  let basic = Data("\(username):\(password)".utf8).base64EncodedString()
  let result = try run("/usr/bin/curl", ["-sf", "-H", "Authorization: Basic \(basic)", "http://\(proxy.host)/token?service=crio-test"])
  let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
  return try #require(object?["token"] as? String)
}
