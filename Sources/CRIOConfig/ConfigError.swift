/// Why a configuration could not be loaded. Each message names the file and
/// the key, so `crio` can exit with a one-line reason.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
  case unreadable(path: String, reason: String)
  case syntax(path: String, message: String)
  case wrongType(path: String, key: String, expected: ConfigValue.Kind, found: String)
  case invalidValue(key: String, value: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason):
      "cannot read config file \(path): \(reason)"
    case .syntax(let path, let message):
      "cannot parse config file \(path): \(message)"
    case .wrongType(let path, let key, let expected, let found):
      "config file \(path): \(key) must be a \(expected.rawValue), found a \(found)"
    case .invalidValue(let key, let value, let reason):
      "invalid value \"\(value)\" for \(key): \(reason)"
    }
  }
}
