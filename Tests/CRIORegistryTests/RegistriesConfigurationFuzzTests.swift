import CRIOFuzz
import OCI
import Testing

@testable import CRIORegistry

/// Hostile registries.conf files: parsing throws only `LoadError`, and
/// resolving references with whatever it accepts throws only `ResolveError`.
@Suite struct RegistriesConfigurationFuzzTests {
  static let references = [
    "busybox:1.36", "pause", "registry.k8s.io/pause:3.10", "quay.io/blocked/x", "a.example.test/ns/app",
    "127.0.0.1:5004/app@sha256:" + String(repeating: "d", count: 64), "docker.io/library/busybox",
  ].map { try! ImageReference(parsing: $0) }

  static let dictionary: [[UInt8]] = Mutator.tomlTokens + [
    "unqualified-search-registries = ", "[[registry]]\n", "[[registry.mirror]]\n", "prefix = ", "location = ",
    "insecure = true\n", "blocked = true\n", "mirror-by-digest-only = true\n", "pull-from-mirror = \"digest-only\"\n",
    "[aliases]\n", "\"*.example.test\"", "\"docker.io/library\"", "\"127.0.0.1:5000/x\"", "\"\"", "/",
  ].map { Array($0.utf8) }

  @Test func fuzzRegistriesConfParsingAndResolution() async throws {
    var parsed = 0
    try await Fuzzer(
      target: "registries-conf", seeds: [RegistriesConfigurationTests.sample, "", "[[registry]]\nlocation = \"x\"\n"],
      dictionary: Self.dictionary, maxLength: 16 << 10
    ).run { input in
      var warnings: [String] = []
      let config: RegistriesConfiguration
      do {
        config = try RegistriesConfiguration.parse(String(decoding: input, as: UTF8.self), path: "fuzz.conf", warnings: &warnings)
      } catch is RegistriesConfiguration.LoadError {
        return
      }
      parsed += 1
      let resolver = PullSourceResolver(configuration: config)
      for reference in Self.references {
        do {
          for name in try resolver.candidates(for: reference) {
            _ = try resolver.resolve(name)
          }
        } catch is ResolveError {}
      }
    }
    #expect(parsed > 0)
  }
}
