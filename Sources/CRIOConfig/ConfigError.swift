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
      "config file \(path): \(key) must be \(article(expected.rawValue)), found \(article(found))"
    case .invalidValue(let key, let value, let reason):
      "invalid value \"\(value)\" for \(key): \(reason)"
    }
  }
}

/// "a string", "an integer", "an array of strings".
private func article(_ noun: String) -> String {
  let vowel = noun.first.map { "aeiou".contains($0) } ?? false
  return (vowel ? "an " : "a ") + noun
}
