import ArgumentParser
import CRIClient
import CRIOBench
import CRIOTestSupport
import Dispatch
import Foundation
import Glibc

@main
struct CrioBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crio-bench",
    abstract: "Measures the CRI hot paths of crio, and of another CRI runtime side by side.",
    discussion: """
      Without --endpoint, starts crio (--crio) on temporary directories with a loopback-only CNI network and \
      measures it. Images come from a registry the bench starts (Debian's docker-registry on 127.0.0.1), or \
      from --registry. --compare runs the same workload against another CRI endpoint afterwards and prints \
      the ratio of the medians per line. Everything the bench creates is removed at the end, on failure or \
      interrupt too. Run as root.
      """)

  @Option(help: "Measure this CRI endpoint (unix:///path) instead of starting crio.")
  var endpoint: String?

  @Option(help: "The crio binary to start (default: the crio next to crio-bench).")
  var crio: String?

  @Option(help: "crio's --log-level.")
  var crioLogLevel = "info"

  @Option(help: "A CNI .conflist for the pods of the started crio (default: a loopback-only network).")
  var crioCniConflist: String?

  @Option(help: "Another CRI runtime (unix:///path) to run the same workload against, for ratios.")
  var compare: String?

  @Option(help: "PID of the compare runtime's daemon, for its RSS (default: the process listening on its socket).")
  var comparePid: Int32?

  @Option(help: "An existing plain-HTTP registry (host:port) both runtimes can pull from; default: start one.")
  var registry: String?

  @Option(help: "Repository prefix of the bench images, as the runtimes pull them (default: <registry>/crio-bench).")
  var imagePrefix: String?

  @Option(help: "Write the report as JSON to this file.")
  var json: String?

  @Option(help: "Iterations of each pod, container and small-image operation.")
  var iterations = 20

  @Option(help: "Pulls of the large image.")
  var largePulls = 3

  @Option(help: "Random data in the large image, in MiB (four layers).")
  var largeImageMib = 100

  @Option(help: "Container counts at which the list calls are measured (one pod per container).")
  var listSizes = "1,100,500"

  @Option(help: "Samples of each list call at each size.")
  var listIterations = 20

  @Option(help: "Numbers of pods started concurrently.")
  var concurrency = "10,50"

  @Option(help: "Rounds of each concurrent start.")
  var concurrentRounds = 3

  @Option(help: "Phases to run, comma-separated, in the usual order: images, pods, containers, lists, concurrent (default: all).")
  var phases = "images,pods,containers,lists,concurrent"

  @Flag(help: "Keep the temporary directory (crio's log and state) after the run.")
  var keep = false

  func validate() throws {
    for (name, value) in [("--list-sizes", listSizes), ("--concurrency", concurrency)] {
      guard (try? Self.numbers(value)) != nil else { throw ValidationError("\(name): a comma-separated list of positive numbers") }
    }
    for phase in Self.phaseNames(phases) where !WorkloadOptions.allPhases.contains(phase) {
      throw ValidationError("--phases: unknown phase \(phase) (known: \(WorkloadOptions.allPhases.joined(separator: ", ")))")
    }
    for endpoint in [endpoint, compare].compactMap({ $0 }) {
      do { _ = try CRIEndpoint(parsing: endpoint) } catch { throw ValidationError("\(error)") }
    }
  }

  static func phaseNames(_ list: String) -> [String] {
    list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }

  static func numbers(_ list: String) throws -> [Int] {
    let values = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("bad list \(list)") }
    return values.map { $0! }
  }

  func run() async throws {
    let runID = String(UUID().uuidString.lowercased().prefix(8))
    let work = "/tmp/crio-bench-\(runID)"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let session = Session(command: self, runID: runID, work: work)
    // SIGINT/SIGTERM cancel the workload; the clean-up still runs.
    let task = Task { try await session.run() }
    var sources: [any DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler {
        progress("interrupted: cleaning up")
        task.cancel()
      }
      source.resume()
      sources.append(source)
    }
    let result = await task.result
    for source in sources { source.cancel() }
    if !keep { try? FileManager.default.removeItem(atPath: work) } else { progress("kept \(work)") }
    let report = try result.get()
    print(report.table(), terminator: "")
    if let json {
      try report.json().write(to: URL(fileURLWithPath: json))
      progress("wrote \(json)")
    }
    let failed = [report.primary] + (report.compare.map { [$0] } ?? [])
    if failed.contains(where: { !$0.errors.isEmpty }) { throw ExitCode(1) }
  }
}

/// One bench run: registry, images, daemon, workloads, and their clean-up in reverse.
final class Session: @unchecked Sendable {
  let command: CrioBench
  let runID: String
  let work: String
  private var registryServer: RegistryServer?
  private var daemon: LocalDaemon?

