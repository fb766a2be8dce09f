import CRIAPI
import CRIOConfig
import CRIOImage
import CRIONetwork
import CRIORegistry
import CRIORuntime
import CRIOStreaming
import CRIOSystem
import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOPosix

/// The crio daemon's life cycle: prepare the host, serve the CRI on the
/// configured unix socket until SIGTERM or SIGINT, then shut down cleanly.
public struct CRIODaemon: Sendable {
  public let loaded: LoadedConfiguration
  let logger: Logger

  public init(loaded: LoadedConfiguration, logger: Logger) {
    self.loaded = loaded
    self.logger = logger
  }

  var config: CRIOConfiguration { loaded.config }

  /// Runs until a shutdown signal, then returns after in-flight calls finished
  /// and the socket file is removed. Throws `DaemonError` when it cannot start.
  public func run() async throws {
    // Signals are caught from the first moment, so one that arrives while
    // starting up still shuts the daemon down cleanly.
    let signals = ShutdownSignals()
    defer { signals.cancel() }

    let socketPath = config.api.listen
    let runtimeHealth = RuntimeHealth(config: config)
    try checkHostTools(runtimeHealth)
    try clearSocketPath(socketPath)
    logger.info("Starting crio", metadata: ["version": "\(CRIOVersion.version)", "socket": "\(socketPath)"])
    announceConfiguration()
    let layout = ImageStoreLayout(root: config.root)
    try createDirectories(store: layout, socketPath: socketPath)
    let puller = try await makeImagePuller(layout: layout)
    let metrics = config.metrics.enableMetrics ? RuntimeMetrics() : nil
    do {
      let sandboxes: SandboxManager
      let containers: ContainerManager
      do {
        sandboxes = try await SandboxManager(config: config, logger: logger)
        containers = try await ContainerManager(
          config: config, logger: logger,
          onOOMKill: { record in metrics?.recordOOMKill(containerName: record.displayName) })
      } catch {
        throw DaemonError.cannotCreateDirectory(path: config.runroot, reason: "\(error)")
      }
      do {
        let report = try await RuntimeRecovery(
          config: config, sandboxes: sandboxes, containers: containers, logger: logger
        ).run()
        if !report.journal.isEmpty || !report.orphans.isEmpty {
          logger.info("Recovered", metadata: [
            "interrupted": "\(report.journal.count)", "orphans": "\(report.orphans.count)",
          ])
        }
      } catch {
        throw DaemonError.cannotCreateDirectory(path: config.versionFile, reason: "\(error)")
      }
      try await serve(
        socketPath: socketPath, runtimeHealth: runtimeHealth, sandboxes: sandboxes, containers: containers,
        puller: puller, metrics: metrics, signals: signals)
      // Removed containers whose files are still being released (else the next start would finish them).
      await containers.settleRemovals()
    } catch {
      try? await puller.client.shutdown()
      throw error
    }
    try? await puller.client.shutdown()
    logger.info("Stopped serving; removing socket", metadata: ["socket": "\(socketPath)"])
  }

