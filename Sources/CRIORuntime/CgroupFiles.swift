import Glibc

/// Reading and parsing the small text files of cgroupfs, shared by the v1
/// and v2 readers. Files that are absent or unreadable read as nil.
enum CgroupFiles {
  /// The whole file. cgroupfs reports a size of 0 or 4096 whatever the
  /// content is, so this reads until end of file.
  static func read(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while true {
      let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if n == 0 { break }
      bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// A file holding one unsigned number.
  static func number(_ path: String) -> UInt64? {
    guard let text = read(path) else { return nil }
    return UInt64(text.trimmingWhitespace)
  }

  /// A limit: a number, or `max` (v2) / a value at or above 2^62 (v1's
  /// "unlimited", which is PAGE_COUNTER_MAX pages) for no limit.
  enum Limit: Equatable {
    case absent
    case unlimited
    case value(UInt64)

    var value: UInt64? {
      if case .value(let v) = self { return v }
      return nil
    }
  }

  static let unlimitedThreshold: UInt64 = 1 << 62

  static func limit(_ path: String) -> Limit {
    guard let text = read(path)?.trimmingWhitespace else { return .absent }
    if text == "max" || text == "-1" { return .unlimited }
    guard let value = UInt64(text) else { return .absent }
    return value >= unlimitedThreshold ? .unlimited : .value(value)
  }

  /// `key value` lines (memory.stat, cpu.stat, cpuacct.stat, memory.events,
  /// memory.oom_control). Values that are not numbers are skipped.
  static func keyValues(_ path: String) -> [String: UInt64]? {
    guard let text = read(path) else { return nil }
    return parseKeyValues(text)
  }

  static func parseKeyValues(_ text: String) -> [String: UInt64] {
    var result: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count == 2, let value = UInt64(fields[1]) else { continue }
      result[String(fields[0])] = value
    }
    return result
  }

  /// A pressure file: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and,
  /// except for cpu on older kernels, a `full` line.
  static func pressure(_ path: String) -> CgroupStats.Pressure? {
    guard let text = read(path) else { return nil }
    return parsePressure(text)
  }

  static func parsePressure(_ text: String) -> CgroupStats.Pressure? {
    var lines: [String: CgroupStats.Pressure.Line] = [:]
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard let kind = fields.first else { continue }
      var values: [String: Substring] = [:]
      for field in fields.dropFirst() {
        let pair = field.split(separator: "=", maxSplits: 1)
        if pair.count == 2 { values[String(pair[0])] = pair[1] }
      }
      guard let total = values["total"].flatMap({ UInt64($0) }) else { continue }
      lines[String(kind)] = .init(
        totalMicros: total, avg10: values["avg10"].flatMap { Double($0) } ?? 0,
        avg60: values["avg60"].flatMap { Double($0) } ?? 0, avg300: values["avg300"].flatMap { Double($0) } ?? 0)
    }
    guard let some = lines["some"] else { return nil }
    return .init(some: some, full: lines["full"])
  }

  /// Numbers one per line (cgroup.procs, tasks, cgroup.threads) of the cgroup
  /// at `directory` and of every cgroup below it.
  static func idsRecursively(_ directory: String, file: String) -> [Int32]? {
    guard let text = read("\(directory)/\(file)") else { return nil }
    var ids = text.split(separator: "\n").compactMap { Int32($0.trimmingWhitespace) }
    for child in subdirectories(directory) {
      ids += idsRecursively("\(directory)/\(child)", file: file) ?? []
    }
    return ids
  }

  /// The page sizes of the `hugetlb.<size>.<suffix>` files in a cgroup
  /// (`2MB`, `1GB`), smallest first; v2's `hugetlb.<size>.rsvd.*` are not sizes.
  static func hugePageSizes(_ directory: String, suffix: String) -> [String] {
    let sizes = entries(directory).compactMap { name -> String? in
      guard name.hasPrefix("hugetlb."), name.hasSuffix(".\(suffix)") else { return nil }
      let size = name.dropFirst("hugetlb.".count).dropLast(suffix.count + 1)
      return size.isEmpty || size.contains(".") ? nil : String(size)
    }
    return sizes.sorted { (pageSizeBytes($0) ?? 0, $0) < (pageSizeBytes($1) ?? 0, $1) }
  }

  /// `2MB` → 2097152, as the kernel prints sizes (KB, MB, GB).
  static func pageSizeBytes(_ size: String) -> UInt64? {
    let units: [(String, UInt64)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30)]
    guard let (unit, factor) = units.first(where: { size.hasSuffix($0.0) }),
          let count = UInt64(size.dropLast(unit.count))
    else { return nil }
    return count * factor
  }

  /// The names in a directory, `.` and `..` excepted.
  static func entries(_ directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  static func subdirectories(_ directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  static func exists(_ path: String) -> Bool {
    access(path, F_OK) == 0
  }

  /// Joins a hierarchy's mount point and a cgroup path (`/crio/crio-<id>`).
  static func join(_ root: String, _ path: String) -> String {
    let trimmed = path.split(separator: "/").joined(separator: "/")
    return trimmed.isEmpty ? root : "\(root)/\(trimmed)"
  }
}

extension StringProtocol {
  var trimmingWhitespace: String {
    var scalars = Substring(self)
    while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
    while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
    return String(scalars)
  }
}
