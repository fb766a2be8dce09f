/// Errors the CRI services raise. `CRIErrorMapping` turns these (and the
/// errors of the modules below) into gRPC status codes.
public enum CRIError: Error, Equatable, CustomStringConvertible {
  /// The RPC has no real implementation yet.
  case unimplemented(rpc: String)
  case notFound(String)
  case alreadyExists(String)
  case invalidArgument(String)
  case failedPrecondition(String)
  case `internal`(String)

  public var description: String {
    switch self {
    case .unimplemented(let rpc): "\(rpc) is not implemented yet by crio"
    case .notFound(let m), .alreadyExists(let m), .invalidArgument(let m), .failedPrecondition(let m),
      .internal(let m):
      m
    }
  }
}
