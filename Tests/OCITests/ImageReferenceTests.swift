import Testing

@testable import OCI

@Suite struct ImageReferenceTests {
  static let hex = String(repeating: "c", count: 64)

  @Test(arguments: [
    ("busybox", "docker.io/library/busybox:latest", true),
    ("busybox:1.36", "docker.io/library/busybox:1.36", true),
    ("library/busybox", "docker.io/library/busybox:latest", true),
    ("user/app:v1", "docker.io/user/app:v1", true),
    ("docker.io/busybox", "docker.io/library/busybox:latest", false),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", false),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", false),
    ("127.0.0.1:5000/e2e-test-images/busybox:1.29-2", "127.0.0.1:5000/e2e-test-images/busybox:1.29-2", false),
    ("localhost/app", "localhost/app:latest", false),
    ("localhost:5000/a/b/c", "localhost:5000/a/b/c:latest", false),
    ("[::1]:5000/app:t", "[::1]:5000/app:t", false),
    ("gcr.io/k8s-staging-cri-tools/test-image-tags:1", "gcr.io/k8s-staging-cri-tools/test-image-tags:1", false),
    ("a__b/c.d/e-f---g", "docker.io/a__b/c.d/e-f---g:latest", true),
  ])
  func normalises(text: String, expected: String, shortName: Bool) throws {
    let reference = try ImageReference(parsing: text)
    #expect(reference.description == expected)
    #expect(reference.isShortName == shortName)
    #expect(try ImageReference(parsing: reference.description).description == expected)
  }

  @Test func digestsAndTagsTogether() throws {
    let digestOnly = try ImageReference(parsing: "busybox@sha256:\(Self.hex)")
    #expect(digestOnly.tag == nil)
    #expect(digestOnly.digest?.description == "sha256:\(Self.hex)")
    #expect(digestOnly.description == "docker.io/library/busybox@sha256:\(Self.hex)")
    #expect(digestOnly.taggedName == nil)

    let both = try ImageReference(parsing: "127.0.0.1:5000/app:v2@sha256:\(Self.hex)")
    #expect(both.domain == "127.0.0.1:5000")
    #expect(both.path == "app")
    #expect(both.tag == "v2")
    #expect(both.digest != nil)
    #expect(both.taggedName == "127.0.0.1:5000/app:v2")
    #expect(both.repository == "127.0.0.1:5000/app")
  }

  @Test(arguments: [
    ("", ImageReference.ParseError.empty),
    ("Busybox", .uppercase("Busybox")),
    ("docker.io/Library/busybox", .uppercase("docker.io/Library/busybox")),
    ("busybox:", .invalidTag("busybox:")),
    ("busybox:-bad", .invalidTag("busybox:-bad")),
    ("busybox@sha256:abc", .invalidDigest("busybox@sha256:abc")),
    ("busybox@md5:\(hex)", .invalidDigest("busybox@md5:\(hex)")),
    ("/busybox", .invalidFormat("/busybox")),
    ("busybox/", .invalidFormat("busybox/")),
    ("a//b", .invalidFormat("a//b")),
    ("-abc", .invalidFormat("-abc")),
    ("abc.", .invalidFormat("abc.")),
    ("a b", .invalidFormat("a b")),
    ("host:99999/app", .invalidFormat("host:99999/app")),
    (hex, .hexIdentifier(hex)),
  ])
  func rejects(text: String, error: ImageReference.ParseError) {
    #expect(throws: error) { try ImageReference(parsing: text) }
  }

  @Test func rejectsOverlongNames() {
    let long = "registry.example/" + String(repeating: "a", count: 250)
    #expect(throws: ImageReference.ParseError.self) { try ImageReference(parsing: long) }
  }

  @Test func tagsAreCapped() throws {
    #expect(throws: Never.self) { try ImageReference(parsing: "a:" + String(repeating: "t", count: 128)) }
    #expect(throws: ImageReference.ParseError.self) {
      try ImageReference(parsing: "a:" + String(repeating: "t", count: 129))
    }
  }
}
