import CRIOImage
import CRIOSystem
import CRIOTestSupport
import Foundation
import Glibc
import Testing

@Suite struct LayerUnpackerTests {
  // MARK: - What gets written

  @Test func regularFilesAndDirectoriesKeepContentModesOwnersAndTimes() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    let big = noise(600 * 1024 + 17, seed: 1)  // crosses 256 KiB chunks and ends mid-block
    var tar = TarWriter()
    tar.directory("./", mode: 0o755)
    tar.directory("etc/", mode: 0o750, uid: 0, gid: 42, mtime: 1_600_000_000)
    tar.add(.init(name: "etc/passwd", content: Array("root:x:0:0::/root:/bin/sh\n".utf8), mode: 0o644, mtime: 1_500_000_000))
    tar.add(.init(name: "usr/bin/sudo", content: Array("#!".utf8), mode: 0o4755, uid: 0, gid: 0))
    tar.add(.init(name: "usr/bin/wall", content: [], mode: 0o2755, gid: 5))
    tar.add(.init(name: "home/u/big.bin", content: big, mode: 0o600, uid: 1000, gid: 2000, mtime: 1_234_567_890, mtimeNanoseconds: 123_456_789))
    tar.directory("tmp/", mode: 0o1777)
    tar.add(.init(name: "./etc/empty", content: [], mode: 0o400))
    let layer = try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    #expect(layer.entryCount == 8)
    #expect(layer.uncompressedSize == Int64(tar.archive.count))
    #expect(contents("\(root)/etc/passwd") == Array("root:x:0:0::/root:/bin/sh\n".utf8))
    #expect(contents("\(root)/home/u/big.bin") == big)
    #expect(contents("\(root)/etc/empty") == [])

    let passwd = try #require(lstatOf("\(root)/etc/passwd"))
    #expect(passwd.st_mode & 0o7777 == 0o644)
    #expect(passwd.st_mtim.tv_sec == 1_500_000_000)
    let sudo = try #require(lstatOf("\(root)/usr/bin/sudo"))
    #expect(sudo.st_mode & 0o7777 == 0o4755)
    let wall = try #require(lstatOf("\(root)/usr/bin/wall"))
    #expect(wall.st_mode & 0o7777 == 0o2755)
    #expect(wall.st_gid == 5)
    let bigStat = try #require(lstatOf("\(root)/home/u/big.bin"))
    #expect(bigStat.st_uid == 1000 && bigStat.st_gid == 2000)
    #expect(bigStat.st_mode & 0o7777 == 0o600)
    #expect(bigStat.st_mtim.tv_sec == 1_234_567_890 && bigStat.st_mtim.tv_nsec == 123_456_789)

