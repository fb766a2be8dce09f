import CRIAPI
import CRIClient
import CRIOBench
import Foundation
import GRPCCore

/// How much of each thing the workload does.
struct WorkloadOptions: Sendable {
  var iterations = 20
  var largePulls = 3
  var listSizes = [1, 100, 500]
  var listIterations = 20
  var concurrency = [10, 50]
  var concurrentRounds = 3
  /// Parallel calls when creating or removing the pods of the list phase (not measured).
  var setupParallelism = 4
  /// The phases that run (`--phases`); the idle RSS is always measured.
  var phases = Set(allPhases)
  static let allPhases = ["images", "pods", "containers", "lists", "concurrent"]
}

/// The operations, in the order of the table.
enum Op {
  static let runPod = "RunPodSandbox"
  static let podStatus = "PodSandboxStatus"
  static let stopPod = "StopPodSandbox"
  static let removePod = "RemovePodSandbox"
  static let create = "CreateContainer"
  static let start = "StartContainer"
  static let createStart = "CreateContainer+StartContainer"
  static let containerStatus = "ContainerStatus"
  static let execSync = "ExecSync"
  static let stop = "StopContainer"
  static let remove = "RemoveContainer"
  static let pullSmall = "PullImage small"
  static let pullLarge = "PullImage large"
  static let imageStatus = "ImageStatus"
  static let listImages = "ListImages"
  static let removeImage = "RemoveImage"
  static let removeLargeImage = "RemoveImage large"
  static func listContainers(_ n: Int) -> String { "ListContainers (\(n) containers)" }
  static func listPods(_ n: Int) -> String { "ListPodSandbox (\(n) pods)" }
  static func concurrentStart(_ n: Int) -> String { "\(n) pods started concurrently (wall)" }
  static func concurrentRemoval(_ n: Int) -> String { "\(n) pods removed concurrently (wall)" }
  static let rssIdle = "daemon RSS idle"
  static func rssWithPods(_ n: Int) -> String { "daemon RSS with \(n) pods" }
  static let rssAfter = "daemon RSS after removing them"
  static let monitorRSS = "conmon/shim RSS per container"
}

/// The bench workload against one CRI endpoint. Every call is timed on the
/// client, around the gRPC call on one long-lived connection (as the kubelet
/// keeps one). Everything it creates carries the label `crio-bench.run=<id>`
/// and is removed at the end, also when a phase fails or the run is interrupted.
final class Workload: @unchecked Sendable {
  static let runLabel = "crio-bench.run"

  let label: String
  let endpoint: CRIEndpoint
  /// The daemon whose RSS is reported (nil: no RSS figures).
  let daemonPid: Int32?
  let images: BenchImages
  let options: WorkloadOptions
  /// Pod log directories are created under here.
  let logRoot: String
  let runID: String

  /// Connections to `endpoint`, replaced every `ConnectionPool.callsPerConnection` calls.
  private let pool: ConnectionPool
  private let lock = NSLock()
  private var measurements: [BenchMeasurement] = []
  private var errors: [String] = []
  private var serial = 0
  private var pods = Set<String>()

  init(
    label: String, endpoint: CRIEndpoint, daemonPid: Int32?, images: BenchImages, options: WorkloadOptions,
    logRoot: String, runID: String
  ) {
    self.label = label
    self.endpoint = endpoint
    self.daemonPid = daemonPid
    self.images = images
    self.options = options
    self.logRoot = logRoot
    self.runID = runID
    pool = ConnectionPool(endpoint: endpoint)
  }

  // MARK: running

  /// Runs every phase (a failed phase is reported and the next one runs),
  /// then removes everything the run created.
  func run() async -> RunResult {
    declareOperations()
    var runtime = "unknown runtime"
    do {
      let version = try await call { try await $0.runtime.version(Runtime_V1_VersionRequest(), options: $0.options) }
      runtime = "\(version.runtimeName) \(version.runtimeVersion)"
      progress("\(label): \(runtime) at \(endpoint)")
      try await phase("daemon RSS idle") { try rss(Op.rssIdle) }
      if options.phases.contains("images") { try await phase("images") { try await imagePhase() } }
      if options.phases.contains("pods") { try await phase("pods") { try await podPhase() } }
      if options.phases.contains("containers") { try await phase("containers") { try await containerPhase() } }
      if options.phases.contains("lists") { try await phase("list calls") { try await listPhase() } }
      if options.phases.contains("concurrent") { try await phase("concurrent pods") { try await concurrentPhase() } }
    } catch {
      note("run: \(describe(error))")
    }
    // Clean-up runs in a task of its own, so an interrupt does not cancel it.
    let leftovers = await Task { await self.cleanUp() }.value
    await pool.close()
    if !leftovers.isEmpty { note("clean-up: \(leftovers.joined(separator: "; "))") }
    return lock.withLock {
      RunResult(label: label, endpoint: endpoint.description, runtime: runtime, measurements: measurements, errors: errors)
    }
  }

