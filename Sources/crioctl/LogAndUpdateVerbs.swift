import ArgumentParser
import CRIAPI
import CRIClient
import Foundation
import Glibc

struct LogsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "logs",
    abstract: "Print a container's log, read from the file the runtime names (as crictl, on the runtime's host).")
  @ParentCommand var root: Crioctl
  @Flag(name: .shortAndLong, help: "Follow the log (across reopens) until the container exits.") var follow = false
  @Flag(name: .shortAndLong, help: "Show each record's timestamp.") var timestamps = false
  @Flag(name: .customLong("reopen"), help: "Ask the runtime to reopen the log first (ReopenContainerLog).")
  var reopen = false
  @Option(help: "Only this many lines from the end (-1: all).") var tail: Int = -1
  @Option(name: .shortAndLong, help: "Only this stream: stdout or stderr.") var stream: CRILogRecord.Stream?
  @Argument(help: "Container ID.") var id: String

  func validate() throws {
    if tail >= 0 && stream != nil { throw ValidationError("--tail and --stream are mutually exclusive") }
  }

  func run() async throws {
    let global = root.global
    let endpoint = try global.runtime()
    if reopen {
      var request = Runtime_V1_ReopenContainerLogRequest()
      request.containerID = id
      _ = try await global.call(endpoint, minimumTimeout: 30) {
        try await $0.runtime.reopenContainerLog(request, options: $0.options)
      }
    }
    let status = try await containerStatus(global, endpoint)
    guard !status.logPath.isEmpty else { throw ValidationError("container \(id) has no log path") }
    var reader = try LogFileReader(path: status.logPath, tail: tail)
    var printer = LogPrinter(timestamps: timestamps, stream: stream)
    printer.print(reader.readAvailable())
    guard follow else {
      printer.print(reader.finish())
      return
    }
    var running = status.state != .containerExited
    var lastCheck = ContinuousClock.now
    while true {
      try await Task.sleep(for: .milliseconds(100))
      printer.print(reader.readAvailable())
      printer.print(reader.followReopen())
      if ContinuousClock.now - lastCheck >= .seconds(1) {
        lastCheck = ContinuousClock.now
        if !running { break }
        running = (try? await containerStatus(global, endpoint))?.state == .containerRunning
      }
    }
    printer.print(reader.readAvailable())
    printer.print(reader.finish())
  }

  private func containerStatus(_ global: GlobalOptions, _ endpoint: CRIEndpoint) async throws -> Runtime_V1_ContainerStatus {
    var request = Runtime_V1_ContainerStatusRequest()
    request.containerID = id
    return try await global.call(endpoint) { try await $0.runtime.containerStatus(request, options: $0.options) }.status
  }
}

extension CRILogRecord.Stream: ExpressibleByArgument {}

/// Reads a CRI log file as it grows, and moves on to the new file when the
/// runtime reopens the log (the path then names another file).
struct LogFileReader {
  let path: String
  private var fd: Int32
  private var inode: ino_t
  private var splitter = CRILogLineSplitter()
  private var skipFirst: Int

  /// Opens `path`; with `tail` >= 0 the first read keeps only that many last lines.
  init(path: String, tail: Int) throws {
    self.path = path
    fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw ValidationError("cannot open the log \(path): \(String(cString: strerror(errno)))")
    }
    var st = stat()
    fstat(fd, &st)
    inode = st.st_ino
    skipFirst = tail
  }

  /// The complete lines written since the last read.
  mutating func readAvailable() -> [[UInt8]] {
    var lines: [[UInt8]] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { break }
      lines += splitter.lines(buffer[0..<n])
    }
    if skipFirst >= 0 {
      lines = Array(lines.suffix(skipFirst))
      skipFirst = -1
    }
    return lines
  }

  /// When the path names a new file (the log was reopened): what is left of
  /// the old one, after which reading goes on in the new one from its start.
  mutating func followReopen() -> [[UInt8]] {
    var st = stat()
    guard stat(path, &st) == 0, st.st_ino != inode else { return [] }
    var lines = readAvailable()
    if let rest = splitter.rest() { lines.append(rest) }
    let next = open(path, O_RDONLY | O_CLOEXEC)
    guard next >= 0 else { return lines }
    close(fd)
    fd = next
    inode = st.st_ino
    return lines + readAvailable()
  }

  /// An unfinished last line, at the end.
  mutating func finish() -> [[UInt8]] {
    splitter.rest().map { [$0] } ?? []
  }
}

/// Writes records as crictl does: content to stdout or stderr by stream.
struct LogPrinter {
  let timestamps: Bool
  let stream: CRILogRecord.Stream?

  mutating func print(_ lines: [[UInt8]]) {
    for line in lines {
      guard let record = CRILogRecord.parse(line) else { continue }
      if let stream, record.stream != stream { continue }
      let bytes = record.rendered(timestamps: timestamps)
      let fd: Int32 = record.stream == .stdout ? 1 : 2
      bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
          let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else { return }
          offset += n
        }
      }
    }
  }
}

struct UpdateVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "update", abstract: "Update the resources of running containers (0 or empty: unchanged).")
  @ParentCommand var root: Crioctl
  @Option(name: .customLong("cpu-period"), help: "CFS period (µs).") var cpuPeriod: Int64 = 0
  @Option(name: .customLong("cpu-quota"), help: "CFS quota (µs per period).") var cpuQuota: Int64 = 0
  @Option(name: .customLong("cpu-share"), help: "CPU shares.") var cpuShares: Int64 = 0
  @Option(help: "Memory limit (bytes).") var memory: Int64 = 0
  @Option(name: .customLong("memory-swap"), help: "Memory + swap limit (bytes); needs --memory.") var memorySwap: Int64 = 0
  @Option(name: .customLong("cpuset-cpus"), help: "CPUs to use.") var cpusetCpus = ""
  @Option(name: .customLong("cpuset-mems"), help: "Memory nodes to use.") var cpusetMems = ""
  @Argument(help: "Container IDs.") var ids: [String]

  func run() async throws {
    var linux = Runtime_V1_LinuxContainerResources()
    linux.cpuPeriod = cpuPeriod
    linux.cpuQuota = cpuQuota
    linux.cpuShares = cpuShares
    linux.memoryLimitInBytes = memory
    linux.memorySwapLimitInBytes = memorySwap
    linux.cpusetCpus = cpusetCpus
    linux.cpusetMems = cpusetMems
    let global = root.global
    try await global.forEach(ids, on: try global.runtime()) { connection, id in
      var request = Runtime_V1_UpdateContainerResourcesRequest()
      request.containerID = id
      request.linux = linux
      _ = try await connection.runtime.updateContainerResources(request, options: connection.options)
    }
  }
}