    // Directory times are set after their entries were written.
    let etc = try #require(lstatOf("\(root)/etc"))
    #expect(fileType(etc) == S_IFDIR)
    #expect(etc.st_mode & 0o7777 == 0o750)
    #expect(etc.st_gid == 42)
    #expect(etc.st_mtim.tv_sec == 1_600_000_000)
    let tmp = try #require(lstatOf("\(root)/tmp"))
    #expect(tmp.st_mode & 0o7777 == 0o1777)
    // Parents without an entry of their own are made 0755.
    let usr = try #require(lstatOf("\(root)/usr"))
    #expect(fileType(usr) == S_IFDIR && usr.st_mode & 0o7777 == 0o755)
    let rootStat = try #require(lstatOf(root))
    #expect(rootStat.st_mtim.tv_sec == 1_700_000_000)
  }

  @Test func symlinksKeepTheirTargetVerbatimAndHardLinksShareTheInode() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "bin/busybox", content: Array("ELF".utf8), mode: 0o755))
    tar.add(.init(name: "bin/sh", kind: .symlink, uid: 7, gid: 8, mtime: 1_111_111_111, linkName: "/bin/busybox"))
    tar.symlink("bin/dangling", to: "../nowhere/at/all")
    tar.hardLink("bin/ls", to: "bin/busybox")
    tar.hardLink("sbin/init", to: "./bin/busybox")
    tar.hardLink("bin/sh-link", to: "bin/sh")  // a hard link to a symlink links the symlink
    try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    #expect(readLink("\(root)/bin/sh") == "/bin/busybox")
    #expect(readLink("\(root)/bin/dangling") == "../nowhere/at/all")
    let sh = try #require(lstatOf("\(root)/bin/sh"))
    #expect(fileType(sh) == S_IFLNK)
    #expect(sh.st_uid == 7 && sh.st_gid == 8)
    #expect(sh.st_mtim.tv_sec == 1_111_111_111)

    let busybox = try #require(lstatOf("\(root)/bin/busybox"))
    let ls = try #require(lstatOf("\(root)/bin/ls"))
    let initStat = try #require(lstatOf("\(root)/sbin/init"))
    #expect(ls.st_ino == busybox.st_ino && initStat.st_ino == busybox.st_ino)
    #expect(busybox.st_nlink == 3)
    let shLink = try #require(lstatOf("\(root)/bin/sh-link"))
    #expect(fileType(shLink) == S_IFLNK && shLink.st_ino == sh.st_ino)
  }

  @Test func devicesAndFifosAreCreated() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "dev/null", kind: .characterDevice, mode: 0o666, major: 1, minor: 3))
    tar.add(.init(name: "dev/loop0", kind: .blockDevice, mode: 0o660, gid: 6, major: 7, minor: 0))
    tar.add(.init(name: "run/initctl", kind: .fifo, mode: 0o600, uid: 3))
    try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    let null = try #require(lstatOf("\(root)/dev/null"))
    #expect(fileType(null) == S_IFCHR)
    #expect(null.st_mode & 0o7777 == 0o666)
    #expect(FileSystemCalls.deviceMajor(UInt64(null.st_rdev)) == 1)
    #expect(FileSystemCalls.deviceMinor(UInt64(null.st_rdev)) == 3)
    let loop = try #require(lstatOf("\(root)/dev/loop0"))
    #expect(fileType(loop) == S_IFBLK)
    #expect(loop.st_gid == 6 && loop.st_mode & 0o7777 == 0o660)
    #expect(FileSystemCalls.deviceMajor(UInt64(loop.st_rdev)) == 7)
    let fifo = try #require(lstatOf("\(root)/run/initctl"))
    #expect(fileType(fifo) == S_IFIFO)
    #expect(fifo.st_uid == 3 && fifo.st_mode & 0o7777 == 0o600)
  }

  @Test func extendedAttributesAreSetButOverlayStateIsNotForged() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "usr/bin/ping", content: [1], mode: 0o755, xattrs: [
      ("user.comment", Array("hello".utf8)),
      ("trusted.crio-test", [0, 1, 2, 255]),
    ]))
    tar.add(.init(name: "data/", kind: .directory, mode: 0o755, xattrs: [("user.dir", Array("d".utf8))]))
    tar.add(.init(name: "data/link", kind: .symlink, linkName: "/x", xattrs: [("trusted.link", Array("l".utf8))]))
    tar.add(.init(name: "sneaky/", kind: .directory, xattrs: [
      ("trusted.overlay.redirect", Array("/etc".utf8)),
      ("trusted.overlay.opaque", Array("y".utf8)),
    ]))
    try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/usr/bin/ping", name: "user.comment") == Array("hello".utf8))
    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/usr/bin/ping", name: "trusted.crio-test") == [0, 1, 2, 255])
    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/data", name: "user.dir") == Array("d".utf8))
    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/data/link", name: "trusted.link") == Array("l".utf8))
    #expect(FileSystemCalls.extendedAttributeNames(path: "\(root)/sneaky").filter { $0.hasPrefix("trusted.overlay.") } == [])
  }

  @Test func xattrsTheFileSystemCannotHoldAreSkippedOtherFailuresAreNot() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "f", content: [1], xattrs: [("nonamespace.attr", [1])]))  // EOPNOTSUPP
    try unpack(tar.archive, in: scratch)
    #expect(contents(scratch.path("layer/f")) == [1])
    try? FileManager.default.removeItem(atPath: scratch.path("layer"))

    let longName = "user." + String(repeating: "a", count: 300)
    var bad = TarWriter()
    bad.add(.init(name: "g", content: [1], xattrs: [(longName, [1])]))
    #expect(try unpackError(bad.archive, in: scratch)
      == .fileSystem(entry: "g", operation: "set xattr \(longName)", errno: ERANGE))
  }

  @Test func longNamesAndLinksThroughPAXAndGNUHeaders() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    let deep = (1...12).map { "directory-level-\($0)" }.joined(separator: "/")  // > 255 bytes
    let longTarget = "/" + String(repeating: "t", count: 150)
    var tar = TarWriter()
    tar.file("\(deep)/file-with-a-long-path.txt", "pax")
    tar.add(.init(name: "gnu/" + String(repeating: "g", count: 180), content: Array("gnu".utf8), gnuLongNames: true))
    tar.add(.init(name: "links/pax", kind: .symlink, linkName: longTarget))
    tar.add(.init(name: "links/gnu", kind: .symlink, linkName: longTarget + "/gnu", gnuLongNames: true))
    tar.add(.init(name: "links/hard-to-long", kind: .hardLink, linkName: "\(deep)/file-with-a-long-path.txt"))
    let prefix = (1...5).map { "prefix-part-\($0)" }.joined(separator: "/")
    tar.add(.init(name: "in-prefix.txt", content: Array("ustar".utf8), ustarPrefix: prefix))
    let layer = try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    #expect(layer.entryCount == 6)
    #expect(contents("\(root)/\(prefix)/in-prefix.txt") == Array("ustar".utf8))
    #expect(contents("\(root)/\(deep)/file-with-a-long-path.txt") == Array("pax".utf8))
    #expect(contents("\(root)/gnu/" + String(repeating: "g", count: 180)) == Array("gnu".utf8))
    #expect(readLink("\(root)/links/pax") == longTarget)
    #expect(readLink("\(root)/links/gnu") == longTarget + "/gnu")
    let original = try #require(lstatOf("\(root)/\(deep)/file-with-a-long-path.txt"))
    #expect(lstatOf("\(root)/links/hard-to-long")?.st_ino == original.st_ino)
  }

  @Test func base256NumbersAndGlobalPAXRecords() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "big-ids", content: Array("x".utf8), uid: 3_000_000, gid: 4_000_000, base256: true))
    tar.addGlobal([("uid", Array("4242".utf8)), ("mtime", Array("1000000000.5".utf8)), ("comment", Array("git".utf8))])
    tar.file("global-a", "a")
    tar.add(.init(name: "global-b", content: [], paxRecords: [("uid", Array("7".utf8))]))
    tar.addGlobal([("uid", [])])  // an empty value removes the global record
    tar.file("after", "z", uid: 9)
    try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    let big = try #require(lstatOf("\(root)/big-ids"))
    #expect(big.st_uid == 3_000_000 && big.st_gid == 4_000_000)
    let a = try #require(lstatOf("\(root)/global-a"))
    #expect(a.st_uid == 4242)
    #expect(a.st_mtim.tv_sec == 1_000_000_000 && a.st_mtim.tv_nsec == 500_000_000)
    #expect(lstatOf("\(root)/global-b")?.st_uid == 7)
    #expect(lstatOf("\(root)/after")?.st_uid == 9)
  }

  @Test func whiteoutsBecomeOverlayWhiteoutsAndOpaqueDirectories() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.directory("etc/")
    tar.file("etc/.wh.passwd")
    tar.file(".wh.toplevel")
    tar.add(.init(name: "var/lib/apt/.wh..wh..opq"))  // its directory does not exist yet
    tar.directory("opt/")
    tar.file("opt/.wh..wh..opq")
    tar.file("opt/keep", "kept")
    tar.file("etc/.wh..wh.plnk")  // AUFS bookkeeping: dropped
    try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    let passwd = try #require(lstatOf("\(root)/etc/passwd"))
    #expect(fileType(passwd) == S_IFCHR)
    #expect(passwd.st_rdev == 0)
    let top = try #require(lstatOf("\(root)/toplevel"))
    #expect(fileType(top) == S_IFCHR && top.st_rdev == 0)
    #expect(lstatOf("\(root)/etc/.wh.passwd") == nil)
    #expect(lstatOf("\(root)/.wh.toplevel") == nil)
    #expect(lstatOf("\(root)/etc/.wh..wh.plnk") == nil)
    #expect(lstatOf("\(root)/opt/.wh..wh..opq") == nil)
    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/var/lib/apt", name: "trusted.overlay.opaque") == [UInt8(ascii: "y")])
    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/opt", name: "trusted.overlay.opaque") == [UInt8(ascii: "y")])
    #expect(FileSystemCalls.extendedAttribute(path: "\(root)/etc", name: "trusted.overlay.opaque") == nil)
    #expect(contents("\(root)/opt/keep") == Array("kept".utf8))
  }

  @Test func laterEntriesReplaceEarlierOnesOfAnotherKind() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.file("a", "file first")
    tar.directory("a/")  // a directory where a file was
    tar.file("a/inside", "in a")
    tar.directory("b/")
    tar.file("b/deep/er/file", "gone")
    tar.file("b", "file over a tree")  // a file where a directory tree was
    tar.symlink("c", to: "/etc")
    tar.directory("c/")  // a real directory where a symlink was: nothing written to /etc
    tar.file("c/ok", "in c")
    tar.file("d", "old")
    tar.file("d", "new")  // same kind: the later one wins
    tar.directory("e/", mode: 0o700)
    tar.file("e/kept", "stays")
    tar.directory("e/", mode: 0o711)  // a directory over a directory keeps its contents
    tar.add(.init(name: "f", kind: .fifo))
    tar.symlink("f", to: "target")
    try unpack(tar.archive, in: scratch)
    let root = scratch.path("layer")

    #expect(contents("\(root)/a/inside") == Array("in a".utf8))
    #expect(contents("\(root)/b") == Array("file over a tree".utf8))
    #expect(fileType(try #require(lstatOf("\(root)/c"))) == S_IFDIR)
    #expect(contents("\(root)/c/ok") == Array("in c".utf8))
    #expect(lstatOf("/etc/ok") == nil)
    #expect(contents("\(root)/d") == Array("new".utf8))
    #expect(contents("\(root)/e/kept") == Array("stays".utf8))
    let e = try #require(lstatOf("\(root)/e"))
    #expect(e.st_mode & 0o7777 == 0o711)
    #expect(readLink("\(root)/f") == "target")
  }

  // MARK: - Compression and the DiffID

  @Test(arguments: Compressor.allCases)
  func diffIDIsTheSHA256OfTheUncompressedTar(_ compressor: Compressor) throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.directory("data/")
    tar.add(.init(name: "data/blob", content: noise(700_000, seed: 7)))
    tar.file("data/small", "small")
    let plain = tar.archive
    let expected = try sha256sum(plain, in: scratch)

    let layer = try unpack(plain, compressor, in: scratch)
    #expect(layer.diffID == expected)
    #expect(layer.uncompressedSize == Int64(plain.count))
    let expectedCompression: LayerCompression =
      switch compressor {
      case .none: .uncompressed
      case .gzip: .gzip
      case .zstd: .zstd
      }
    #expect(layer.compression == expectedCompression)
    #expect(contents(scratch.path("layer/data/blob")) == noise(700_000, seed: 7))
  }

  @Test func concatenatedGzipMembersAndTrailingPaddingCount() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "one", content: noise(100_000, seed: 3)))
    tar.file("two", "2")
    // Some writers pad past the end-of-archive marker; the DiffID covers it.
    let plain = tar.archive + [UInt8](repeating: 0, count: 10 * 512)
    let cut = 70_000
    let blob = try Compressor.gzip.compress(Array(plain[..<cut]), in: scratch)
      + Compressor.gzip.compress(Array(plain[cut...]), in: scratch)
    let path = try scratch.write("multi.gz", blob)
    let target = try scratch.directory("multi")
    let layer = try LayerUnpacker().unpack(blob: path, into: target)
    #expect(layer.diffID == (try sha256sum(plain, in: scratch)))
    #expect(layer.uncompressedSize == Int64(plain.count))
    #expect(contents("\(target)/one") == noise(100_000, seed: 3))
  }

  @Test func anEmptyStreamIsAnEmptyLayer() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    let layer = try unpack([], in: scratch)
    #expect(layer.entryCount == 0 && layer.uncompressedSize == 0)
    #expect(layer.diffID == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }

  @Test func unpacksWhatGNUTarWrites() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    let source = try scratch.directory("source")
    let deep = (1...8).map { "d\($0)-" + String(repeating: "x", count: 30) }.joined(separator: "/")
    try FileManager.default.createDirectory(atPath: "\(source)/\(deep)", withIntermediateDirectories: true)
    _ = try scratch.write("source/\(deep)/f", Array("deep".utf8))
    _ = try scratch.write("source/plain", Array("plain".utf8))
    #expect(link("\(source)/plain", "\(source)/hard") == 0)
    #expect(symlink("/usr/bin/env", "\(source)/sym") == 0)
    for format in ["gnu", "pax"] {
      let tarPath = scratch.path("\(format).tar")
      try run(["/usr/bin/tar", "--format=\(format)", "-C", source, "-cf", tarPath, "."])
      let target = try scratch.directory("out-\(format)")
      let layer = try LayerUnpacker().unpack(blob: tarPath, into: target)
      #expect(layer.diffID == (try sha256sum(contents(tarPath) ?? [], in: scratch)))
      #expect(contents("\(target)/\(deep)/f") == Array("deep".utf8), "format \(format)")
      #expect(lstatOf("\(target)/hard")?.st_ino == lstatOf("\(target)/plain")?.st_ino, "format \(format)")
      #expect(readLink("\(target)/sym") == "/usr/bin/env", "format \(format)")
    }
  }

  // MARK: - Hostile layers

  @Test func refusesAbsolutePaths() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.file("/etc/crio-test-escape", "x")
    #expect(try unpackError(tar.archive, in: scratch) == .absolutePath(entry: "/etc/crio-test-escape"))
    #expect(lstatOf("/etc/crio-test-escape") == nil)
  }

  @Test(arguments: ["../escape", "a/../../escape", "ok/../escape", "./.."])
  func refusesParentComponents(_ name: String) throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.file(name, "x")
    #expect(try unpackError(tar.archive, in: scratch) == .parentTraversal(entry: name))
    #expect(lstatOf(scratch.path("escape")) == nil)
  }

  @Test func refusesHardLinksOutOfTheLayer() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    _ = try scratch.write("x", Array("secret".utf8))  // exists next to the target dir
    let cases: [(String, String)] = [
      ("../x", "has a \"..\" component"),
      ("/etc/shadow", "is absolute"),
      ("missing", "does not exist in this layer"),
      ("nodir/missing", "does not exist in this layer"),
    ]
    for (target, reason) in cases {
      var tar = TarWriter()
      tar.hardLink("link", to: target)
      #expect(try unpackError(tar.archive, in: scratch) == .invalidHardLink(entry: "link", target: target, reason: reason))
      try? FileManager.default.removeItem(atPath: scratch.path("layer"))
    }
    // Through a symlink to a directory outside: refused before linking.
    var tar = TarWriter()
    tar.symlink("out", to: scratch.root)
    tar.hardLink("link", to: "out/x")
    let error = try unpackError(tar.archive, in: scratch)
    #expect(error == .invalidHardLink(entry: "link", target: "out/x", reason: "goes through the symlink \"out\""))
    #expect(lstatOf(scratch.path("x"))?.st_nlink == 1)
  }

  @Test func refusesWritingThroughASymlink() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    let outside = try scratch.directory("outside")
    for name in ["evil/file", "evil/sub/file", "evil/dir/"] {
      var tar = TarWriter()
      tar.symlink("evil", to: outside)
      if name.hasSuffix("/") { tar.directory(name) } else { tar.file(name, "pwned") }
      let error = try unpackError(tar.archive, in: scratch)
      #expect(error == .pathThroughSymlink(entry: name, symlink: "evil"))
      #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == [], "after \(name)")
      try? FileManager.default.removeItem(atPath: scratch.path("layer"))
    }
    // A symlink deeper down, and a relative one.
    var tar = TarWriter()
    tar.directory("a/")
    tar.symlink("a/b", to: "../../outside")
    tar.add(.init(name: "a/b/c", kind: .characterDevice, major: 1, minor: 3))
    #expect(try unpackError(tar.archive, in: scratch) == .pathThroughSymlink(entry: "a/b/c", symlink: "a/b"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == [])
    // A whiteout and an opaque marker through a symlink.
    for name in ["evil/.wh.victim", "evil/.wh..wh..opq"] {
      try? FileManager.default.removeItem(atPath: scratch.path("layer"))
      _ = try scratch.write("outside/victim", Array("v".utf8))
      var tar = TarWriter()
      tar.symlink("evil", to: outside)
      tar.file(name)
      #expect(try unpackError(tar.archive, in: scratch) == .pathThroughSymlink(entry: name, symlink: "evil"))
      #expect(contents("\(outside)/victim") == Array("v".utf8))
      #expect(FileSystemCalls.extendedAttributeNames(path: outside).isEmpty)
    }
  }

  @Test func refusesAFileUnderAFile() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.file("f", "x")
    tar.file("f/g", "y")
    #expect(try unpackError(tar.archive, in: scratch) == .parentNotADirectory(entry: "f/g", parent: "f"))
  }

  @Test func refusesWhiteoutsThatNameNothing() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    for name in ["dir/.wh.", "dir/.wh..", "dir/.wh..."] {
      var tar = TarWriter()
      tar.file(name)
      #expect(try unpackError(tar.archive, in: scratch) == .invalidWhiteout(entry: name))
      try? FileManager.default.removeItem(atPath: scratch.path("layer"))
    }
  }

  @Test func refusesATargetThatIsNotEmpty() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.file("a", "x")
    let blob = try scratch.write("layer.tar", tar.archive)
    let target = try scratch.directory("full")
    _ = try scratch.write("full/existing", [1])
    #expect(throws: LayerError.unusableTarget(path: target, reason: "it is not empty")) {
      try LayerUnpacker().unpack(blob: blob, into: target)
    }
  }

  // MARK: - Limits, truncation, garbage

  @Test func enforcesTheUncompressedByteLimit() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "big", content: [UInt8](repeating: 1, count: 64 * 1024)))
    let limits = UnpackLimits(maxUncompressedBytes: 16 * 1024)
    // A declared size past the limit fails at its header...
    #expect(try unpackError(tar.archive, .gzip, in: scratch, limits: limits)
      == .limitExceeded(.uncompressedBytes, limit: 16 * 1024, entry: "big"))
    // ... and a bomb of zeros (no entry at all) while it streams.
    let bomb = try Compressor.gzip.compress([UInt8](repeating: 0, count: 8 << 20), in: scratch)
    #expect(bomb.count < 64 * 1024)
    let blob = try scratch.write("bomb.gz", bomb)
    #expect(unpackBlobError(blob, in: scratch, limits: UnpackLimits(maxUncompressedBytes: 1 << 20))
      == .limitExceeded(.uncompressedBytes, limit: 1 << 20, entry: nil))
  }

  @Test func enforcesTheEntryHeaderAndPathLimits() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    for i in 0..<5 { tar.file("f\(i)", "x") }
    #expect(try unpackError(tar.archive, in: scratch, limits: UnpackLimits(maxEntries: 3))
      == .limitExceeded(.entries, limit: 3, entry: "f3"))
    try? FileManager.default.removeItem(atPath: scratch.path("layer"))

    var pax = TarWriter()
    pax.add(.init(name: "x", paxRecords: [("comment", [UInt8](repeating: 65, count: 8192))]))
    #expect(try unpackError(pax.archive, in: scratch, limits: UnpackLimits(maxHeaderBytes: 4096))
      == .limitExceeded(.headerBytes, limit: 4096, entry: nil))
    try? FileManager.default.removeItem(atPath: scratch.path("layer"))

    // Many extended headers for one entry add up.
    var many = TarWriter()
    for i in 0..<3 { many.addExtendedHeader([("comment\(i)", [UInt8](repeating: 66, count: 2000))]) }
    many.file("x", "x")
    #expect(try unpackError(many.archive, in: scratch, limits: UnpackLimits(maxHeaderBytes: 4096))
      == .limitExceeded(.headerBytes, limit: 4096, entry: nil))
    try? FileManager.default.removeItem(atPath: scratch.path("layer"))

    var long = TarWriter()
    let name = String(repeating: "n/", count: 3000)
    long.file(name + "f", "x")
    #expect(try unpackError(long.archive, in: scratch)
      == .limitExceeded(.pathBytes, limit: 4096, entry: name + "f"))
  }

  @Test func refusesTruncatedStreams() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "data", content: noise(200_000, seed: 9)))
    let plain = tar.archive

    for compressor in [Compressor.gzip, .zstd] {
      let whole = try compressor.compress(plain, in: scratch)
      for keep in [whole.count - 4, whole.count / 2] {
        let blob = try scratch.write("cut.\(compressor)", Array(whole.prefix(keep)))
        let error = unpackBlobError(blob, in: scratch)
        guard case .truncated = error else {
          Issue.record("\(compressor) cut to \(keep) of \(whole.count): \(String(describing: error))")
          continue
        }
        try? FileManager.default.removeItem(atPath: scratch.path("layer"))
      }
    }
    // A plain tar that stops inside a file's data, or inside a header.
    for keep in [512 + 1000, 300] {
      let error = try unpackError(Array(plain.prefix(keep)), in: scratch)
      guard case .truncated = error else {
        Issue.record("plain cut to \(keep): \(String(describing: error))")
        continue
      }
      try? FileManager.default.removeItem(atPath: scratch.path("layer"))
    }
  }

  @Test func refusesCorruptCompressedData() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "data", content: noise(200_000, seed: 5)))
    for compressor in [Compressor.gzip, .zstd] {
      var blob = try compressor.compress(tar.archive, in: scratch)
      for i in stride(from: blob.count / 3, to: blob.count / 3 + 64, by: 1) { blob[i] ^= 0x5a }
      let path = try scratch.write("corrupt.\(compressor)", blob)
      let error = unpackBlobError(path, in: scratch)
      guard case .corruptCompressedData(let format, _) = error else {
        Issue.record("\(compressor): \(String(describing: error))")
        continue
      }
      #expect(format == compressor.rawValue)
      try? FileManager.default.removeItem(atPath: scratch.path("layer"))
    }
    // Garbage after a complete gzip member.
    let path = try scratch.write("trailing.gz", try Compressor.gzip.compress(tar.archive, in: scratch) + [1, 2, 3, 4])
    guard case .corruptCompressedData = unpackBlobError(path, in: scratch) else {
      Issue.record("garbage after a gzip member was accepted")
      return
    }
  }

  @Test func refusesGarbage() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let garbage = Array("this is not a tar archive at all\n".utf8) + noise(4096, seed: 11)
    let error = try unpackError(garbage, in: scratch)
    #expect(error == .malformedArchive(entry: nil, reason: "not a tar header (checksum mismatch)"))
    #expect(error.map { "\($0)" } == "malformed layer tar: not a tar header (checksum mismatch)")
    // The same garbage behind a gzip header.
    #expect(try unpackError(garbage, .gzip, in: scratch)
      == .malformedArchive(entry: nil, reason: "not a tar header (checksum mismatch)"))
  }

  @Test func refusesMalformedHeadersAndSparseFiles() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var badPax = TarWriter()
    badPax.add(.init(name: "x", paxRecords: [("size", Array("12abc".utf8))]))
    #expect(try unpackError(badPax.archive, in: scratch) == .malformedArchive(entry: "x", reason: "PAX size is not a number"))
    try? FileManager.default.removeItem(atPath: scratch.path("layer"))

    var sparse = TarWriter()
    sparse.add(.init(name: "holes", paxRecords: [("GNU.sparse.major", Array("1".utf8)), ("GNU.sparse.minor", Array("0".utf8))]))
    #expect(try unpackError(sparse.archive, in: scratch) == .unsupportedEntry(entry: "holes", reason: "sparse files"))
    try? FileManager.default.removeItem(atPath: scratch.path("layer"))

    // A PAX header whose entry never comes.
    var dangling = TarWriter()
    dangling.add(.init(name: "first", content: [1]))
    let full = dangling.archive
    var onlyPax = TarWriter()
    onlyPax.add(.init(name: "orphan", xattrs: [("user.a", [1])]))
    let orphan = Array(onlyPax.bytes.prefix(1024))  // the 'x' header and its records only
    let error = try unpackError(Array(full.dropLast(1024)) + orphan, in: scratch)
    guard case .truncated = error else {
      Issue.record("a dangling PAX header: \(String(describing: error))")
      return
    }
  }

  @Test func unknownEntryTypesAreSkipped() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "volume-label", kind: .raw(UInt8(ascii: "V")), content: noise(700, seed: 2)))
    tar.file("after", "ok")
    let layer = try unpack(tar.archive, in: scratch)
    #expect(layer.entryCount == 2)
    #expect(lstatOf(scratch.path("layer/volume-label")) == nil)
    #expect(contents(scratch.path("layer/after")) == Array("ok".utf8))
  }

  @Test func damagedArchivesFailCleanlyOrUnpackInside() throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.directory("d/")
    tar.add(.init(name: "d/f", content: noise(3000, seed: 4), mode: 0o640, uid: 5, mtimeNanoseconds: 7))
    tar.symlink("d/s", to: "/abs")
    tar.hardLink("d/h", to: "d/f")
    tar.add(.init(name: String(repeating: "long/", count: 30) + "x", xattrs: [("user.k", [1, 2])]))
    tar.add(.init(name: "d/.wh.gone"))
    tar.add(.init(name: "c", kind: .characterDevice, major: 1, minor: 5))
    let original = tar.archive
    let outside = try scratch.directory("outside")
    var failures = 0
    for round in 0..<300 {
      var damaged = original
      let flips = noise(8, seed: UInt64(round) + 100)
      for k in 0..<4 {
        let position = (Int(flips[2 * k]) << 8 | Int(flips[2 * k + 1])) % damaged.count
        damaged[position] = flips[(k + 3) % 8] ^ UInt8(truncatingIfNeeded: round)
      }
      let blob = try scratch.write("fuzz.tar", damaged)
      let target = try scratch.directory("fuzz-\(round)")
      do {
        _ = try LayerUnpacker().unpack(blob: blob, into: target)
      } catch {
        failures += 1
      }
      try? FileManager.default.removeItem(atPath: target)
    }
    #expect(failures > 0)
    #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == [])
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: scratch.root)) == ["outside", "fuzz.tar"])
  }

  @Test func errorMessagesNameTheEntryAndTheReason() {
    #expect("\(LayerError.pathThroughSymlink(entry: "evil/passwd", symlink: "evil"))"
      == "layer entry \"evil/passwd\" goes through the symlink \"evil\"")
    #expect("\(LayerError.invalidHardLink(entry: "l", target: "../x", reason: "has a \"..\" component"))"
      == "layer entry \"l\" is a hard link to \"../x\", which has a \"..\" component")
    #expect("\(LayerError.limitExceeded(.entries, limit: 3, entry: "f3"))"
      == "layer has more than 3 entries (at entry \"f3\")")
    #expect("\(LayerError.absolutePath(entry: "/a\nb"))" == "layer entry \"/a\\u{a}b\" has an absolute path")
  }
}
