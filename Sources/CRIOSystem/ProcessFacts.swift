import Glibc

/// Facts about running processes read from /proc (root sees every process).
public enum ProcessFacts {
  /// Open descriptors of the processes, and how many of them are sockets.
  /// Processes that have gone meanwhile count nothing.
  public static func descriptors(of pids: [Int32], proc: String = "/proc") -> (files: UInt64, sockets: UInt64) {
    var files: UInt64 = 0
    var sockets: UInt64 = 0
    var target = [CChar](repeating: 0, count: 64)
    for pid in pids {
      let dirPath = "\(proc)/\(pid)/fd"
      guard let dir = opendir(dirPath) else { continue }
      defer { closedir(dir) }
      while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
          $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name == "." || name == ".." { continue }
        files += 1
        let n = readlink("\(dirPath)/\(name)", &target, target.count - 1)
        if n > 7 {
          target[n] = 0
          if String(cString: target).hasPrefix("socket:") { sockets += 1 }
        }
      }
    }
    return (files, sockets)
  }

  /// The soft limits of a process (/proc/<pid>/limits), keyed as cAdvisor
  /// names them (`max_open_files`, ...); -1 for unlimited.
  public static func softLimits(of pid: Int32, proc: String = "/proc") -> [String: Int64] {
    guard let file = fopen("\(proc)/\(pid)/limits", "r") else { return [:] }
    defer { fclose(file) }
    var text = ""
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil { text += String(cString: line) }
    return parseLimits(text)
  }

  static let limitNames: [String: String] = [
    "Max open files": "max_open_files", "Max processes": "max_processes", "Max locked memory": "max_locked_memory",
    "Max file size": "max_file_size", "Max core file size": "max_core_file_size", "Max stack size": "max_stack_size",
  ]

  /// `Limit  Soft Limit  Hard Limit  Units` columns; names contain spaces,
  /// so the row is matched by its known prefix.
  public static func parseLimits(_ text: String) -> [String: Int64] {
    var result: [String: Int64] = [:]
    for line in text.split(separator: "\n") {
      guard let (title, key) = limitNames.first(where: { line.hasPrefix($0.key) }) else { continue }
      let soft = line.dropFirst(title.count).split(separator: " ").first.map(String.init) ?? ""
      if soft == "unlimited" {
        result[key] = -1
      } else if let value = Int64(soft) {
        result[key] = value
      }
    }
    return result
  }
}

extension ProcessFacts {
  /// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
  public static func isAlive(_ pid: Int32, proc: String = "/proc") -> Bool {
    guard pid > 0, let text = readSmallFile("\(proc)/\(pid)/stat") else { return false }
    // The state follows the command name's closing parenthesis.
    guard let close = text.lastIndex(of: ")") else { return false }
    let state = text[text.index(after: close)...].drop { $0 == " " }.first
    return state != nil && state != "Z" && state != "X"
  }

  /// A process's arguments (/proc/<pid>/cmdline), empty when it is gone.
  public static func commandLine(_ pid: Int32, proc: String = "/proc") -> [String] {
    guard let text = readSmallFile("\(proc)/\(pid)/cmdline") else { return [] }
    return text.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
  }

  /// The pids of every process.
  public static func allPids(proc: String = "/proc") -> [Int32] {
    guard let dir = opendir(proc) else { return [] }
    defer { closedir(dir) }
    var pids: [Int32] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if let pid = Int32(name) { pids.append(pid) }
    }
    return pids
  }

  /// A /proc file's text (these have no size: read to the end).
  static func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

extension ProcessFacts {
  /// When `pid` started, in seconds since the epoch (/proc/<pid>/stat's
  /// start time in clock ticks after boot, plus /proc/stat's `btime`).
  public static func startTime(_ pid: Int32, proc: String = "/proc") -> Double? {
    guard let stat = readSmallFile("\(proc)/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
    // Fields after the name start at field 3 (state); the start time is field 22.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
    guard let system = readSmallFile("\(proc)/stat"),
      let line = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
      let boot = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
    else { return nil }
    return boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
  }
}
