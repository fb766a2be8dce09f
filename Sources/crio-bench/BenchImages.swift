import CRIOTestSupport
import Foundation

/// The images the workload pulls, built in memory and pushed to a registry
/// both runtimes can reach. Their bytes are reproducible (fixed timestamps, a
/// seeded generator for the random layers), so pushing them again into a
/// long-lived registry stores nothing new.
struct BenchImages {
  /// Pulled and removed over and over: busybox-static, one layer.
  let small: TestImage
  /// Runs the containers; a different image from `small` (a marker file), so
  /// removing `small` never touches it and the two share no layer.
  let run: TestImage
  /// The multi-layer image: busybox plus `layers` layers of incompressible data.
  let large: TestImage
  let prefix: String

  var smallName: String { "\(prefix)/busybox:pull" }
  var runName: String { "\(prefix)/busybox:run" }
  var largeName: String { "\(prefix)/large:\(largeTag)" }
  private let largeTag: String

  /// - Parameters:
  ///   - prefix: `host[:port]/path`, the repository prefix both runtimes pull from.
  ///   - largeMiB: the size of the random data in the large image.
  init(prefix: String, largeMiB: Int, layers: Int = 4) throws {
    self.prefix = prefix
    small = try TestImage(layerTars: [try Self.busyboxLayer(marker: "pull")], label: "crio-bench-pull")
    run = try TestImage(layerTars: [try Self.busyboxLayer(marker: "run")], label: "crio-bench-run")
    var tars = [try Self.busyboxLayer(marker: "large")]
    var generator = SplitMix64(seed: UInt64(largeMiB))
    let perLayer = max(1, largeMiB * 1024 * 1024 / layers)
    for index in 0..<layers {
      var tar = TarWriter()
      tar.directory("data", mode: 0o755)
      tar.add(TarWriter.Entry(name: "data/random-\(index)", kind: .file, content: generator.bytes(perLayer), mode: 0o644))
      tars.append(tar.archive)
    }
    large = try TestImage(layerTars: tars, label: "crio-bench-large")
    largeTag = "\(largeMiB)m"
  }

  /// Debian's busybox-static with its applets as hard links, /etc/passwd and
  /// /etc/group, and `/etc/crio-bench` holding `marker`. Unlike
  /// `TestImage.busyboxLayer`, each hard-link header carries the binary's mode
  /// (0755) as tar(1) writes it: containerd applies a link header's mode to the
  /// file, and 0644 there would leave the shell not executable.
  static func busyboxLayer(marker: String) throws -> [UInt8] {
    let busybox = "/bin/busybox"
    guard let binary = FileManager.default.contents(atPath: busybox) else {
      throw BenchError("\(busybox) is missing: run `make deps` (Debian package busybox-static)")
    }
    var tar = TarWriter()
    for dir in ["bin", "etc", "tmp", "var", "root", "home"] {
      tar.directory(dir, mode: dir == "tmp" ? 0o1777 : 0o755)
    }
    tar.add(TarWriter.Entry(name: "bin/busybox", kind: .file, content: Array(binary), mode: 0o755))
    for applet in ["sh", "ls", "cat", "echo", "sleep", "id", "true", "false", "env", "ps", "wc", "head", "touch"] {
      tar.add(TarWriter.Entry(name: "bin/\(applet)", kind: .hardLink, mode: 0o755, linkName: "bin/busybox"))
    }
    tar.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
    tar.file("etc/group", "root:x:0:\nnogroup:x:65534:\n")
    tar.file("etc/crio-bench", marker + "\n")
    return tar.archive
  }

  /// Compressed bytes of an image's layers, as a registry serves them.
  static func size(_ image: TestImage) -> Int { image.layers.reduce(0) { $0 + $1.size } + image.config.size }

  func push(to registry: String) async throws {
    let repositoryPrefix = prefix.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
    func repository(_ name: String) -> String { repositoryPrefix.isEmpty ? name : "\(repositoryPrefix)/\(name)" }
    try await small.push(to: registry, repository: repository("busybox"), tag: "pull")
    try await run.push(to: registry, repository: repository("busybox"), tag: "run")
    try await large.push(to: registry, repository: repository("large"), tag: largeTag)
  }
}

/// A small, fast, seeded generator: the large image's data is the same on
/// every run (same digests) and does not compress.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func bytes(_ count: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { raw in
      let words = count / 8
      for i in 0..<words { raw.storeBytes(of: next().littleEndian, toByteOffset: i * 8, as: UInt64.self) }
      var tail = next()
      for i in (words * 8)..<count {
        raw[i] = UInt8(truncatingIfNeeded: tail)
        tail >>= 8
      }
    }
    return out
  }
}
