/// A content digest, `algorithm:hex`, as used by the OCI image spec.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible, LosslessStringConvertible {
  public let algorithm: String
  public let encoded: String

  public enum ParseError: Error, Equatable, CustomStringConvertible {
    case missingAlgorithm(String)
    case unsupportedAlgorithm(String)
    case invalidEncoding(String)

    public var description: String {
      switch self {
      case .missingAlgorithm(let s): "digest \"\(s)\" has no algorithm prefix"
      case .unsupportedAlgorithm(let a): "digest algorithm \"\(a)\" is not supported"
      case .invalidEncoding(let s): "digest \"\(s)\" is not valid hex of the right length"
      }
    }
  }

  private static let hexLengths = ["sha256": 64, "sha512": 128]

  public init(parsing string: String) throws {
    guard let colon = string.firstIndex(of: ":") else { throw ParseError.missingAlgorithm(string) }
    let algorithm = String(string[..<colon])
    let encoded = String(string[string.index(after: colon)...])
    guard let length = Self.hexLengths[algorithm] else { throw ParseError.unsupportedAlgorithm(algorithm) }
    guard encoded.utf8.count == length,
          encoded.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
    else { throw ParseError.invalidEncoding(string) }
    self.algorithm = algorithm
    self.encoded = encoded
  }

  public init?(_ description: String) {
    guard let d = try? Digest(parsing: description) else { return nil }
    self = d
  }

  public var description: String { "\(algorithm):\(encoded)" }

  public init(from decoder: any Decoder) throws {
    let string = try decoder.singleValueContainer().decode(String.self)
    do {
      try self.init(parsing: string)
    } catch {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
