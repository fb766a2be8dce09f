import Foundation
import Testing

@testable import OCI

@Suite struct DigestTests {
  @Test func parsesValidDigests() throws {
    let hex = String(repeating: "a", count: 64)
    let digest = try Digest(parsing: "sha256:\(hex)")
    #expect(digest.algorithm == "sha256")
    #expect(digest.encoded == hex)
    #expect(digest.description == "sha256:\(hex)")
  }

  @Test(arguments: ["", "sha256", "sha256:", "md5:abcd", "sha256:XYZ", "sha256:" + String(repeating: "A", count: 64),
                    "sha256:" + String(repeating: "a", count: 63)])
  func rejectsInvalidDigests(text: String) {
    #expect(throws: Digest.ParseError.self) { try Digest(parsing: text) }
  }
}

@Suite struct ImageSpecTests {
  @Test func decodesAManifestAndAConfig() throws {
    let hex = String(repeating: "b", count: 64)
    let manifest = """
      {"schemaVersion": 2, "mediaType": "\(MediaType.ociManifest)",
       "config": {"mediaType": "\(MediaType.ociConfig)", "digest": "sha256:\(hex)", "size": 12},
       "layers": [{"mediaType": "\(MediaType.ociLayerGzip)", "digest": "sha256:\(hex)", "size": 34}]}
      """
    let decoded = try JSONDecoder().decode(ImageManifest.self, from: Data(manifest.utf8))
    #expect(decoded.layers.count == 1)
    #expect(decoded.config.size == 12)

    let config = """
      {"architecture": "amd64", "os": "linux",
       "config": {"User": "1000", "Env": ["PATH=/bin"], "Cmd": ["sh"], "StopSignal": "SIGQUIT",
                  "ExposedPorts": {"80/tcp": {}}},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:\(hex)"]}}
      """
    let image = try JSONDecoder().decode(ImageConfiguration.self, from: Data(config.utf8))
    #expect(image.config?.user == "1000")
    #expect(image.config?.stopSignal == "SIGQUIT")
    #expect(image.config?.exposedPorts?.keys.sorted() == ["80/tcp"])
    #expect(image.rootfs.diffIDs.count == 1)
  }

  @Test func rejectsABadDigestInsideADocument() {
    let manifest = """
      {"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:nothex", "size": 1}, "layers": []}
      """
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(ImageManifest.self, from: Data(manifest.utf8)) }
  }
}