  /// Runs one phase; a failure is noted, its pods are removed, and the run goes on
  /// (an interrupt stops it).
  private func phase(_ name: String, _ body: () async throws -> Void) async throws {
    progress("\(label): \(name)")
    do {
      try await body()
    } catch {
      if Task.isCancelled { throw CancellationError() }
      note("\(name): \(describe(error))")
      try await removePods(Array(lock.withLock { pods }), parallelism: options.setupParallelism)
    }
  }

  // MARK: phases

  private func imagePhase() async throws {
    for _ in 0..<options.iterations {
      try await time(Op.pullSmall) { try await pull(images.smallName) }
      try await time(Op.imageStatus) {
        var request = Runtime_V1_ImageStatusRequest()
        request.image.image = images.smallName
        let response = try await call { try await $0.image.imageStatus(request, options: $0.options) }
        guard response.hasImage else { throw BenchError("ImageStatus: \(images.smallName) not found after its pull") }
      }
      try await time(Op.listImages) { _ = try await call { try await $0.image.listImages(Runtime_V1_ListImagesRequest(), options: $0.options) } }
      try await time(Op.removeImage) { try await removeImage(images.smallName) }
    }
    for _ in 0..<options.largePulls {
      try await time(Op.pullLarge) { try await pull(images.largeName) }
      try await time(Op.removeLargeImage) { try await removeImage(images.largeName) }
    }
  }

  private func podPhase() async throws {
    for _ in 0..<options.iterations {
      let config = podConfig("pod")
      let id = try await time(Op.runPod) { try await runPod(config) }
      try await time(Op.podStatus) {
        var request = Runtime_V1_PodSandboxStatusRequest()
        request.podSandboxID = id
        _ = try await call { try await $0.runtime.podSandboxStatus(request, options: $0.options) }
      }
      try await time(Op.stopPod) { try await stopPod(id) }
      try await time(Op.removePod) { try await removePod(id) }
    }
  }

  private func containerPhase() async throws {
    try await pull(images.runName)
    let config = podConfig("ctr")
    let pod = try await runPod(config)
    for i in 0..<options.iterations {
      let begin = ContinuousClock.now
      let id = try await time(Op.create) { try await createContainer(pod: pod, config, name: "c\(i)") }
      try await time(Op.start) { try await startContainer(id) }
      record(Op.createStart, .milliseconds, milliseconds(since: begin))
      try await time(Op.containerStatus) {
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = id
        let status = try await call { try await $0.runtime.containerStatus(request, options: $0.options) }.status
        guard status.state == .containerRunning else { throw BenchError("container \(id) is \(status.state) after start") }
      }
      try await time(Op.execSync) {
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = id
        request.cmd = ["true"]
        request.timeout = 10
        let response = try await call { try await $0.runtime.execSync(request, options: $0.options) }
        guard response.exitCode == 0 else { throw BenchError("ExecSync true: exit code \(response.exitCode)") }
      }
      try await time(Op.stop) { try await stopContainer(id, timeout: 10) }
      try await time(Op.remove) { try await removeContainer(id) }
    }
    try await stopPod(pod)
    try await removePod(pod)
  }

  /// Grows to each size (one pod with one created container per step), then lists.
  private func listPhase() async throws {
    var created: [String] = []
    for size in options.listSizes.sorted() {
      let missing = size - created.count
      if missing > 0 {
        progress("\(label): \(size) pods with a container each")
        created += try await parallel(count: missing, width: options.setupParallelism) { i in
          let config = self.podConfig("list")
          let pod = try await self.runPod(config)
          _ = try await self.createContainer(pod: pod, config, name: "l\(i)")
          return pod
        }
      }
      for _ in 0..<options.listIterations {
        try await time(Op.listContainers(size)) {
          _ = try await call { try await $0.runtime.listContainers(Runtime_V1_ListContainersRequest(), options: $0.options) }
        }
        try await time(Op.listPods(size)) {
          _ = try await call { try await $0.runtime.listPodSandbox(Runtime_V1_ListPodSandboxRequest(), options: $0.options) }
        }
      }
    }
    progress("\(label): removing \(created.count) pods")
    try await removePods(created, parallelism: options.setupParallelism)
  }

