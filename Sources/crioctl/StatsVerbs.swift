import ArgumentParser
import CRIAPI
import CRIClient
import Foundation
import GRPCCore

/// `key=value` label selectors, as crictl's `--label` takes them.
func labelSelector(_ labels: [String]) throws -> [String: String] {
  var selector: [String: String] = [:]
  for label in labels {
    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
    guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--label takes key=value, not \(label)") }
    selector[parts[0]] = parts[1]
  }
  return selector
}

/// Sizes as crictl prints them in stats: decimal units, four significant digits.
func humanSize(_ bytes: UInt64) -> String {
  let units = ["B", "kB", "MB", "GB", "TB", "PB"]
  var value = Double(bytes)
  var unit = 0
  while value >= 1000 && unit < units.count - 1 {
    value /= 1000
    unit += 1
  }
  return String(format: "%.4g%@", value, units[unit])
}

/// CPU % between two samples of cumulative usage, as crictl computes it.
func cpuPercent(
  now: Runtime_V1_CpuUsage, before: Runtime_V1_CpuUsage
) -> String {
  let usage = now.usageCoreNanoSeconds.value
  guard usage != 0, now.timestamp > before.timestamp, usage >= before.usageCoreNanoSeconds.value else { return "0.00" }
  let percent = Double(usage - before.usageCoreNanoSeconds.value) / Double(now.timestamp - before.timestamp) * 100
  return String(format: "%.2f", percent)
}

struct StatsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats", abstract: "List containers' resource usage (CPU % over --seconds).")
  @ParentCommand var root: Crioctl
  @Argument(help: "A container ID (or prefix).") var container: String?
  @Flag(name: .shortAndLong, help: "Show all containers (default: those using CPU or memory).") var all = false
  @Option(help: "Filter by container ID.") var id: String?
  @Option(name: .shortAndLong, help: "Filter by pod ID.") var pod: String?
  @Option(help: "Filter by key=value label; repeat for several.") var label: [String] = []
  @Option(name: .shortAndLong, help: "table, json or yaml.") var output: OutputFormat = .table
  @Option(name: .shortAndLong, help: "Sample duration for CPU usage, in seconds.") var seconds: Int = 1
  @Flag(name: .shortAndLong, help: "Print again every --seconds until interrupted.") var watch = false

  func run() async throws {
    var request = Runtime_V1_ListContainerStatsRequest()
    request.filter.id = id ?? container ?? ""
    if let pod { request.filter.podSandboxID = pod }
    request.filter.labelSelector = try labelSelector(label)
    let global = root.global
    let endpoint = try global.runtime()
    func list() async throws -> [Runtime_V1_ContainerStats] {
      try await global.call(endpoint) {
        try await $0.runtime.listContainerStats(request, options: $0.options).stats
      }.sorted { $0.attributes.id < $1.attributes.id }
    }
    repeat {
      let first = try await list()
      if output != .table {
        var response = Runtime_V1_ListContainerStatsResponse()
        response.stats = first
        let object = try Rendering.object(from: response)
        print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
        if watch { try await Task.sleep(for: .seconds(max(1, seconds))) }
        continue
      }
      let before = Dictionary(first.map { ($0.attributes.id, $0) }, uniquingKeysWith: { a, _ in a })
      try await Task.sleep(for: .seconds(max(1, seconds)))
      var rows = [["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES", "SWAP"]]
      for stats in try await list() {
        let cpu = stats.cpu.usageCoreNanoSeconds.value
        let memory = stats.memory.workingSetBytes.value
        if !all && cpu == 0 && memory == 0 { continue }
        guard let old = before[stats.attributes.id] else { continue }
        rows.append([
          String(stats.attributes.id.prefix(13)), stats.attributes.metadata.name,
          cpuPercent(now: stats.cpu, before: old.cpu), humanSize(memory), humanSize(stats.writableLayer.usedBytes.value),
          String(stats.writableLayer.inodesUsed.value), humanSize(stats.swap.swapUsageBytes.value),
        ])
      }
      Table.print(rows)
    } while watch
  }
}

