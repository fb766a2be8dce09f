import CRIOConfig
import CRIOImage
import CRIORegistry
import CRIORuntime
import CRIOStreaming
import CRIOSystem
import GRPCCore
import Logging

/// The one place where errors become gRPC statuses.
public enum CRIErrorMapping {
  /// The longest status message sent. Messages quote what the request named,
  /// and a message past the peer's header-list limit (gRPC sends it in the
  /// trailers) breaks the whole connection instead of failing one call.
  public static let maxMessageBytes = 4096

  public static func rpcError(for error: any Error) -> RPCError {
    var rpcError = unbounded(error)
    rpcError.message = bounded(rpcError.message)
    return rpcError
  }

  /// `message`, cut at a character boundary to at most `maxMessageBytes` bytes of UTF-8.
  static func bounded(_ message: String) -> String {
    guard message.utf8.count > maxMessageBytes else { return message }
    let marker = "... (truncated)"
    var kept = ""
    var bytes = 0
    for scalar in message.unicodeScalars {
      let size = String(scalar).utf8.count
      if bytes + size > maxMessageBytes - marker.utf8.count { break }
      kept.unicodeScalars.append(scalar)
      bytes += size
    }
    return kept + marker
  }

  private static func unbounded(_ error: any Error) -> RPCError {
    switch error {
    case let error as RPCError:
      return error
    case let error as CRIError:
      let code: RPCError.Code =
        switch error {
        case .unimplemented: .unimplemented
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .invalidArgument: .invalidArgument
        case .failedPrecondition: .failedPrecondition
        case .internal: .internalError
        }
      return RPCError(code: code, message: error.description)
    case let error as ConfigError:
      return RPCError(code: .invalidArgument, message: error.description)
    case let error as ImageStoreError:
      let code: RPCError.Code =
        switch error {
        case .invalidReference: .invalidArgument
        case .imageNotFound: .notFound
        case .imageInUse: .failedPrecondition
        case .diffIDMismatch, .invalidImage: .dataLoss
        case .corruptIndex, .io: .internalError
        }
      return RPCError(code: code, message: error.description)
    case let error as RegistryError:
      let code: RPCError.Code =
        switch error {
        case .notFound: .notFound
        case .unauthorized: .permissionDenied
        case .digestMismatch, .sizeMismatch: .dataLoss
        case .tooLarge, .unsupportedMediaType, .noMatchingPlatform, .invalidManifest: .failedPrecondition
        case .unreachable, .httpStatus: .unavailable
        }
      return RPCError(code: code, message: "pulling image failed: \(error.description)")
    case let error as SandboxError:
      let code: RPCError.Code =
        switch error {
        case .invalid, .ambiguous: .invalidArgument
        case .nameInUse: .alreadyExists
        case .notFound: .notFound
        case .setupFailed, .networkFailed: .internalError
        }
      return RPCError(code: code, message: error.description)
    case let error as ContainerError:
      let code: RPCError.Code =
        switch error {
        case .invalid: .invalidArgument
        case .nameInUse: .alreadyExists
        case .notFound: .notFound
        case .sandboxNotReady, .failedPrecondition: .failedPrecondition
        case .runtimeFailed: .internalError
        case .timedOut: .deadlineExceeded
        }
      return RPCError(code: code, message: error.description)
    case let error as StreamTokenError:
      return RPCError(code: .resourceExhausted, message: error.description)
    case let error as StreamingServerError:
      return RPCError(code: .unavailable, message: error.description)
    case let error as ResolveError:
      return RPCError(code: .failedPrecondition, message: error.description)
    case let error as LayerError:
      return RPCError(code: .dataLoss, message: "image layer rejected: \(error.description)")
    case let error as ProcessRunner.Failure:
      return RPCError(code: .internalError, message: error.description)
    case is CancellationError:
      return RPCError(code: .cancelled, message: "the call was cancelled")
    default:
      return RPCError(code: .internalError, message: "\(error)")
    }
  }
}

/// Applies `CRIErrorMapping` to every RPC, unary and streaming, and logs each
/// call at debug level (failures at warning level).
struct CRIErrorInterceptor: ServerInterceptor {
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let method = context.descriptor.method
    let logger = self.logger
    logger.debug("request", metadata: ["rpc": "\(method)"])
    let response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      throw Self.mapped(error, method: method, logger: logger)
    }
    guard case .success(var contents) = response.accepted else { return response }
    let producer = contents.producer
    contents.producer = { writer in
      do {
        return try await producer(writer)
      } catch {
        throw Self.mapped(error, method: method, logger: logger)
      }
    }
    return StreamingServerResponse(accepted: .success(contents))
  }

  private static func mapped(_ error: any Error, method: String, logger: Logger) -> RPCError {
    let rpcError = CRIErrorMapping.rpcError(for: error)
    let level: Logger.Level = rpcError.code == .unimplemented || rpcError.code == .notFound ? .debug : .warning
    logger.log(level: level, "request failed", metadata: [
      "rpc": "\(method)", "code": "\(rpcError.code)", "error": "\(rpcError.message)",
    ])
    return rpcError
  }
}