  /// N pods at once, each RunPodSandbox + CreateContainer + StartContainer (a
  /// pod start as the kubelet does it); at the largest N, the daemon's and the
  /// monitors' memory.
  private func concurrentPhase() async throws {
    try await pull(images.runName)
    let largest = options.concurrency.max() ?? 0
    for n in options.concurrency {
      for _ in 0..<options.concurrentRounds {
        let begin = ContinuousClock.now
        let started = try await parallel(count: n, width: n) { i in
          let config = self.podConfig("conc")
          let pod = try await self.runPod(config)
          let id = try await self.createContainer(pod: pod, config, name: "w\(i)")
          try await self.startContainer(id)
          return (pod: pod, container: id)
        }
        record(Op.concurrentStart(n), .milliseconds, milliseconds(since: begin))
        if n == largest {
          try rss(Op.rssWithPods(n))
          for entry in started {
            if let pid = try await containerPid(entry.container), let monitor = ProcFS.parent(of: pid),
              let mib = ProcFS.rssMiB(monitor)
            {
              record(Op.monitorRSS, .mebibytes, mib)
            }
          }
        }
        let removal = ContinuousClock.now
        try await removePods(started.map(\.pod), parallelism: n)
        record(Op.concurrentRemoval(n), .milliseconds, milliseconds(since: removal))
        if n == largest { try rss(Op.rssAfter) }
      }
    }
  }

  // MARK: clean-up

  /// Removes every pod (and its containers) labelled with this run, and the
  /// bench images. Returns what could not be removed.
  private func cleanUp() async -> [String] {
    var problems: [String] = []
    do {
      var request = Runtime_V1_ListPodSandboxRequest()
      request.filter.labelSelector = [Self.runLabel: runID]
      let labelled = try await call { try await $0.runtime.listPodSandbox(request, options: $0.options) }.items.map(\.id)
      let all = Set(labelled).union(lock.withLock { pods })
      if !all.isEmpty { progress("\(label): clean-up: removing \(all.count) pods") }
      try await removePods(Array(all), parallelism: options.setupParallelism)
      for name in [images.smallName, images.runName, images.largeName] {
        do {
          try await removeImage(name)
          } catch {
            problems.append("RemoveImage \(name): \(describe(error))")
          }
        }
        var check = Runtime_V1_ListPodSandboxRequest()
        check.filter.labelSelector = [Self.runLabel: runID]
        let left = try await call { try await $0.runtime.listPodSandbox(check, options: $0.options) }.items
        if !left.isEmpty { problems.append("\(left.count) pods still listed") }
    } catch {
      problems.append(describe(error))
    }
    return problems
  }

  /// Stops and removes pods, their containers first (force: timeout 0).
  private func removePods(_ ids: [String], parallelism: Int) async throws {
    _ = try await parallel(count: ids.count, width: max(1, parallelism)) { i in
      let pod = ids[i]
      var list = Runtime_V1_ListContainersRequest()
      list.filter.podSandboxID = pod
      let containers = try await self.call { try await $0.runtime.listContainers(list, options: $0.options) }.containers
      for container in containers {
        try await self.stopContainer(container.id, timeout: 0)
        try await self.removeContainer(container.id)
      }
      try await self.stopPod(pod)
      try await self.removePod(pod)
      return ()
    }
  }

  // MARK: CRI calls

  private func podConfig(_ kind: String) -> Runtime_V1_PodSandboxConfig {
    let n = lock.withLock {
      serial += 1
      return serial
    }
    var config = Runtime_V1_PodSandboxConfig()
    config.metadata.name = "bench-\(kind)-\(n)"
    config.metadata.namespace = "crio-bench"
    config.metadata.uid = "\(runID)-\(n)"
    config.labels = [Self.runLabel: runID]
    config.logDirectory = "\(logRoot)/\(config.metadata.uid)"
    // No shared PID namespace: no pause container is needed.
    config.linux.securityContext.namespaceOptions.pid = .container
    return config
  }