struct PodStatsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "statsp", abstract: "List pods' resource usage (CPU % over --seconds).")
  @ParentCommand var root: Crioctl
  @Argument(help: "A pod ID (or prefix).") var pod: String?
  @Option(help: "Filter by pod ID.") var id: String?
  @Option(help: "Filter by key=value label; repeat for several.") var label: [String] = []
  @Option(name: .shortAndLong, help: "table, json or yaml.") var output: OutputFormat = .table
  @Option(name: .shortAndLong, help: "Sample duration for CPU usage, in seconds.") var seconds: Int = 1
  @Flag(name: .shortAndLong, help: "Print again every --seconds until interrupted.") var watch = false

  func run() async throws {
    var request = Runtime_V1_ListPodSandboxStatsRequest()
    request.filter.id = id ?? pod ?? ""
    request.filter.labelSelector = try labelSelector(label)
    let global = root.global
    let endpoint = try global.runtime()
    func list() async throws -> [Runtime_V1_PodSandboxStats] {
      try await global.call(endpoint) {
        try await $0.runtime.listPodSandboxStats(request, options: $0.options).stats
      }.sorted { $0.attributes.id < $1.attributes.id }
    }
    repeat {
      let first = try await list()
      if output != .table {
        var response = Runtime_V1_ListPodSandboxStatsResponse()
        response.stats = first
        let object = try Rendering.object(from: response)
        print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
        if watch { try await Task.sleep(for: .seconds(max(1, seconds))) }
        continue
      }
      let before = Dictionary(first.map { ($0.attributes.id, $0) }, uniquingKeysWith: { a, _ in a })
      try await Task.sleep(for: .seconds(max(1, seconds)))
      var rows = [["POD", "POD ID", "CPU %", "MEM"]]
      for stats in try await list() {
        let memory = stats.linux.memory.workingSetBytes.value
        if stats.linux.cpu.usageCoreNanoSeconds.value == 0 && memory == 0 { continue }
        guard let old = before[stats.attributes.id] else { continue }
        rows.append([
          stats.attributes.metadata.name, String(stats.attributes.id.prefix(13)),
          cpuPercent(now: stats.linux.cpu, before: old.linux.cpu), humanSize(memory),
        ])
      }
      Table.print(rows)
    } while watch
  }
}

struct EventsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events", abstract: "Stream container events until interrupted.", aliases: ["event"])
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json
  @Option(help: "Exit after this many events (crioctl only; default: stream until interrupted).") var count: Int?

  func run() async throws {
    guard output != .table else { throw ValidationError("events prints json or yaml") }
    let endpoint = try root.global.runtime()
    let output = self.output
    let limit = count
    do {
      // The stream has no deadline: it lasts until the runtime or the user ends it.
      try await CRIConnection.with(endpoint, timeout: .seconds(100 * 365 * 24 * 3600)) { connection in
        try await connection.runtime.getContainerEvents(Runtime_V1_GetEventsRequest(), options: connection.options) {
          response in
          var seen = 0
          for try await event in response.messages {
            var object = try Rendering.object(from: event) as? [String: Any] ?? [:]
            // proto3 JSON leaves out the zero enum value; crictl prints it (EmitDefaultValues).
            if object["containerEventType"] == nil { object["containerEventType"] = "CONTAINER_CREATED_EVENT" }
            let text = output == .yaml ? Rendering.yaml(object) + "\n---" : try Rendering.json(object)
            // Unbuffered: a reader of a pipe sees each event as it comes.
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
            seen += 1
            if let limit, seen >= limit { return }
          }
        }
      }
    } catch let error as RPCError {
      FileHandle.standardError.write(Data("crioctl: \(endpoint): \(error.code): \(error.message)\n".utf8))
      throw ExitCode(1)
    }
  }
}

struct MetricDescriptorsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "metricdescs", abstract: "List the descriptors of the pod metrics the runtime reports.")
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    let response = try await global.call(try global.runtime()) {
      try await $0.runtime.listMetricDescriptors(Runtime_V1_ListMetricDescriptorsRequest(), options: $0.options)
    }
    let object = try Rendering.object(from: response)
    print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
  }
}

struct PodMetricsVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "metricsp", abstract: "List every pod's metrics (cAdvisor-style).")
  @ParentCommand var root: Crioctl
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    let response = try await global.call(try global.runtime(), minimumTimeout: 30) {
      try await $0.runtime.listPodSandboxMetrics(Runtime_V1_ListPodSandboxMetricsRequest(), options: $0.options)
    }
    let object = try Rendering.object(from: response)
    print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
  }
}
