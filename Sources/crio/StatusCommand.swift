import ArgumentParser
import CRIOServer
import Foundation

/// `crio status`: asks the running daemon, over its CRI socket, what CRI-O's
/// `crio status` asks (the HTTP/1 inspect endpoints served next to gRPC).
struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Display status information of the running daemon.",
    subcommands: [StatusConfigCommand.self, StatusInfoCommand.self, StatusContainersCommand.self])

  @Option(
    name: [.short, .long],
    help: "Absolute path to the daemon's unix socket (default: [crio.api] listen of the configuration, as `crio --config` reads it).")
  var socket: String?
}

/// What every `crio status` subcommand shares: where to ask, and how to fail.
protocol StatusSubcommand: ParsableCommand {
  var crio: CrioCommand { get }
  var status: StatusCommand { get }
}

extension StatusSubcommand {
  var client: InspectClient {
    get throws { InspectClient(socketPath: try status.socket ?? loadOrExit(crio.options).config.api.listen) }
  }

  /// The body of a 200 answer; anything else is the daemon's message on stderr and exit 1.
  func fetch(_ path: String) throws -> String {
    let response: InspectClient.Response
    do {
      response = try client.get(path)
    } catch let failure as InspectClient.Failure {
      FileHandle.standardError.write(Data("crio: \(failure.description)\n".utf8))
      throw ExitCode(1)
    }
    guard response.status == 200 else {
      let message = response.body.trimmingCharacters(in: .whitespacesAndNewlines)
      FileHandle.standardError.write(Data("crio: \(message) (HTTP \(response.status))\n".utf8))
      throw ExitCode(1)
    }
    return response.body
  }

  func decode<T: Decodable>(_ type: T.Type, _ body: String) throws -> T {
    do {
      return try JSONDecoder().decode(type, from: Data(body.utf8))
    } catch {
      FileHandle.standardError.write(Data("crio: unexpected answer: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}

struct StatusConfigCommand: StatusSubcommand {
  static let configuration = CommandConfiguration(
    commandName: "config", abstract: "Show the configuration of the running daemon as a TOML string.", aliases: ["c"])

  @ParentCommand var crio: CrioCommand
  @ParentCommand var status: StatusCommand

  func run() throws {
    print(try fetch("/config"), terminator: "")
  }
}

struct StatusInfoCommand: StatusSubcommand {
  static let configuration = CommandConfiguration(
    commandName: "info", abstract: "Retrieve generic information about crio, such as the cgroup and storage driver.",
    aliases: ["i"])

  @ParentCommand var crio: CrioCommand
  @ParentCommand var status: StatusCommand
  @Flag(help: "Print the daemon's JSON as it is.") var json = false

  func run() throws {
    let body = try fetch("/info")
    if json { return print(body) }
    let info = try decode(CrioInfo.self, body)
    print("cgroup driver: \(info.cgroupDriver)")
    print("storage driver: \(info.storageDriver)")
    print("storage graph root: \(info.storageRoot)")
    print("storage image: \(info.storageImage)")
    print("default GID mappings (format <container>:<host>:<size>):")
    for map in info.defaultIDMappings.gids { print("  \(map.containerID):\(map.hostID):\(map.size)") }
    print("default UID mappings (format <container>:<host>:<size>):")
    for map in info.defaultIDMappings.uids { print("  \(map.containerID):\(map.hostID):\(map.size)") }
  }
}

struct StatusContainersCommand: StatusSubcommand {
  static let configuration = CommandConfiguration(
    commandName: "containers", abstract: "Display detailed information about the provided container ID.",
    aliases: ["container", "cs", "s"])

  @ParentCommand var crio: CrioCommand
  @ParentCommand var status: StatusCommand
  @Option(name: [.short, .long], help: "The container ID.") var id: String
  @Flag(help: "Print the daemon's JSON as it is.") var json = false

  func validate() throws {
    guard !id.isEmpty else { throw ValidationError("the argument --id cannot be empty") }
  }

  func run() throws {
    let escaped = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? id
    let body = try fetch("/containers/\(escaped)")
    if json { return print(body) }
    let info = try decode(ContainerInfo.self, body)
    print("name: \(info.name)")
    print("pid: \(info.pid)")
    print("image: \(info.image)")
    print("image ref: \(info.imageRef)")
    print("created: \(info.createdTime)")
    print("labels:")
    for (key, value) in info.labels.sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
    print("annotations:")
    for (key, value) in info.annotations.sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
    print("CRI-O annotations:")
    for (key, value) in (info.crioAnnotations ?? [:]).sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
    print("log path: \(info.logPath)")
    print("graph root: \(info.root)")
    print("sandbox: \(info.sandbox)")
    print("ips: \(info.ipAddresses.joined(separator: ", "))")
  }
}