  init(command: CrioBench, runID: String, work: String) {
    self.command = command
    self.runID = runID
    self.work = work
  }

  func run() async throws -> BenchReport {
    var options = WorkloadOptions()
    options.iterations = command.iterations
    options.largePulls = command.largePulls
    options.listSizes = try CrioBench.numbers(command.listSizes)
    options.listIterations = command.listIterations
    options.concurrency = try CrioBench.numbers(command.concurrency)
    options.concurrentRounds = command.concurrentRounds
    options.phases = Set(CrioBench.phaseNames(command.phases))

    do {
      if command.endpoint == nil && getuid() != 0 { throw BenchError("crio-bench starts crio and needs root") }
      let registry: String
      if let given = command.registry {
        registry = given
      } else {
        progress("starting a registry")
        let server = try await RegistryServer()
        registryServer = server
        registry = server.host
      }
      let prefix = command.imagePrefix ?? "\(registry)/crio-bench"
      progress("building the bench images")
      let images = try BenchImages(prefix: prefix, largeMiB: command.largeImageMib)
      progress(
        "pushing \(images.smallName) (\(mib(BenchImages.size(images.small)))), \(images.runName), "
          + "\(images.largeName) (\(mib(BenchImages.size(images.large))), \(images.large.layers.count) layers) to \(registry)")
      try await images.push(to: registry)
      try Task.checkCancellation()

      let primaryEndpoint: CRIEndpoint
      let primaryPid: Int32?
      if let endpoint = command.endpoint {
        primaryEndpoint = try CRIEndpoint(parsing: endpoint)
        primaryPid = ProcFS.listener(of: primaryEndpoint.socketPath)
      } else {
        let binary = command.crio ?? Self.sibling("crio")
        let imageHost = String(prefix.split(separator: "/").first ?? "")
        let local = try LocalDaemon(
          binary: binary, under: work, imageHost: imageHost, registry: registry, logLevel: command.crioLogLevel,
          conflist: command.crioCniConflist)
        daemon = local
        progress("starting \(binary)")
        try await local.start()
        primaryEndpoint = local.endpoint
        primaryPid = local.pid
      }
      let primary = await Workload(
        label: command.endpoint == nil ? "crio" : "endpoint", endpoint: primaryEndpoint, daemonPid: primaryPid,
        images: images, options: options, logRoot: "\(work)/pod-logs", runID: runID
      ).run()

      var compared: RunResult?
      if let compare = command.compare, !Task.isCancelled {
        let endpoint = try CRIEndpoint(parsing: compare)
        let pid = command.comparePid ?? ProcFS.listener(of: endpoint.socketPath)
        if pid == nil { progress("compare: no process found listening on \(endpoint.socketPath); no RSS figures") }
        compared = await Workload(
          label: "compare", endpoint: endpoint, daemonPid: pid, images: images, options: options,
          logRoot: "\(work)/pod-logs", runID: runID
        ).run()
      }
      if let daemon, !primary.errors.isEmpty {
        if !daemon.process.isRunning {
          progress("crio exited during the run with status \(daemon.process.terminationStatus)")
        }
        let saved = "\(work).crio.log"
        try? FileManager.default.copyItem(atPath: daemon.logPath, toPath: saved)
        progress("crio's log: \(saved)")
      }
      await tearDown()
      let machine = ProcFS.machine()
      return BenchReport(
        date: ISO8601DateFormatter().string(from: Date()),
        machine: MachineInfo(cpus: machine.cpus, memoryMiB: machine.memoryMiB, os: machine.os, kernel: machine.kernel),
        primary: primary, compare: compared)
    } catch {
      await Task { await tearDown() }.value
      if let daemon { progress("crio log (\(daemon.logPath)):\n\(daemon.tail())") }
      throw error
    }
  }

  /// Stops crio and sweeps what it may have left, then stops the registry.
  private func tearDown() async {
    if let daemon {
      self.daemon = nil
      await daemon.stop()
      let swept = daemon.sweep()
      if !swept.isEmpty {
        let kinds = Dictionary(grouping: swept) { String($0.prefix { $0 != " " }) }
          .map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
        progress("removed leftovers of crio: \(kinds) (e.g. \(swept[0]))")
      }
    }
    registryServer?.stop()
    registryServer = nil
  }

  /// A program in the same directory as this executable.
  static func sibling(_ name: String) -> String {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let path = me.deletingLastPathComponent().appendingPathComponent(name).path
    if FileManager.default.isExecutableFile(atPath: path) { return path }
    let proc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return proc.deletingLastPathComponent().appendingPathComponent(name).path
  }
}

func mib(_ bytes: Int) -> String { "\(formatValue(Double(bytes) / 1_048_576)) MiB" }
