import ArgumentParser
import CRIAPI
import CRIClient
import Foundation
import GRPCCore

@main
struct Crioctl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crioctl",
    abstract: "A CRI client to test and troubleshoot any CRI endpoint (crio, CRI-O, containerd).",
    discussion: """
      Verbs and their JSON follow crictl. A verb is added when crio implements the RPC behind it.
      Shell completions: crioctl --generate-completion-script bash|zsh|fish
      """,
    subcommands: [
      VersionVerb.self, InfoVerb.self, RuntimeConfigVerb.self, PullVerb.self, ImagesVerb.self,
      InspectImageVerb.self, RemoveImageVerb.self, ImageFsInfoVerb.self, RunPodVerb.self, PodsVerb.self,
      InspectPodVerb.self, StopPodVerb.self, RemovePodVerb.self, CreateVerb.self, StartVerb.self, PsVerb.self,
      InspectVerb.self, StopVerb.self, RemoveVerb.self, ExecVerb.self, AttachVerb.self, PortForwardVerb.self,
      StatsVerb.self, PodStatsVerb.self, EventsVerb.self, MetricDescriptorsVerb.self, PodMetricsVerb.self,
      LogsVerb.self, UpdateVerb.self,
    ])

  @OptionGroup var global: GlobalOptions
}

struct GlobalOptions: ParsableArguments {
  @Option(name: [.customShort("r"), .customLong("runtime-endpoint")],
          help: "Runtime endpoint (env CONTAINER_RUNTIME_ENDPOINT; default unix:///var/run/crio/crio.sock).")
  var runtimeEndpoint: String?

  // No short -i: `exec -i` and `attach -i` mean stdin, as in crictl.
  @Option(name: .customLong("image-endpoint"),
          help: "Image endpoint (env IMAGE_SERVICE_ENDPOINT; default: the runtime endpoint).")
  var imageEndpoint: String?

  // No short -t: `stop -t` is the stop timeout, as in crictl.
  @Option(name: .customLong("timeout"), help: "Timeout of each call, in seconds.")
  var timeout: Double = 2

  func runtime() throws -> CRIEndpoint {
    try endpoint(runtimeEndpoint ?? env("CONTAINER_RUNTIME_ENDPOINT"))
  }

  func image() throws -> CRIEndpoint {
    try endpoint(imageEndpoint ?? env("IMAGE_SERVICE_ENDPOINT") ?? runtimeEndpoint ?? env("CONTAINER_RUNTIME_ENDPOINT"))
  }

  private func env(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
  }

  private func endpoint(_ value: String?) throws -> CRIEndpoint {
    guard let value else { return .defaultRuntime }
    do {
      return try CRIEndpoint(parsing: value)
    } catch {
      throw ValidationError("\(error)")
    }
  }

  /// Runs `body` once per ID on `endpoint`, printing `done(id)` after each
  /// (what crictl prints for start, stop, rm, stopp, rmp and rmi).
  func forEach(
    _ ids: [String], on endpoint: CRIEndpoint, minimumTimeout: Double = 60, done: (String) -> String = { $0 },
    _ body: (CRIConnection, String) async throws -> Void
  ) async throws {
    for id in ids {
      try await call(endpoint, minimumTimeout: minimumTimeout) { try await body($0, id) }
      print(done(id))
    }
  }

  /// Connects to `endpoint` and runs `body`, turning gRPC failures into one-line errors.
  func call<R: Sendable>(
    _ endpoint: CRIEndpoint, minimumTimeout: Double = 0, _ body: (CRIConnection) async throws -> R
  ) async throws -> R {
    do {
      let seconds = max(timeout, minimumTimeout)
      return try await CRIConnection.with(endpoint, timeout: .milliseconds(Int(seconds * 1000)), body)
    } catch let error as RPCError {
      FileHandle.standardError.write(Data("crioctl: \(endpoint): \(error.code): \(error.message)\n".utf8))
      throw ExitCode(1)
    }
  }
}

struct VersionVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "version", abstract: "Runtime name and versions.")
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "table, json or yaml.") var output: OutputFormat = .table

  func run() async throws {
    let global = root.global
    let response = try await global.call(try global.runtime()) {
      try await $0.runtime.version(Runtime_V1_VersionRequest(), options: $0.options)
    }
    switch output {
    case .table:
      print("Version:  \(response.version)")
      print("RuntimeName:  \(response.runtimeName)")
      print("RuntimeVersion:  \(response.runtimeVersion)")
      print("RuntimeApiVersion:  \(response.runtimeApiVersion)")
    case .json: print(try Rendering.json(Rendering.object(from: response)))
    case .yaml: print(Rendering.yaml(try Rendering.object(from: response)))
    }
  }
}

struct InfoVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info", abstract: "Runtime status, conditions and configuration (verbose Status).")
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    let response = try await global.call(try global.runtime()) {
      var request = Runtime_V1_StatusRequest()
      request.verbose = true
      return try await $0.runtime.status(request, options: $0.options)
    }
    // As crictl does: the status, plus each info entry parsed as JSON when it is JSON.
    var object: [String: Any] = [:]
    var status = try Rendering.object(from: response) as? [String: Any] ?? [:]
    status.removeValue(forKey: "info")
    object["status"] = status["status"] ?? [:]
    for key in ["runtimeHandlers", "features"] where status[key] != nil {
      object[key] = status[key]
    }
    for (key, value) in response.info {
      object[key] = (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)) ?? value
    }
    print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
  }
}

struct ImageFsInfoVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "imagefsinfo", abstract: "Usage of the filesystems holding images and containers.")
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    let response = try await global.call(try global.image()) {
      try await $0.image.imageFsInfo(Runtime_V1_ImageFsInfoRequest(), options: $0.options)
    }
    let object: [String: Any] = ["status": try Rendering.object(from: response)]
    print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
  }
}

struct RuntimeConfigVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "runtime-config", abstract: "Configuration the kubelet reads from the runtime (cgroup driver).")
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    let response = try await global.call(try global.runtime()) {
      try await $0.runtime.runtimeConfig(Runtime_V1_RuntimeConfigRequest(), options: $0.options)
    }
    let object = try Rendering.object(from: response)
    print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
  }
}