  /// Listens on the socket and serves the CRI until a shutdown signal.
  private func serve(
    socketPath: String, runtimeHealth: RuntimeHealth, sandboxes: SandboxManager, containers: ContainerManager,
    puller: ImagePuller, metrics: RuntimeMetrics?, signals: ShutdownSignals
  ) async throws {
    let listener = try listen(on: socketPath)
    defer { unlink(socketPath) }
    let streaming = try await startStreamingServer(sandboxes: sandboxes, containers: containers)

    // gRPC and, sniffed from the same socket, the HTTP/1 inspect endpoints of `crio status`.
    let transport = CRISocketListener.transport(
      listeningSocket: listener,
      inspector: DaemonInspector(config: config, containers: containers, sandboxes: sandboxes),
      maxRequestPayloadSize: config.api.grpcMaxRecvMsgSize)
    let runtimeService = RuntimeService(
      config: config, runtimeHealth: runtimeHealth, networkHealth: NetworkHealth(config: config),
      sandboxes: sandboxes, containers: containers, images: puller.store, streaming: streaming, puller: puller)
    let events = runtimeService.events
    let exitWatcher: ExitWatcher?
    let metricsEndpoint: MetricsEndpoint?
    do {
      exitWatcher = try startExitWatcher(containers: containers, events: events)
      do {
        metricsEndpoint = try await startMetricsEndpoint(metrics)
      } catch {
        exitWatcher?.stop()
        throw error
      }
    } catch {
      await streaming.stop()
      throw error
    }
    defer {
      exitWatcher?.stop()
      events.close()
    }
    let server = GRPCServer(
      transport: transport,
      services: [
        runtimeService,
        ImageService(puller: puller, containers: containers, pinned: PinnedImages([config.image.pauseImage] + config.image.pinnedImages)),
      ],
      interceptors: (metrics.map { [MetricsInterceptor(metrics: $0)] } ?? []) + [CRIErrorInterceptor(logger: logger)])

    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await runtimeService.runEventPipeline(logger: logger) }
      group.addTask {
        // Shutting down a transport that is still registering its listener
        // trips NIO: let it finish starting first.
        _ = await transport.listeningAddress
        for await signal in signals.received {
          logger.info("Received \(signal), shutting down")
          // Event streams never end on their own: end them, or the graceful shutdown waits forever.
          events.close()
          server.beginGracefulShutdown()
          return
        }
      }
      do {
        try await server.serve()
      } catch {
        await streaming.stop()
        await metricsEndpoint?.stop(socket: config.metrics.metricsSocket)
        throw error
      }
      group.cancelAll()
    }
    await streaming.stop()
    await metricsEndpoint?.stop(socket: config.metrics.metricsSocket)
  }

  /// The Prometheus endpoint, when `enable_metrics` is set.
  private func startMetricsEndpoint(_ metrics: RuntimeMetrics?) async throws -> MetricsEndpoint? {
    guard let metrics else { return nil }
    metrics.bootstrap()
    do {
      return try await MetricsEndpoint.start(
        metrics: metrics, host: config.metrics.metricsHost, port: config.metrics.metricsPort,
        socket: config.metrics.metricsSocket, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    } catch {
      let socket = config.metrics.metricsSocket.isEmpty ? "" : " and \(config.metrics.metricsSocket)"
      throw DaemonError.metrics(
        "cannot serve metrics on \(config.metrics.metricsHost):\(config.metrics.metricsPort)\(socket): \(error)")
    }
  }

  /// Watches conmon's exit files so STOPPED events go out when a container
  /// exits (only when pod events are enabled).
  private func startExitWatcher(containers: ContainerManager, events: ContainerEventHub) throws -> ExitWatcher? {
    guard events.enabled else { return nil }
    let watcher = ExitWatcher(
      directory: containers.exitsDirectory, onExit: { name in events.note(.mayHaveExited(id: name)) },
      onOverflow: { events.note(.recheckAll) })
    do {
      try watcher.start()
    } catch {
      throw DaemonError.exitWatcher("cannot watch container exits: \(error)")
    }
    return watcher
  }

  /// Starts the HTTP server behind Exec, Attach and PortForward URLs.
  private func startStreamingServer(sandboxes: SandboxManager, containers: ContainerManager) async throws
    -> StreamingServer
  {
    var settings = StreamingServerConfiguration(address: config.api.streamAddress, port: Int(config.api.streamPort) ?? 0)
    if let idle = GoDuration.parse(config.api.streamIdleTimeout), idle > .zero { settings.idleTimeout = idle }
    do {
      if config.api.streamEnableTLS {
        settings.tls = try StreamingServerConfiguration.tls(
          certificate: config.api.streamTLSCert, key: config.api.streamTLSKey, clientCA: config.api.streamTLSCA)
      }
      let server = StreamingServer(
        configuration: settings, backend: RuntimeStreamingBackend(containers: containers, sandboxes: sandboxes),
        group: MultiThreadedEventLoopGroup.singleton, logger: logger)
      try await server.start()
      return server
    } catch {
      throw DaemonError.streamingServer(
        "cannot start the streaming server on \(config.api.streamAddress):\(config.api.streamPort): \(error)")
    }
  }

  /// Logs what the configuration asks for that this version does not act on yet.
  private func announceConfiguration() {
    for file in loaded.files {
      logger.info("Loaded configuration file", metadata: ["file": "\(file)"])
    }
    for warning in loaded.warnings {
      logger.warning("\(warning)")
    }
    var notHonoured: [String] = []
    for option in ConfigSchema.options where !option.honoured {
      notHonoured.append(option.displayName)
      if loaded.explicitlySet.contains(option.path) {
        logger.warning("Option \(option.displayName) is accepted but not honoured yet by this version of crio")
      }
    }
    for (key, honoured) in ConfigSchema.runtimeHandlerKeys where !honoured {
      notHonoured.append("[crio.runtime.runtimes.*] \(key)")
    }
    for (name, honoured) in ConfigSchema.flagOnlyOptions where !honoured {
      notHonoured.append("--\(name)")
    }
    logger.info("Options accepted but not honoured yet: \(notHonoured.joined(separator: ", "))")
  }

  /// The image store (cleaned of a killed pull's leftovers), registries.conf and the auth file.
  private func makeImagePuller(layout: ImageStoreLayout) async throws -> ImagePuller {
    let store: ImageStore
    do {
      store = try await ImageStore(layout: layout)
    } catch {
      throw DaemonError.imageStore("\(error)")
    }
    let registries: RegistriesConfiguration
    do {
      let (loaded, warnings) = try RegistriesConfiguration.load(
        file: config.image.registriesConf, dropInDir: config.image.registriesConfDir)
      for warning in warnings { logger.warning("\(warning)") }
      registries = loaded
    } catch {
      throw DaemonError.registriesConfiguration("\(error)")
    }
    var authFile = AuthFile()
    if !config.image.globalAuthFile.isEmpty {
      do {
        authFile = try AuthFile.load(path: config.image.globalAuthFile)
      } catch {
        throw DaemonError.authFile("\(error)")
      }
    }
    return ImagePuller(
      store: store, client: RegistryClient(logger: logger), resolver: PullSourceResolver(configuration: registries),
      authFile: authFile, logger: logger)
  }

  private func checkHostTools(_ health: RuntimeHealth) throws {
    let name = config.runtime.defaultRuntime
    guard health.runtimeBinary() != nil else {
      throw DaemonError.runtimeNotFound(name: name, path: config.runtime.runtimes[name]?.runtimePath ?? "")
    }
    guard health.conmonBinary() != nil else {
      throw DaemonError.conmonNotFound(path: config.runtime.conmon)
    }
  }

  private func createDirectories(store: ImageStoreLayout, socketPath: String) throws {
    let socketDir = (socketPath as NSString).deletingLastPathComponent
    for dir in [config.runroot, config.logDir, socketDir] {
      do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      } catch {
        throw DaemonError.cannotCreateDirectory(path: dir, reason: error.localizedDescription)
      }
    }
    do {
      try store.create()
    } catch {
      throw DaemonError.cannotCreateDirectory(path: store.root, reason: error.localizedDescription)
    }
  }

  /// Removes a stale socket and refuses a live one (or anything that is not a socket).
  private func clearSocketPath(_ path: String) throws {
    guard path.utf8.count <= UnixSocket.maxPathLength else {
      throw DaemonError.socketPathTooLong(path: path, max: UnixSocket.maxPathLength)
    }
    switch UnixSocket.state(of: path) {
    case .live:
      throw DaemonError.socketInUse(path: path)
    case .notASocket:
      throw DaemonError.socketPathNotASocket(path: path)
    case .stale:
      unlink(path)
    case .absent:
      break
    }
  }

  /// Listens on `path` with mode 0660 set before any client can connect.
  private func listen(on path: String) throws -> Int32 {
    do {
      return try UnixSocket.listen(path: path, mode: 0o660)
    } catch let error as UnixSocket.ListenError where error.errno == EADDRINUSE {
      throw DaemonError.socketInUse(path: path)
    } catch {
      throw DaemonError.cannotListen(reason: "\(error)")
    }
  }
}

/// SIGTERM and SIGINT delivered as an async sequence instead of killing the process.
final class ShutdownSignals: Sendable {
  let received: AsyncStream<String>
  private let continuation: AsyncStream<String>.Continuation
  private let sources: [SignalSource]

  /// Wraps a dispatch source, which is thread-safe but not marked Sendable.
  private struct SignalSource: @unchecked Sendable {
    let source: any DispatchSourceSignal
  }

  init() {
    (received, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(4))
    var sources: [SignalSource] = []
    for (signalNumber, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler { [continuation] in continuation.yield(name) }
      source.resume()
      sources.append(SignalSource(source: source))
    }
    self.sources = sources
  }

  func cancel() {
    for entry in sources { entry.source.cancel() }
    continuation.finish()
  }
}
