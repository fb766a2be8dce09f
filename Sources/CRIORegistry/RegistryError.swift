/// Why talking to a registry failed. Messages never contain credentials.
public enum RegistryError: Error, Equatable, CustomStringConvertible {
  /// The registry does not have this manifest or blob.
  case notFound(String)
  case unauthorized(registry: String, detail: String)
  case httpStatus(url: String, status: Int, detail: String)
  case digestMismatch(what: String, expected: String, actual: String)
  case sizeMismatch(what: String, expected: Int64, actual: Int64)
  case tooLarge(what: String, limit: Int)
  case unsupportedMediaType(String)
  case noMatchingPlatform(String)
  case invalidManifest(String)
  /// The registry could not be reached or the connection broke.
  case unreachable(url: String, detail: String)

  public var description: String {
    switch self {
    case .notFound(let what): "\(what): not found"
    case .unauthorized(let registry, let detail): "unauthorized to pull from \(registry): \(detail)"
    case .httpStatus(let url, let status, let detail): "\(url): HTTP \(status)\(detail.isEmpty ? "" : ": \(detail)")"
    case .digestMismatch(let what, let expected, let actual): "\(what): digest mismatch: expected \(expected), got \(actual)"
    case .sizeMismatch(let what, let expected, let actual): "\(what): size mismatch: expected \(expected) bytes, got \(actual)"
    case .tooLarge(let what, let limit): "\(what) is larger than \(limit) bytes"
    case .unsupportedMediaType(let type): "unsupported manifest media type \"\(type)\""
    case .noMatchingPlatform(let platform): "no image for platform \(platform) in the index"
    case .invalidManifest(let detail): "invalid manifest: \(detail)"
    case .unreachable(let url, let detail): "cannot reach \(url): \(detail)"
    }
  }

  /// Worth another attempt: the registry may answer next time.
  public var isTransient: Bool {
    switch self {
    case .unreachable: true
    case .httpStatus(_, let status, _): status == 429 || status >= 500
    default: false
    }
  }
}
