import Foundation
import Testing

@testable import CRIORegistry

@Suite struct AuthChallengeTests {
  @Test func parsesBearerChallenges() throws {
    let header = #"Bearer realm="https://auth.example.test/token",service="registry.example.test",scope="repository:library/busybox:pull""#
    let challenge = try #require(AuthChallenge(header: header))
    #expect(challenge.scheme == "bearer")
    #expect(challenge.realm == "https://auth.example.test/token")
    #expect(challenge.service == "registry.example.test")
    #expect(challenge.scope == "repository:library/busybox:pull")
  }

  @Test func parsesBasicAndEscapesAndUnquotedValues() throws {
    #expect(AuthChallenge(header: #"Basic realm="Registry Realm""#)?.parameters == ["realm": "Registry Realm"])
    #expect(AuthChallenge(header: #"Bearer realm="a\"b", error=insufficient_scope"#)?.parameters
      == ["realm": "a\"b", "error": "insufficient_scope"])
    #expect(AuthChallenge(header: "Negotiate")?.scheme == "negotiate")
    #expect(AuthChallenge(header: "") == nil)
  }
}

@Suite struct RegistryCredentialsTests {
  @Test func everyAuthConfigFormIsUnderstood() throws {
    #expect(try RegistryCredentials.from(username: "u", password: "p") == .basic(username: "u", password: "p"))
    let auth = Data("user:pa:ss".utf8).base64EncodedString()
    #expect(try RegistryCredentials.from(auth: auth) == .basic(username: "user", password: "pa:ss"))
    #expect(try RegistryCredentials.from(identityToken: "refresh") == .identityToken("refresh"))
    #expect(try RegistryCredentials.from(registryToken: "bearer") == .registryToken("bearer"))
    #expect(try RegistryCredentials.from(username: "u", password: "p", registryToken: "t") == .registryToken("t"))
    #expect(try RegistryCredentials.from() == nil)
    #expect(throws: RegistryCredentials.DecodeError.invalidAuth) { try RegistryCredentials.from(auth: "!!!") }
    #expect(throws: RegistryCredentials.DecodeError.invalidAuth) {
      try RegistryCredentials.from(auth: Data("no-colon".utf8).base64EncodedString())
    }
  }

  @Test func descriptionsNeverShowSecrets() throws {
    for credentials: RegistryCredentials in [
      .basic(username: "alice", password: "TOPSECRET"), .identityToken("TOPSECRET"), .registryToken("TOPSECRET"),
    ] {
      #expect(!credentials.description.contains("TOPSECRET"))
      #expect(!"\(credentials)".contains("TOPSECRET"))
    }
  }

  @Test func authFilesMatchTheMostSpecificEntry() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("auth-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let registryWide = Data("a:1".utf8).base64EncodedString()
    let repoOnly = Data("b:2".utf8).base64EncodedString()
    try """
      {"auths": {
        "https://index.docker.io/v1/": {"auth": "\(registryWide)"},
        "registry.test": {"auth": "\(registryWide)"},
        "registry.test/team/app": {"auth": "\(repoOnly)"},
        "token.test": {"identitytoken": "refresh"}
      }}
      """.write(toFile: path, atomically: true, encoding: .utf8)
    let file = try AuthFile.load(path: path)
    #expect(file.credentials(for: "registry.test/team/app") == .basic(username: "b", password: "2"))
    #expect(file.credentials(for: "registry.test/team/other") == .basic(username: "a", password: "1"))
    #expect(file.credentials(for: "docker.io/library/busybox") == .basic(username: "a", password: "1"))
    #expect(file.credentials(for: "token.test/x") == .identityToken("refresh"))
    #expect(file.credentials(for: "elsewhere.test/x") == nil)
  }

  @Test func brokenAuthFilesAreErrors() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("auth-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "not json".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: AuthFile.LoadError.self) { try AuthFile.load(path: path) }
    #expect(throws: AuthFile.LoadError.self) { try AuthFile.load(path: path + ".absent") }
  }
}

@Suite struct PlainHTTPProbeTests {
  @Test func splitsHostAndPort() {
    #expect(PlainHTTPProbe.split("127.0.0.1:5000")! == ("127.0.0.1", "5000"))
    #expect(PlainHTTPProbe.split("[::1]:5000")! == ("::1", "5000"))
    #expect(PlainHTTPProbe.split("registry.test") == nil)
    #expect(PlainHTTPProbe.split("[::1]") == nil)
  }

  @Test func aClosedPortIsNotPlainHTTP() {
    // Port 1 on loopback: nothing listens there.
    #expect(!PlainHTTPProbe.speaksPlainHTTP("127.0.0.1:1"))
  }
}
