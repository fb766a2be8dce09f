import ArgumentParser
import CRIAPI
import CRIClient
import Foundation
import SwiftProtobuf

/// Reads a crictl-style JSON (or YAML-free JSON) config file into a message.
func loadConfig<M: SwiftProtobuf.Message>(_ path: String, as type: M.Type) throws -> M {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw ValidationError("cannot read \(path)")
  }
  var options = JSONDecodingOptions()
  options.ignoreUnknownFields = true
  do {
    return try M(jsonUTF8Data: data, options: options)
  } catch {
    throw ValidationError("\(path) is not a valid \(M.protoMessageName) in JSON: \(error)")
  }
}

func age(_ nanoseconds: Int64) -> String {
  let seconds = max(0, Int64(Date().timeIntervalSince1970) - nanoseconds / 1_000_000_000)
  switch seconds {
  case ..<60: return "\(seconds) seconds ago"
  case ..<3600: return "\(seconds / 60) minutes ago"
  case ..<86400: return "\(seconds / 3600) hours ago"
  default: return "\(seconds / 86400) days ago"
  }
}

struct RunPodVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "runp", abstract: "Run a pod sandbox from a JSON config.")
  @ParentCommand var root: Crioctl
  @Argument(help: "PodSandboxConfig as JSON (crictl's format).") var config: String
  @Option(name: .customLong("runtime"), help: "Runtime handler.") var handler = ""

  func run() async throws {
    var request = Runtime_V1_RunPodSandboxRequest()
    request.config = try loadConfig(config, as: Runtime_V1_PodSandboxConfig.self)
    request.runtimeHandler = handler
    let global = root.global
    let response = try await global.call(try global.runtime(), minimumTimeout: 240) {
      try await $0.runtime.runPodSandbox(request, options: $0.options)
    }
    print(response.podSandboxID)
  }
}

struct PodsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pods", abstract: "List pod sandboxes.")
  @ParentCommand var root: Crioctl
  @Flag(name: .shortAndLong, help: "Only IDs.") var quiet = false
  @Option(help: "Only this pod ID (prefix).") var id: String?
  @Option(help: "ready or notready.") var state: String?
  @Option(help: "KEY=VALUE label filters.") var label: [String] = []
  @Option(name: .shortAndLong, help: "table, json or yaml.") var output: OutputFormat = .table

  func run() async throws {
    var request = Runtime_V1_ListPodSandboxRequest()
    if let id { request.filter.id = id }
    if let state { request.filter.state.state = state.lowercased() == "ready" ? .sandboxReady : .sandboxNotready }
    for pair in label {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      request.filter.labelSelector[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    let global = root.global
    let response = try await global.call(try global.runtime()) {
      try await $0.runtime.listPodSandbox(request, options: $0.options)
    }
    switch output {
    case .json: print(try Rendering.json(Rendering.object(from: response)))
    case .yaml: print(Rendering.yaml(try Rendering.object(from: response)))
    case .table:
      if quiet {
        response.items.forEach { print($0.id) }
        return
      }
      var rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]]
      for pod in response.items {
        rows.append([
          String(pod.id.prefix(13)), age(pod.createdAt), pod.state == .sandboxReady ? "Ready" : "NotReady",
          pod.metadata.name, pod.metadata.namespace, String(pod.metadata.attempt),
          pod.runtimeHandler.isEmpty ? "(default)" : pod.runtimeHandler,
        ])
      }
      Table.print(rows)
    }
  }
}

struct InspectPodVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspectp", abstract: "Show pod sandbox status.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Pod IDs.") var ids: [String]
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    for id in ids {
      var request = Runtime_V1_PodSandboxStatusRequest()
      request.podSandboxID = id
      request.verbose = true
      let response = try await global.call(try global.runtime()) {
        try await $0.runtime.podSandboxStatus(request, options: $0.options)
      }
      print(try render(status: response.status, info: response.info, output: output))
    }
  }
}

struct StopPodVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stopp", abstract: "Stop pod sandboxes.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Pod IDs.") var ids: [String]

  func run() async throws {
    let global = root.global
    try await global.forEach(ids, on: try global.runtime(), done: { "Stopped sandbox \($0)" }) { connection, id in
      var request = Runtime_V1_StopPodSandboxRequest()
      request.podSandboxID = id
      _ = try await connection.runtime.stopPodSandbox(request, options: connection.options)
    }
  }
}

struct RemovePodVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rmp", abstract: "Remove pod sandboxes.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Pod IDs.") var ids: [String]

  func run() async throws {
    let global = root.global
    try await global.forEach(ids, on: try global.runtime(), done: { "Removed sandbox \($0)" }) { connection, id in
      var request = Runtime_V1_RemovePodSandboxRequest()
      request.podSandboxID = id
      _ = try await connection.runtime.removePodSandbox(request, options: connection.options)
    }
  }
}

/// `{"status": ..., "info": ...}` as crictl prints inspect output.
func render(status: some SwiftProtobuf.Message, info: [String: String], output: OutputFormat) throws -> String {
  var object: [String: Any] = ["status": try Rendering.object(from: status)]
  for (key, value) in info {
    object[key] = (try? JSONSerialization.jsonObject(with: Data(value.utf8))) ?? value
  }
  return output == .yaml ? Rendering.yaml(object) : try Rendering.json(object)
}
