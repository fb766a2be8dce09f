import Foundation
import OCI
import Testing

@testable import CRIORegistry

private func parse(_ text: String) throws -> RegistriesConfiguration {
  var warnings: [String] = []
  return try RegistriesConfiguration.parse(text, path: "test.conf", warnings: &warnings)
}

private func ref(_ s: String) throws -> ImageReference { try ImageReference(parsing: s) }

@Suite struct RegistriesConfigurationTests {
  static let sample = """
    unqualified-search-registries = ["127.0.0.1:5000", "docker.io"]

    [[registry]]
    prefix = "registry.k8s.io"
    location = "127.0.0.1:5000"
    insecure = true

    [[registry]]
    prefix = "docker.io/library"
    location = "127.0.0.1:5001/dockerhub"
    [[registry.mirror]]
    location = "127.0.0.1:5002/mirror-a"
    insecure = true
    [[registry.mirror]]
    location = "127.0.0.1:5003/digests"
    pull-from-mirror = "digest-only"

    [[registry]]
    prefix = "quay.io/blocked"
    blocked = true

    [[registry]]
    prefix = "*.example.test"
    insecure = true

    [[registry]]
    location = "127.0.0.1:5004"
    mirror-by-digest-only = true
    [[registry.mirror]]
    location = "127.0.0.1:5005"

    [aliases]
    "pause" = "registry.k8s.io/pause"
    """

