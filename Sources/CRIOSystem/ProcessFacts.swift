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
