import CRIOFuzz
import Testing

@testable import OCI

/// Hostile image references: the parser throws only `ImageReference.ParseError`
/// (never traps), and what it accepts normalises idempotently.
@Suite struct ImageReferenceFuzzTests {
  static let hex = String(repeating: "0123456789abcdef", count: 4)

  static let seeds = [
    "busybox", "busybox:1.36", "library/busybox", "user/app:v1", "docker.io/busybox",
    "index.docker.io/library/busybox", "registry.k8s.io/pause:3.10", "127.0.0.1:5000/e2e-test-images/busybox:1.29-2",
    "localhost/app", "localhost:5000/a/b/c", "[::1]:5000/app:t", "a__b/c.d/e-f---g", "busybox@sha256:\(hex)",
    "127.0.0.1:5000/app:v2@sha256:\(hex)", "quay.io/ns/repo@sha512:\(hex)\(hex)", hex, "Busybox", "host:99999/app",
  ]

  static let dictionary: [[UInt8]] = [
    "/", ":", "@", "@sha256:", "@sha512:", "sha256:", ".", "-", "_", "__", "--", "[", "]", "[::1]", ":5000",
    "localhost", "docker.io", "index.docker.io", "library/", String(repeating: "a", count: 128), hex, "\u{0}", "é", "..",
  ].map { Array($0.utf8) }

  @Test func fuzzImageReferenceParsing() async throws {
    var accepted = 0
    var rejected = 0
    let report = try await Fuzzer(target: "image-reference", seeds: Self.seeds.map { Array($0.utf8) }, dictionary: Self.dictionary,
      maxLength: 1024
    ).run { input in
      let text = String(decoding: input, as: UTF8.self)
      let reference: ImageReference
      do {
        reference = try ImageReference(parsing: text)
      } catch is ImageReference.ParseError {
        rejected += 1
        return
      }
      accepted += 1
      try Self.checkNormalisation(of: reference, from: text)
    }
    #expect(accepted > 0 && rejected > 0, "\(report.cases) cases: \(accepted) accepted, \(rejected) rejected")
  }

  /// parse → normalised string → parse gives the same reference and the same string.
  static func checkNormalisation(of reference: ImageReference, from text: String) throws {
    let normalised = reference.description
    let again: ImageReference
    do {
      again = try ImageReference(parsing: normalised)
    } catch {
      throw FuzzViolation("\"\(text)\" normalised to \"\(normalised)\", which does not parse: \(error)")
    }
    guard again.domain == reference.domain, again.path == reference.path, again.tag == reference.tag,
      again.digest == reference.digest, again.description == normalised, !again.isShortName
    else {
      throw FuzzViolation("\"\(text)\" -> \"\(normalised)\" -> \"\(again)\" (short name: \(again.isShortName))")
    }
    guard reference.repository.utf8.count <= 255 else {
      throw FuzzViolation("\"\(text)\" was accepted with a \(reference.repository.utf8.count)-byte repository")
    }
  }

  @Test func fuzzDigestParsing() async throws {
    try await Fuzzer(
      target: "digest", seeds: ["sha256:\(Self.hex)", "sha512:\(Self.hex)\(Self.hex)", "md5:abc", "sha256:"],
      dictionary: Self.dictionary, maxLength: 512
    ).run { input in
      let text = String(decoding: input, as: UTF8.self)
      do {
        let digest = try Digest(parsing: text)
        guard digest.description == text, Digest(digest.description) == digest else {
          throw FuzzViolation("digest \"\(text)\" does not round-trip: \(digest)")
        }
      } catch is Digest.ParseError {}
    }
  }
}
