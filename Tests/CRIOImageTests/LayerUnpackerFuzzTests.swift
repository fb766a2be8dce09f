import CRIOFuzz
import CRIOImage
import CRIOSystem
import CRIOTestSupport
import Foundation
import Glibc
import Testing

/// Hostile layers: mutated tar streams (header checksums repaired so the
/// mutations reach the parser), plain, gzip and zstd, unpacked into a scratch
/// directory next to a canary directory that a symlink in the seeds points
/// at. Whatever happens, the unpacker throws only `LayerError`, writes nothing
/// outside its target, and never writes more than the uncompressed limit.
@Suite struct LayerUnpackerFuzzTests {
  static let limits = UnpackLimits(maxUncompressedBytes: 2 << 20, maxEntries: 500, maxHeaderBytes: 64 << 10)

  static func seeds(outside: String, scratch: Scratch) throws -> [[UInt8]] {
    var basic = TarWriter()
    basic.directory("./", mode: 0o755)
    basic.directory("etc/", mode: 0o750, gid: 42)
    basic.add(.init(name: "etc/passwd", content: Array("root:x:0:0::/root:/bin/sh\n".utf8), mode: 0o644))
    basic.add(.init(name: "usr/bin/sudo", content: Array("#!".utf8), mode: 0o4755))
    basic.add(.init(name: "home/u/data", content: noise(1500, seed: 3), uid: 1000, gid: 1000, mtimeNanoseconds: 5))
    basic.symlink("bin/sh", to: "/bin/busybox")
    basic.hardLink("bin/ls", to: "usr/bin/sudo")

    var hostile = TarWriter()
    hostile.symlink("evil", to: outside)
    hostile.symlink("rel", to: "../outside")
    hostile.file("evil/pwned", "x")
    hostile.file("rel/pwned", "x")
    hostile.hardLink("link", to: "../outside/canary")
    hostile.file("../escape", "x")
    hostile.file("/abs", "x")
    hostile.add(.init(name: "dev/sda", kind: .blockDevice, major: 8, minor: 0))
    hostile.add(.init(name: "dev/null", kind: .characterDevice, major: 1, minor: 3))
    hostile.add(.init(name: "fifo", kind: .fifo))

    var extended = TarWriter()
    extended.add(.init(name: String(repeating: "long/", count: 30) + "x", xattrs: [("user.k", [1, 2])]))
    extended.add(.init(name: String(repeating: "g/", count: 60) + "y", linkName: String(repeating: "t", count: 150),
      gnuLongNames: true))
    extended.add(.init(name: "b256", content: [1, 2, 3], uid: 3_000_000, gid: 7, base256: true))
    extended.add(.init(name: "x", xattrs: [("trusted.overlay.redirect", Array("/x".utf8))],
      paxRecords: [("mtime", Array("1700000000.123456789".utf8)), ("atime", Array("-1.5".utf8))]))
    extended.addGlobal([("comment", Array("global".utf8))])
    extended.file("d/.wh.gone")
    extended.file("d/.wh..wh..opq")
    extended.add(.init(name: "lie", content: [1, 2, 3], sizeField: 99_999))
    extended.add(.init(name: "raw", kind: .raw(UInt8(ascii: "V")), content: noise(700, seed: 2)))

    var tiny = TarWriter()
    tiny.file("a", "b")
    let gzip = try Compressor.gzip.compress(tiny.archive, in: scratch)
    let zstd = try Compressor.zstd.compress(basic.archive, in: scratch)
    let bomb = try Compressor.gzip.compress([UInt8](repeating: 0, count: 8 << 20), in: scratch)
    return [basic.archive, hostile.archive, extended.archive, tiny.archive, gzip, zstd, bomb]
  }

  static let dictionary: [[UInt8]] = [
    "../", "/", "./", ".wh.", ".wh..wh..opq", "ustar\u{0}00", "ustar  \u{0}", "77777777777", "\u{80}\u{0}\u{0}\u{0}",
    " path=../../x\n", "30 linkpath=/etc/passwd\n", "20 size=99999999999\n", "GNU.sparse.major", "SCHILY.xattr.",
    "security.capability", "/tmp", "\u{ff}\u{ff}\u{ff}\u{ff}",
  ].map { Array($0.utf8) }

  @Test func fuzzLayerUnpacking() async throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    let outside = try scratch.directory("outside")
    let canary = Array("canary".utf8)
    _ = try scratch.write("outside/canary", canary)
    let seeds = try Self.seeds(outside: outside, scratch: scratch)
    let blob = scratch.path("case.blob")
    let target = scratch.path("layer")
    var unpacked = 0
    var refused = 0

    try await Fuzzer(
      target: "layer-unpacker", seeds: seeds, dictionary: Self.dictionary, maxLength: 256 << 10,
      fixup: { bytes, rng in TarChecksum.fixup(bytes, rng: &rng) }
    ).run { input in
      try Data(input).write(to: URL(fileURLWithPath: blob))
      try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
      do {
        let layer = try LayerUnpacker(limits: Self.limits).unpack(blob: blob, into: target)
        unpacked += 1
        guard layer.uncompressedSize <= Self.limits.maxUncompressedBytes else {
          throw FuzzViolation("unpacked \(layer.uncompressedSize) bytes, over the limit")
        }
      } catch is LayerError {
        refused += 1
      }
      let written = try Self.regularFileBytes(under: target)
      guard written <= Self.limits.maxUncompressedBytes else {
        throw FuzzViolation("\(written) bytes of files written, over the \(Self.limits.maxUncompressedBytes) limit")
      }
      try FileManager.default.removeItem(atPath: target)
      let around = Set(try FileManager.default.contentsOfDirectory(atPath: scratch.root))
      guard around == ["outside", "case.blob"] else { throw FuzzViolation("written beside the layer: \(around)") }
      guard try FileManager.default.contentsOfDirectory(atPath: outside) == ["canary"],
        contents("\(outside)/canary") == canary, FileSystemCalls.extendedAttributeNames(path: outside).isEmpty
      else { throw FuzzViolation("the directory outside the layer was changed") }
    }
    #expect(unpacked > 0 && refused > 0, "\(unpacked) unpacked, \(refused) refused")
  }

  /// Bytes held by regular files below `root` (symlinks not followed).
  static func regularFileBytes(under root: String) throws -> Int64 {
    var total: Int64 = 0
    var pending = [root]
    while let dir = pending.popLast() {
      for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
        let path = "\(dir)/\(name)"
        guard let st = lstatOf(path) else { continue }
        if fileType(st) == S_IFDIR {
          pending.append(path)
        } else if fileType(st) == S_IFREG {
          total += Int64(st.st_size)
        }
      }
    }
    return total
  }
}