  private func runPod(_ config: Runtime_V1_PodSandboxConfig) async throws -> String {
    try FileManager.default.createDirectory(atPath: config.logDirectory, withIntermediateDirectories: true)
    var request = Runtime_V1_RunPodSandboxRequest()
    request.config = config
    let id = try await call { try await $0.runtime.runPodSandbox(request, options: $0.options) }.podSandboxID
    _ = lock.withLock { pods.insert(id) }
    return id
  }

  private func stopPod(_ id: String) async throws {
    var request = Runtime_V1_StopPodSandboxRequest()
    request.podSandboxID = id
    _ = try await call { try await $0.runtime.stopPodSandbox(request, options: $0.options) }
  }

  private func removePod(_ id: String) async throws {
    var request = Runtime_V1_RemovePodSandboxRequest()
    request.podSandboxID = id
    _ = try await call { try await $0.runtime.removePodSandbox(request, options: $0.options) }
    _ = lock.withLock { pods.remove(id) }
  }

  private func createContainer(
    pod: String, _ sandbox: Runtime_V1_PodSandboxConfig, name: String
  ) async throws -> String {
    var request = Runtime_V1_CreateContainerRequest()
    request.podSandboxID = pod
    request.sandboxConfig = sandbox
    request.config.metadata.name = name
    request.config.image.image = images.runName
    // PID 1 of its own PID namespace: it needs a handler to stop on SIGTERM.
    request.config.command = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    request.config.logPath = "\(name).log"
    request.config.labels = [Self.runLabel: runID]
    return try await call { try await $0.runtime.createContainer(request, options: $0.options) }.containerID
  }

  private func startContainer(_ id: String) async throws {
    var request = Runtime_V1_StartContainerRequest()
    request.containerID = id
    _ = try await call { try await $0.runtime.startContainer(request, options: $0.options) }
  }

  private func stopContainer(_ id: String, timeout: Int64) async throws {
    var request = Runtime_V1_StopContainerRequest()
    request.containerID = id
    request.timeout = timeout
    _ = try await call { try await $0.runtime.stopContainer(request, options: $0.options) }
  }

  private func removeContainer(_ id: String) async throws {
    var request = Runtime_V1_RemoveContainerRequest()
    request.containerID = id
    _ = try await call { try await $0.runtime.removeContainer(request, options: $0.options) }
  }

  private func pull(_ name: String) async throws {
    var request = Runtime_V1_PullImageRequest()
    request.image.image = name
    _ = try await call { try await $0.image.pullImage(request, options: $0.options) }
  }

  private func removeImage(_ name: String) async throws {
    var request = Runtime_V1_RemoveImageRequest()
    request.image.image = name
    do {
      _ = try await call { try await $0.image.removeImage(request, options: $0.options) }
    } catch let error as RPCError where error.code == .notFound {
      // Already gone (containerd answers NotFound, CRI-O and crio succeed).
    }
  }

  /// The container's init process on the host, from the verbose status
  /// (`info.pid`, as CRI-O, containerd and crio report it).
  private func containerPid(_ id: String) async throws -> Int32? {
    var request = Runtime_V1_ContainerStatusRequest()
    request.containerID = id
    request.verbose = true
    let info = try await call { try await $0.runtime.containerStatus(request, options: $0.options) }.info["info"] ?? ""
    let object = try? JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
    return (object?["pid"] as? NSNumber).map { $0.int32Value }.flatMap { $0 > 0 ? $0 : nil }
  }

  // MARK: recording

  private func declareOperations() {
    var names: [(String, MeasurementUnit)] = [
      Op.runPod, Op.podStatus, Op.stopPod, Op.removePod, Op.create, Op.start, Op.createStart, Op.containerStatus,
      Op.execSync, Op.stop, Op.remove, Op.pullSmall, Op.pullLarge, Op.imageStatus, Op.listImages, Op.removeImage,
      Op.removeLargeImage,
    ].map { ($0, .milliseconds) }
    for size in options.listSizes.sorted() { names += [(Op.listContainers(size), .milliseconds), (Op.listPods(size), .milliseconds)] }
    for n in options.concurrency { names += [(Op.concurrentStart(n), .milliseconds), (Op.concurrentRemoval(n), .milliseconds)] }
    let largest = options.concurrency.max() ?? 0
    names += [(Op.rssIdle, .mebibytes), (Op.rssWithPods(largest), .mebibytes), (Op.rssAfter, .mebibytes), (Op.monitorRSS, .mebibytes)]
    lock.withLock { measurements = names.map { BenchMeasurement(operation: $0.0, unit: $0.1) } }
  }

