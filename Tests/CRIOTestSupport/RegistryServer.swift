import Foundation
import Glibc

/// A real Debian `docker-registry` on 127.0.0.1 and a free port, with its
/// storage in a temporary directory; stopped (and its storage removed) by `stop`.
public final class RegistryServer: @unchecked Sendable {
  public let port: Int
  public let directory: String
  private let process = Process()
  public var host: String { "127.0.0.1:\(port)" }

  public struct SetupError: Error, CustomStringConvertible {
    public let description: String
  }

  /// Starts a registry. With `basicAuth`, every request needs those credentials (htpasswd).
  public init(basicAuth: (username: String, password: String)? = nil) async throws {
    let binary = "/usr/bin/docker-registry"
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      throw SetupError(description: "\(binary) is missing: run `make deps` (Debian package docker-registry)")
    }
    directory = "/tmp/crio-registry-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: "\(directory)/data", withIntermediateDirectories: true)
    port = try Self.freePort()
    var auth = ""
    if let basicAuth {
      let htpasswd = "/usr/bin/htpasswd"
      guard FileManager.default.isExecutableFile(atPath: htpasswd) else {
        throw SetupError(description: "\(htpasswd) is missing: run `make deps` (Debian package apache2-utils)")
      }
      let result = try run(htpasswd, ["-Bbn", basicAuth.username, basicAuth.password])
      guard result.status == 0 else { throw SetupError(description: "htpasswd failed: \(result.output)") }
      try result.output.write(toFile: "\(directory)/htpasswd", atomically: true, encoding: .utf8)
      auth = """
        auth:
          htpasswd:
            realm: crio-test
            path: \(directory)/htpasswd
        """
    }
    let config = """
      version: 0.1
      log:
        level: error
        accesslog:
          disabled: true
      storage:
        filesystem:
          rootdirectory: \(directory)/data
        delete:
          enabled: true
      http:
        addr: 127.0.0.1:\(port)
      \(auth)
      """
    try config.write(toFile: "\(directory)/config.yml", atomically: true, encoding: .utf8)
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "\(directory)/config.yml"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      guard process.isRunning else { throw SetupError(description: "docker-registry exited at start-up") }
      if Self.portOpen(port) { return }
      try await Task.sleep(for: .milliseconds(20))
    }
    stop()
    throw SetupError(description: "docker-registry did not listen on \(host)")
  }

  deinit { stop() }

  /// Stops the registry (a pull in progress sees its connection die) and removes its storage.
  public func stop() {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Stops the process only, keeping the storage, so `restart` can bring it back.
  public func kill9() {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SetupError(description: "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { ptr -> Bool in
        bind(fd, ptr, len) == 0 && getsockname(fd, ptr, &len) == 0
      }
    }
    guard bound else { throw SetupError(description: "bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
  }

  static func portOpen(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }
}

/// Runs a program to completion; stdout and stderr together.
@discardableResult
public func run(_ path: String, _ arguments: [String], input: [UInt8]? = nil) throws -> (status: Int32, output: String) {
  let (status, data) = try runForData(path, arguments, input: input)
  return (status, String(decoding: data, as: UTF8.self))
}

/// Runs a program with `input` on stdin and returns its stdout as bytes.
public func runForData(_ path: String, _ arguments: [String], input: [UInt8]? = nil) throws -> (Int32, [UInt8]) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let out = Pipe()
  process.standardOutput = out
  process.standardError = FileHandle.standardError
  let inPipe = Pipe()
  process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
  try process.run()
  if let input {
    let writer = inPipe.fileHandleForWriting
    Thread.detachNewThread {
      writer.write(Data(input))
      try? writer.close()
    }
  }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, Array(data))
}