  @Test func parsesEveryKey() throws {
    let config = try parse(Self.sample)
    #expect(config.unqualifiedSearchRegistries == ["127.0.0.1:5000", "docker.io"])
    #expect(config.registries.count == 5)
    #expect(config.registries[0] == .init(prefix: "registry.k8s.io", location: "127.0.0.1:5000", insecure: true))
    #expect(config.registries[1].mirrors == [
      .init(location: "127.0.0.1:5002/mirror-a", insecure: true),
      .init(location: "127.0.0.1:5003/digests", pullFromMirror: "digest-only"),
    ])
    #expect(config.registries[2].blocked)
    #expect(config.registries[4].prefix == "127.0.0.1:5004")
    #expect(config.aliases["pause"] == "registry.k8s.io/pause")
  }

  @Test func locationRewriteKeepsNamesAndTags() throws {
    let resolver = PullSourceResolver(configuration: try parse(Self.sample))
    let pull = try resolver.resolve(try ref("registry.k8s.io/pause:3.10"))
    #expect(pull.name.description == "registry.k8s.io/pause:3.10")
    #expect(pull.sources.map(\.reference.description) == ["127.0.0.1:5000/pause:3.10"])
    #expect(pull.sources.first?.insecure == true)

    let nested = try resolver.resolve(try ref("registry.k8s.io/e2e-test-images/busybox:1.29-2"))
    #expect(nested.sources.map(\.reference.description) == ["127.0.0.1:5000/e2e-test-images/busybox:1.29-2"])
  }

  @Test func mirrorsComeFirstAndHonourPullFromMirror() throws {
    let resolver = PullSourceResolver(configuration: try parse(Self.sample))
    let byTag = try resolver.resolve(try ref("busybox:1.36"))
    #expect(byTag.sources.map(\.reference.description) == [
      "127.0.0.1:5002/mirror-a/busybox:1.36", "127.0.0.1:5001/dockerhub/busybox:1.36",
    ])
    #expect(byTag.sources.map(\.isMirror) == [true, false])

    let digest = "sha256:" + String(repeating: "d", count: 64)
    let byDigest = try resolver.resolve(try ref("busybox@\(digest)"))
    #expect(byDigest.sources.map(\.reference.description) == [
      "127.0.0.1:5002/mirror-a/busybox@\(digest)", "127.0.0.1:5003/digests/busybox@\(digest)",
      "127.0.0.1:5001/dockerhub/busybox@\(digest)",
    ])

    // mirror-by-digest-only skips every mirror for tags.
    let tagged = try resolver.resolve(try ref("127.0.0.1:5004/app:v1"))
    #expect(tagged.sources.map(\.reference.description) == ["127.0.0.1:5004/app:v1"])
    let pinned = try resolver.resolve(try ref("127.0.0.1:5004/app@\(digest)"))
    #expect(pinned.sources.map(\.reference.description) == ["127.0.0.1:5005/app@\(digest)", "127.0.0.1:5004/app@\(digest)"])
  }

  @Test func longestPrefixWinsAtPathBoundariesOnly() throws {
    let config = try parse("""
      [[registry]]
      prefix = "example.test/ns"
      location = "127.0.0.1:6000/one"
      [[registry]]
      prefix = "example.test/ns/deep"
      location = "127.0.0.1:6000/two"
      """)
    let resolver = PullSourceResolver(configuration: config)
    #expect(try resolver.resolve(try ref("example.test/ns/deep/app")).sources.first?.reference.description
      == "127.0.0.1:6000/two/app:latest")
    #expect(try resolver.resolve(try ref("example.test/ns/app")).sources.first?.reference.description
      == "127.0.0.1:6000/one/app:latest")
    // "example.test/nsx" does not match the prefix "example.test/ns".
    #expect(try resolver.resolve(try ref("example.test/nsx/app")).sources.first?.reference.description
      == "example.test/nsx/app:latest")
  }

  @Test func blockedAndWildcards() throws {
    let resolver = PullSourceResolver(configuration: try parse(Self.sample))
    #expect(throws: ResolveError.blocked("quay.io/blocked/app:latest")) {
      try resolver.resolve(try ref("quay.io/blocked/app"))
    }
    #expect(try resolver.resolve(try ref("quay.io/open/app")).sources.first?.insecure == false)
    let wildcard = try resolver.resolve(try ref("reg.example.test/app"))
    #expect(wildcard.sources.map(\.reference.description) == ["reg.example.test/app:latest"])
    #expect(wildcard.sources.first?.insecure == true)
    #expect(try resolver.resolve(try ref("example.test/app")).sources.first?.insecure == false)
  }

  @Test func shortNamesUseAliasesThenTheSearchList() throws {
    let resolver = PullSourceResolver(configuration: try parse(Self.sample))
    #expect(try resolver.candidates(for: try ref("pause:3.9")).map(\.description) == ["registry.k8s.io/pause:3.9"])
    #expect(try resolver.candidates(for: try ref("busybox")).map(\.description) == [
      "127.0.0.1:5000/busybox:latest", "docker.io/library/busybox:latest",
    ])
    #expect(try resolver.candidates(for: try ref("127.0.0.1:5000/app")).map(\.description) == ["127.0.0.1:5000/app:latest"])
    let none = PullSourceResolver(configuration: RegistriesConfiguration())
    #expect(try none.candidates(for: try ref("busybox")).map(\.description) == ["docker.io/library/busybox:latest"])
  }

  @Test func dropInsMergeByPrefix() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("regconf-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: "\(dir)/d", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try """
      unqualified-search-registries = ["docker.io"]
      [[registry]]
      prefix = "a.test"
      location = "127.0.0.1:7000"
      """.write(toFile: "\(dir)/registries.conf", atomically: true, encoding: .utf8)
    try """
      [[registry]]
      prefix = "a.test"
      location = "127.0.0.1:7001"
      [aliases]
      "x" = "a.test/x"
      """.write(toFile: "\(dir)/d/10-override.conf", atomically: true, encoding: .utf8)
    try "unknown-key = 1\n".write(toFile: "\(dir)/d/20-warn.conf", atomically: true, encoding: .utf8)
    let (config, warnings) = try RegistriesConfiguration.load(file: "\(dir)/registries.conf", dropInDir: "\(dir)/d")
    #expect(config.unqualifiedSearchRegistries == ["docker.io"])
    #expect(config.registries == [.init(prefix: "a.test", location: "127.0.0.1:7001")])
    #expect(config.aliases == ["x": "a.test/x"])
    #expect(warnings.count == 1)
    #expect(warnings.first?.contains("unknown-key") == true)

    let (empty, _) = try RegistriesConfiguration.load(file: "\(dir)/absent.conf", dropInDir: nil)
    #expect(empty == RegistriesConfiguration())
  }

  @Test(arguments: [
    "[[registry]]\ninsecure = true\n",
    "[[registry]]\nprefix = \"a\"\ninsecure = \"yes\"\n",
    "[[registry]]\nprefix = \"*.a.test\"\nlocation = \"b.test\"\n",
    "[[registry]]\nprefix = \"a\"\n[[registry.mirror]]\ninsecure = true\n",
    "[[registry]]\nprefix = \"a\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"sometimes\"\n",
    "unqualified-search-registries = \"docker.io\"\n",
    "[[registry]\n",
  ])
  func rejectsInvalidFiles(text: String) {
    #expect(throws: RegistriesConfiguration.LoadError.self) { try parse(text) }
  }

  /// Found by the registries-conf fuzz target: this header aborted the process inside toml++.
  @Test func aTableHeaderWithoutAKeyIsASyntaxErrorNotACrash() {
    #expect(throws: RegistriesConfiguration.LoadError.syntax(
      path: "test.conf", message: "a table header must start with a key (line 2, column 2)")) {
      try parse("unqualified-search-registries = []\n[.0.1:5002/mirror-a\"\ninsecure = true\n")
    }
  }
}
