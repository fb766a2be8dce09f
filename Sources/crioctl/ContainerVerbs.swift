import ArgumentParser
import CRIAPI
import CRIClient
import Foundation

struct CreateVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create", abstract: "Create a container in a pod from JSON configs.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Pod ID.") var pod: String
  @Argument(help: "ContainerConfig as JSON.") var containerConfig: String
  @Argument(help: "PodSandboxConfig as JSON.") var podConfig: String

  func run() async throws {
    var request = Runtime_V1_CreateContainerRequest()
    request.podSandboxID = pod
    request.config = try loadConfig(containerConfig, as: Runtime_V1_ContainerConfig.self)
    request.sandboxConfig = try loadConfig(podConfig, as: Runtime_V1_PodSandboxConfig.self)
    let global = root.global
    let response = try await global.call(try global.runtime(), minimumTimeout: 60) {
      try await $0.runtime.createContainer(request, options: $0.options)
    }
    print(response.containerID)
  }
}

struct StartVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "start", abstract: "Start created containers.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Container IDs.") var ids: [String]

  func run() async throws {
    let global = root.global
    try await global.forEach(ids, on: try global.runtime()) { connection, id in
      var request = Runtime_V1_StartContainerRequest()
      request.containerID = id
      _ = try await connection.runtime.startContainer(request, options: connection.options)
    }
  }
}

struct PsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
  @ParentCommand var root: Crioctl
  @Flag(name: .shortAndLong, help: "Include exited and created containers.") var all = false
  @Flag(name: .shortAndLong, help: "Only IDs.") var quiet = false
  @Option(name: .shortAndLong, help: "Only containers of this pod.") var pod: String?
  @Option(name: .shortAndLong, help: "table, json or yaml.") var output: OutputFormat = .table

  func run() async throws {
    var request = Runtime_V1_ListContainersRequest()
    if let pod { request.filter.podSandboxID = pod }
    if !all { request.filter.state.state = .containerRunning }
    let global = root.global
    let response = try await global.call(try global.runtime()) {
      try await $0.runtime.listContainers(request, options: $0.options)
    }
    switch output {
    case .json: print(try Rendering.json(Rendering.object(from: response)))
    case .yaml: print(Rendering.yaml(try Rendering.object(from: response)))
    case .table:
      if quiet {
        response.containers.forEach { print($0.id) }
        return
      }
      var rows = [["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"]]
      for c in response.containers {
        let state = switch c.state {
        case .containerCreated: "Created"
        case .containerRunning: "Running"
        case .containerExited: "Exited"
        default: "Unknown"
        }
        rows.append([
          String(c.id.prefix(13)), c.image.image, age(c.createdAt), state, c.metadata.name,
          String(c.metadata.attempt), String(c.podSandboxID.prefix(13)),
        ])
      }
      Table.print(rows)
    }
  }
}

struct InspectVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show container status.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Container IDs.") var ids: [String]
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    for id in ids {
      var request = Runtime_V1_ContainerStatusRequest()
      request.containerID = id
      request.verbose = true
      let response = try await global.call(try global.runtime()) {
        try await $0.runtime.containerStatus(request, options: $0.options)
      }
      print(try render(status: response.status, info: response.info, output: output))
    }
  }
}

struct StopVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop running containers.")
  @ParentCommand var root: Crioctl
  @Option(name: [.customShort("t"), .customLong("stop-timeout")], help: "Seconds to wait before SIGKILL.")
  var timeout: Int64 = 10
  @Argument(help: "Container IDs.") var ids: [String]

  func run() async throws {
    let global = root.global
    let timeout = self.timeout
    try await global.forEach(ids, on: try global.runtime(), minimumTimeout: Double(timeout) + 30) { connection, id in
      var request = Runtime_V1_StopContainerRequest()
      request.containerID = id
      request.timeout = timeout
      _ = try await connection.runtime.stopContainer(request, options: connection.options)
    }
  }
}

struct RemoveVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove containers.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Container IDs.") var ids: [String]

  func run() async throws {
    let global = root.global
    try await global.forEach(ids, on: try global.runtime()) { connection, id in
      var request = Runtime_V1_RemoveContainerRequest()
      request.containerID = id
      _ = try await connection.runtime.removeContainer(request, options: connection.options)
    }
  }
}

