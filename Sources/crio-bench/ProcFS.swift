import CRIOSystem
import Foundation
import Glibc

/// What the bench reads from /proc: memory of a process, its parent, the
/// process serving a unix socket, and the host description.
enum ProcFS {
  /// A /proc file read to its end (their size is 0, so read until EOF).
  static func read(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
  }

  /// A `Key:   value` field of /proc/<pid>/status.
  static func statusField(_ pid: Int32, _ key: String) -> String? {
    guard let text = read("/proc/\(pid)/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
      return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
    }
    return nil
  }

  /// VmRSS of `pid` in MiB, or nil when the process is gone.
  static func rssMiB(_ pid: Int32) -> Double? {
    guard let value = statusField(pid, "VmRSS"), let kib = Double(value.split(separator: " ").first ?? "") else {
      return nil
    }
    return kib / 1024
  }

  static func parent(of pid: Int32) -> Int32? {
    statusField(pid, "PPid").flatMap { Int32($0) }
  }

  /// The process that listens on the unix socket at `path`: the socket's
  /// inode from /proc/net/unix, then the process holding `socket:[inode]`.
  static func listener(of path: String) -> Int32? {
    guard let table = read("/proc/net/unix") else { return nil }
    var inodes = Set<String>()
    for line in table.split(separator: "\n").dropFirst() {
      // Num RefCount Protocol Flags Type St Inode Path
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 8, fields[7] == path, fields[3] == "00010000" else { continue }
      inodes.insert(String(fields[6]))
    }
    guard !inodes.isEmpty else { return nil }
    let wanted = Set(inodes.map { "socket:[\($0)]" })
    for pid in ProcessFacts.allPids() {
      let fdDir = "/proc/\(pid)/fd"
      for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? [] {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"), wanted.contains(target) {
          return pid
        }
      }
    }
    return nil
  }

  /// Number of CPUs, memory, distribution and kernel, for the report.
  static func machine() -> (cpus: Int, memoryMiB: Int, os: String, kernel: String) {
    let cpus = ProcessInfo.processInfo.activeProcessorCount
    let memory = Int(ProcessInfo.processInfo.physicalMemory / 1024 / 1024)
    var os = "Linux"
    for line in (read("/etc/os-release") ?? "").split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
      os = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
    var name = utsname()
    uname(&name)
    let kernel = withUnsafeBytes(of: &name.release) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    return (cpus, memory, os, kernel)
  }
}