  private func record(_ operation: String, _ unit: MeasurementUnit, _ value: Double) {
    lock.withLock {
      if let index = measurements.firstIndex(where: { $0.operation == operation }) {
        measurements[index].samples.append(value)
      } else {
        measurements.append(BenchMeasurement(operation: operation, unit: unit, samples: [value]))
      }
    }
  }

  /// One CRI call on the pool's current connection.
  private func call<R>(_ body: (CRIConnection) async throws -> R) async throws -> R {
    try await body(try pool.connection())
  }

  /// Times `body`; a replacement connection, when one is due, is opened first, outside the measurement.
  private func time<R>(_ operation: String, _ body: () async throws -> R) async throws -> R {
    try await pool.prepare()
    let begin = ContinuousClock.now
    let result = try await body()
    record(operation, .milliseconds, milliseconds(since: begin))
    return result
  }

  private func rss(_ operation: String) throws {
    guard let daemonPid else { return }
    guard let mib = ProcFS.rssMiB(daemonPid) else { throw BenchError("no VmRSS for daemon pid \(daemonPid)") }
    record(operation, .mebibytes, mib)
  }

  private func note(_ error: String) {
    progress("\(label): FAILED \(error)")
    lock.withLock { errors.append(error) }
  }
}

/// Connections to one endpoint, each used for at most `callsPerConnection`
/// calls (see `PersistentCRIConnection`: grpc-go servers answer unary calls
/// with RST_STREAM, and a connection receiving 200 of them in 10 s is closed).
final class ConnectionPool: @unchecked Sendable {
  static let callsPerConnection = 100
  let endpoint: CRIEndpoint
  private let lock = NSLock()
  private var current: PersistentCRIConnection?
  private var used = 0
  private var retired: [PersistentCRIConnection] = []

  init(endpoint: CRIEndpoint) { self.endpoint = endpoint }

  /// The current connection, replaced first when it has served its calls.
  func connection() throws -> CRIConnection {
    try lock.withLock {
      if current == nil || used >= Self.callsPerConnection {
        if let current { retired.append(current) }
        current = try PersistentCRIConnection(endpoint, timeout: .seconds(300))
        used = 0
      }
      used += 1
      return current!.connection
    }
  }

  /// Before a timed call: when fewer than `calls` calls are left on the
  /// current connection, a new one is opened and used once (Version), so the
  /// connection set-up is not measured; retired connections are closed.
  func prepare(calls: Int = 1) async throws {
    let due = lock.withLock { current == nil || used + calls > Self.callsPerConnection }
    if due {
      lock.withLock {
        if let current { retired.append(current) }
        current = nil
      }
      let c = try connection()
      _ = try await c.runtime.version(Runtime_V1_VersionRequest(), options: c.options)
    }
    let old = lock.withLock {
      defer { retired = [] }
      return retired
    }
    for connection in old { await connection.close() }
  }

  func close() async {
    let all = lock.withLock {
      defer {
        retired = []
        current = nil
      }
      return retired + (current.map { [$0] } ?? [])
    }
    for connection in all { await connection.close() }
  }
}

func milliseconds(since begin: ContinuousClock.Instant) -> Double {
  let elapsed = ContinuousClock.now - begin
  return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

/// Runs `body(0..<count)` with at most `width` at a time; results in index order.
func parallel<R: Sendable>(
  count: Int, width: Int, _ body: @escaping @Sendable (Int) async throws -> R
) async throws -> [R] {
  guard count > 0 else { return [] }
  return try await withThrowingTaskGroup(of: (Int, R).self) { group in
    var results = [R?](repeating: nil, count: count)
    var next = 0
    while next < min(width, count) {
      let i = next
      group.addTask { (i, try await body(i)) }
      next += 1
    }
    while let (i, result) = try await group.next() {
      results[i] = result
      if next < count {
        let j = next
        group.addTask { (j, try await body(j)) }
        next += 1
      }
    }
    return results.map { $0! }
  }
}

func describe(_ error: any Error) -> String {
  if let rpc = error as? RPCError { return "\(rpc.code): \(rpc.message)" }
  return "\(error)"
}

func progress(_ line: String) {
  FileHandle.standardError.write(Data("crio-bench: \(line)\n".utf8))
}
