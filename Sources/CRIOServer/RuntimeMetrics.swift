import CoreMetrics
import GRPCCore
import Prometheus

/// The daemon's own Prometheus metrics (`[crio.metrics] enable_metrics`),
/// named as CRI-O's with the `container_runtime_crio_` prefix: per-RPC
/// operation counts, errors and latency histograms and OOM kills here; image pull bytes,
/// layer reuse and pull results from `CRIOImage` through swift-metrics,
/// which `bootstrap()` points at the same registry.
public final class RuntimeMetrics: Sendable {
  public let registry: PrometheusCollectorRegistry

  static let namespace = "container_runtime"
  static let subsystem = "crio"

  /// Latency buckets from 1 ms (Version, Status) to a minute (image pulls, stops with a grace period).
  static let latencyBuckets: [Duration] = [
    .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    .seconds(10), .seconds(30), .seconds(60),
  ]

  public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
    self.registry = registry
    registerInitialValues()
  }

  /// Routes swift-metrics (used by the image puller) into this registry.
  /// Once per process, as swift-metrics allows.
  public func bootstrap() {
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
  }

  static func descriptor(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: namespace, subsystem: subsystem, metricName: name, unitName: unit, helpText: help)
  }

  // MetricNameDescriptor is not Sendable: made when needed.
  static var operations: MetricNameDescriptor {
    descriptor("operations", unit: "total", help: "Cumulative number of CRI operations, by RPC.")
  }
  static var errors: MetricNameDescriptor {
    descriptor(
      "operations_errors", unit: "total",
      help: "Cumulative number of CRI operations that failed, by RPC and gRPC status code.")
  }
  static var latency: MetricNameDescriptor {
    descriptor("operations_latency", unit: "seconds", help: "Latency of CRI operations, by RPC.")
  }

  static var oomKills: MetricNameDescriptor {
    descriptor("containers_oom", unit: "total", help: "Amount of containers killed because they ran out of memory (OOM).")
  }
  static var oomKillsByName: MetricNameDescriptor {
    descriptor(
      "containers_oom_count", unit: "total",
      help: "Amount of containers killed because they ran out of memory (OOM), by container name.")
  }

  /// Shows `containers_oom_total` as 0 before the first OOM kill, as CRI-O does.
  func registerInitialValues() {
    _ = registry.makeCounter(descriptor: Self.oomKills)
  }

  /// Counts a container the OOM killer stopped (`ContainerManager` reports each once).
  public func recordOOMKill(containerName: String) {
    registry.makeCounter(descriptor: Self.oomKills).increment()
    registry.makeCounter(descriptor: Self.oomKillsByName, labels: [("name", containerName)]).increment()
  }

  /// Records one finished RPC.
  func record(operation: String, duration: Duration, failure: RPCError.Code?) {
    registry.makeCounter(descriptor: Self.operations, labels: [("operation", operation)]).increment()
    registry.makeDurationHistogram(
      descriptor: Self.latency, labels: [("operation", operation)], buckets: Self.latencyBuckets
    ).record(duration)
    if let failure {
      registry.makeCounter(descriptor: Self.errors, labels: [("operation", operation), ("code", Self.name(failure))])
        .increment()
    }
  }

  /// gRPC's canonical code names, as grpc-go prints them ("NotFound").
  static let codeNames = [
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
    "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
    "Internal", "Unavailable", "DataLoss", "Unauthenticated",
  ]

  static func name(_ code: RPCError.Code) -> String {
    codeNames.indices.contains(code.rawValue) ? codeNames[code.rawValue] : "Code\(code.rawValue)"
  }

  /// The text exposition format (version 0.0.4).
  public func exposition() -> String { registry.emitToString() }
}

/// Counts, times and classifies every RPC (outermost, so it sees the gRPC
/// status `CRIErrorInterceptor` chose). A streaming RPC is timed to the end
/// of its stream.
struct MetricsInterceptor: ServerInterceptor {
  let metrics: RuntimeMetrics

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let operation = context.descriptor.method
    let metrics = self.metrics
    let start = ContinuousClock.now
    let response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      metrics.record(operation: operation, duration: ContinuousClock.now - start, failure: Self.code(error))
      throw error
    }
    guard case .success(var contents) = response.accepted else {
      if case .failure(let error) = response.accepted {
        metrics.record(operation: operation, duration: ContinuousClock.now - start, failure: error.code)
      }
      return response
    }
    let producer = contents.producer
    contents.producer = { writer in
      do {
        let trailers = try await producer(writer)
        metrics.record(operation: operation, duration: ContinuousClock.now - start, failure: nil)
        return trailers
      } catch {
        metrics.record(operation: operation, duration: ContinuousClock.now - start, failure: Self.code(error))
        throw error
      }
    }
    return StreamingServerResponse(accepted: .success(contents))
  }

  static func code(_ error: any Error) -> RPCError.Code {
    (error as? RPCError)?.code ?? CRIErrorMapping.rpcError(for: error).code
  }
}
