import CRIOFuzz
import Foundation
import Testing

@testable import OCI

/// Hostile manifests, indexes and image configs, as a registry could serve
/// them: decoding throws only `DecodingError`, and what decodes re-encodes to
/// the same value.
@Suite struct ImageDocumentFuzzTests {
  static let digest = "sha256:" + String(repeating: "ab", count: 32)

  static let manifest = """
    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
     "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(digest)","size":1469},
     "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(digest)","size":2479,
       "urls":["https://example.test/l"],"annotations":{"a":"b"}}],
     "annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}
    """

  static let index = """
    {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"\(digest)","size":528,
      "platform":{"architecture":"amd64","os":"linux"}},
     {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\(digest)","size":528,
      "platform":{"architecture":"arm64","os":"linux","variant":"v8","os.version":"1","os.features":["x"]}}]}
    """

  static let config = """
    {"created":"2024-01-01T00:00:00Z","author":"me","architecture":"amd64","os":"linux","variant":"v1",
     "config":{"User":"1000:1000","ExposedPorts":{"80/tcp":{}},"Env":["PATH=/bin"],"Entrypoint":["/bin/sh"],
       "Cmd":["-c","true"],"Volumes":{"/data":{}},"WorkingDir":"/","Labels":{"k":"v"},"StopSignal":"SIGTERM"},
     "rootfs":{"type":"layers","diff_ids":["\(digest)","\(digest)"]},
     "history":[{"created_by":"x"}]}
    """

  @Test func fuzzManifestIndexAndConfigDecoding() async throws {
    var decoded = 0
    try await Fuzzer(
      target: "image-documents", seeds: [Self.manifest, Self.index, Self.config], dictionary: Mutator.jsonTokens + [
        Array("\"sha256:".utf8), Array("\"schemaVersion\":".utf8), Array("\"size\":-1".utf8),
        Array("\"size\":9223372036854775808".utf8), Array("\"platform\":{}".utf8),
      ]
    ).run { input in
      let data = Data(input)
      decoded += try Self.roundTrips(ImageManifest.self, data) + Self.roundTrips(ImageIndex.self, data)
        + Self.roundTrips(ImageConfiguration.self, data)
    }
    #expect(decoded > 0)
  }

  /// 1 when `data` decodes as `T` (and then re-encodes to an equal value), 0 when it is refused.
  static func roundTrips<T: Codable & Equatable>(_ type: T.Type, _ data: Data) throws -> Int {
    let value: T
    do {
      value = try JSONDecoder().decode(T.self, from: data)
    } catch is DecodingError {
      return 0
    }
    let again = try JSONDecoder().decode(T.self, from: try JSONEncoder().encode(value))
    guard again == value else { throw FuzzViolation("\(T.self) does not survive encoding: \(value) vs \(again)") }
    return 1
  }
}
