import CRIOImage
import CRIOSystem
import CRIOTestSupport
import Foundation
import Glibc
import Testing

/// A scratch directory under /tmp, removed by `remove()`.
struct Scratch {
  let root: String

  init() throws {
    var template = Array("/tmp/crio-layer-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    root = String(cString: made)
  }

  func path(_ name: String) -> String { "\(root)/\(name)" }

  /// A new empty directory `name` in the scratch directory.
  func directory(_ name: String) throws -> String {
    let path = path(name)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = path(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  func remove() {
    // Whiteouts and immutable-free: a plain recursive removal will do.
    try? FileManager.default.removeItem(atPath: root)
  }
}

enum Compressor: String, CaseIterable, Sendable {
  case none, gzip, zstd

  /// `plain` compressed with the system's command.
  func compress(_ plain: [UInt8], in scratch: Scratch) throws -> [UInt8] {
    switch self {
    case .none: return plain
    case .gzip: return try runFilter(["/usr/bin/gzip", "-n", "-c"], plain, in: scratch)
    case .zstd: return try runFilter(["/usr/bin/zstd", "-q", "-c"], plain, in: scratch)
    }
  }
}

/// Runs `argv` with `input` on stdin; returns its stdout. Fails on a non-zero exit.
func runFilter(_ argv: [String], _ input: [UInt8], in scratch: Scratch) throws -> [UInt8] {
  let inPath = try scratch.write("filter-in-\(UUID().uuidString)", input)
  let outPath = scratch.path("filter-out-\(UUID().uuidString)")
  defer {
    unlink(inPath)
    unlink(outPath)
  }
  try run(argv, stdin: inPath, stdout: outPath)
  return Array(try Data(contentsOf: URL(fileURLWithPath: outPath)))
}

func run(_ argv: [String], stdin: String? = nil, stdout: String? = nil, directory: String? = nil) throws {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: argv[0])
  process.arguments = Array(argv.dropFirst())
  if let stdin { process.standardInput = FileHandle(forReadingAtPath: stdin) }
  if let stdout {
    _ = FileManager.default.createFile(atPath: stdout, contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: stdout)
  }
  if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
  try process.run()
  process.waitUntilExit()
  try #require(process.terminationStatus == 0, "\(argv.joined(separator: " ")) exited \(process.terminationStatus)")
}

/// "sha256:<hex>" of `bytes`, by sha256sum (independent of the code under test).
func sha256sum(_ bytes: [UInt8], in scratch: Scratch) throws -> String {
  let out = try runFilter(["/usr/bin/sha256sum"], bytes, in: scratch)
  return "sha256:" + String(decoding: out.prefix(64), as: UTF8.self)
}

/// Writes `archive` (compressed as asked) and unpacks it into a fresh
/// directory `layer` of the scratch directory.
@discardableResult
func unpack(
  _ archive: [UInt8], _ compressor: Compressor = .none, in scratch: Scratch, limits: UnpackLimits = .init(),
  into name: String = "layer"
) throws -> UnpackedLayer {
  let blob = try scratch.write("\(name).blob", try compressor.compress(archive, in: scratch))
  let target = try scratch.directory(name)
  return try LayerUnpacker(limits: limits).unpack(blob: blob, into: target)
}

/// The unpacker's error for `archive`, or nil (recorded as an issue) when it succeeds.
func unpackError(
  _ archive: [UInt8], _ compressor: Compressor = .none, in scratch: Scratch, limits: UnpackLimits = .init()
) throws -> LayerError? {
  let blob = try scratch.write("layer.blob", try compressor.compress(archive, in: scratch))
  return unpackBlobError(blob, in: scratch, limits: limits)
}

func unpackBlobError(_ blob: String, in scratch: Scratch, limits: UnpackLimits = .init()) -> LayerError? {
  let target = scratch.path("layer")
  try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
  do {
    let layer = try LayerUnpacker(limits: limits).unpack(blob: blob, into: target)
    Issue.record("unpacking succeeded, with \(layer)")
    return nil
  } catch {
    return error
  }
}

func lstatOf(_ path: String) -> stat? {
  var st = stat()
  return lstat(path, &st) == 0 ? st : nil
}

func fileType(_ st: stat) -> mode_t { st.st_mode & S_IFMT }

func contents(_ path: String) -> [UInt8]? {
  (try? Data(contentsOf: URL(fileURLWithPath: path))).map(Array.init)
}

func readLink(_ path: String) -> String? {
  var buf = [CChar](repeating: 0, count: 8192)
  let n = readlink(path, &buf, buf.count - 1)
  guard n >= 0 else { return nil }
  return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func requireRoot() throws {
  try #require(getuid() == 0, "these tests must run as root (chown, mknod, trusted.* xattrs)")
}

/// Deterministic pseudo-random bytes.
func noise(_ count: Int, seed: UInt64) -> [UInt8] {
  var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
  var out = [UInt8]()
  out.reserveCapacity(count)
  for _ in 0..<count {
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    out.append(UInt8(truncatingIfNeeded: state >> 24))
  }
  return out
}
